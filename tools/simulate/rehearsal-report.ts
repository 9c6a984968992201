/**
 * The "Rehearsal" section of the report (`--rehearsal`): how the launch went for the crowd, read
 * from the visitors' traces and the room's AWS usage: joins refused and retried, time to a
 * place, admissions against the configured rate, the room's promises kept, AWS errors by kind.
 */
import { describeAwsFaults } from '../../local/aws-local/faults.ts';
import type { AwsUsage } from '../../local/aws-local/usage.ts';
import { RECEIVED_KINDS, type TraceEvent, type VisitorTrace, visitorName } from './events.ts';
import type { InvariantReport } from './invariants.ts';
import { type Percentiles, percentiles } from './percentiles.ts';

/** A promise is kept when the room is heard from within `nextUpdateSeconds` plus this. */
export const PROMISE_GRACE_MS = 2000;

/** The room the rehearsal started, as the report tells it. */
export interface RehearsalRoom {
  runtime: 'start:aws-local';
  wsUrl: string;
  /** Where the room's output went. */
  logFile: string;
  /** `WR_AWS_FAULTS` as given to the room. */
  faultsRequested: string;
  /** `WR_ADMIT_PER_MINUTE` of the room. */
  ratePerMinute: number;
  /** How long the room took to start (s). */
  startupSeconds: number;
}

/** Counts by kind, largest first. */
export type Kinds = Record<string, number>;

export interface PromiseReport {
  /** Positions heard that carried a promise (`nextUpdateSeconds` > 0). */
  positions: number;
  /** The room was heard from again within the promise plus the grace. */
  kept: number;
  /** It was not, with the visitor still listening and the run still going. */
  broken: number;
  /**
   * Neither: the visitor left the socket on purpose (churn, abandonment) or the run ended
   * before the promise fell due, with nothing heard meanwhile. kept + broken + unjudged =
   * positions.
   */
  unjudged: number;
  unjudgedLeftOnPurpose: number;
  unjudgedRunEnded: number;
  /** Positions without a promise (`nextUpdateSeconds` absent or 0): not counted above. */
  withoutPromise: number;
  graceMs: number;
  /** How late the latest broken promise was heard from (null: none broken or never heard). */
  worstLateMs: number | null;
  /** Broken promises never followed by any word from the room. */
  brokenNeverHeard: number;
  examples: { visitor: string; detail: string }[];
}

export interface RehearsalReport {
  room: RehearsalRoom;
  /** The faults the room reported on (its usage), else as requested. */
  faultsOn: string;
  crowd: { users: number; burst: number; rampSeconds: number; churn: number };
  joins: {
    /** `join` messages sent (first tries and retries). */
    sent: number;
    /** Visitors that sent `join` more than once, or dialled again before holding a place. */
    visitorsRetried: number;
    /** Errors answering a `join`, by code (`apigw: ...` is API Gateway's own error frame). */
    refused: Kinds;
    /** Errors answering a `resume`, by code. */
    resumesRefused: Kinds;
    /** WebSocket handshakes refused, by HTTP status (API Gateway's 429 past its connect rate). */
    handshakesRefused: Kinds;
    /** Dials again before a place was held, by why (`retry` events for a `join`). */
    retried: Kinds;
    /** Dials again to take a place back, by why (`retry` events for a `resume`). */
    resumesRetried: Kinds;
    /** Visitors that gave up (no place or no connection after every attempt). */
    gaveUp: number;
  };
  /** From arrival (first dial) to the first `joined`, every visitor that got one. */
  timeToJoinedMs: Percentiles;
  /** From arrival to the first `position`. */
  timeToFirstPositionMs: Percentiles;
  /** The same for the burst alone (the visitors who came all at once). */
  burstTimeToJoinedMs: Percentiles;
  burstTimeToFirstPositionMs: Percentiles;
  admissions: {
    configuredPerMinute: number;
    /** As the room's admin status said last (null: not polled). */
    roomPerMinute: number | null;
    /** Admissions over the span of pass `iat`s (see the report's throughput). */
    observedPerMinute: number | null;
    peakInAMinute: number;
    /** observed / configured (null: nothing observed or a rate of 0). */
    ratio: number | null;
    admitted: number;
  };
  promises: PromiseReport;
  /**
   * AWS's side of the run (null: the usage could not be read): how often each fault struck
   * (`faults.struck` over the run: throttles, cold starts, skewed containers...) and the
   * invocations that failed, by function (`lambda.<function>.errors`).
   */
  awsErrors: AwsErrors | null;
  invariants: { held: number; of: number; broken: number[] };
}

export interface RehearsalInput {
  room: RehearsalRoom;
  traces: readonly VisitorTrace[];
  burst: number;
  rampSeconds: number;
  churn: number;
  stopAt: number;
  invariants: InvariantReport;
  /** The room's usage over the run (`usageBetween`), or null when it could not be read. */
  usage: AwsUsage | null;
  roomPerMinute: number | null;
  observedPerMinute: number | null;
  peakInAMinute: number;
  admitted: number;
}

const bump = (kinds: Kinds, kind: string, by = 1) => {
  kinds[kind] = (kinds[kind] ?? 0) + by;
};

const sorted = (kinds: Kinds): Kinds =>
  Object.fromEntries(Object.entries(kinds).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));

/** `Unexpected server response: 429` (the `ws` client's words for a refused handshake). */
const HANDSHAKE_REFUSED = /Unexpected server response: (\d{3})/;

/**
 * Judges every promise a visitor heard: each `position` says the room will be heard from again
 * within `next` seconds.
 */
export function judgePromises(
  traces: readonly VisitorTrace[],
  stopAt: number,
  graceMs = PROMISE_GRACE_MS,
  maxExamples = 5,
): PromiseReport {
  const report: PromiseReport = {
    positions: 0,
    kept: 0,
    broken: 0,
    unjudged: 0,
    unjudgedLeftOnPurpose: 0,
    unjudgedRunEnded: 0,
    withoutPromise: 0,
    graceMs,
    worstLateMs: null,
    brokenNeverHeard: 0,
    examples: [],
  };
  for (const trace of traces) {
    const events = trace.events;
    for (let i = 0; i < events.length; i += 1) {
      const e = events[i] as TraceEvent;
      if (e.k !== 'position') continue;
      if (e.next === undefined || e.next <= 0) {
        report.withoutPromise += 1;
        continue;
      }
      report.positions += 1;
      const due = e.t + e.next * 1000 + graceMs;
      let heardAt: number | null = null;
      let leftAt: number | null = null;
      for (let j = i + 1; j < events.length; j += 1) {
        const later = events[j] as TraceEvent;
        if (RECEIVED_KINDS.has(later.k)) {
          heardAt = later.t;
          break;
        }
        if (leftAt === null && (later.k === 'drop' || later.k === 'abandon')) leftAt = later.t;
      }
      if (heardAt !== null && heardAt <= due) {
        report.kept += 1;
      } else if (leftAt !== null && leftAt <= due) {
        report.unjudged += 1;
        report.unjudgedLeftOnPurpose += 1;
      } else if (stopAt <= due) {
        report.unjudged += 1;
        report.unjudgedRunEnded += 1;
      } else {
        report.broken += 1;
        if (heardAt === null) report.brokenNeverHeard += 1;
        else report.worstLateMs = Math.max(report.worstLateMs ?? 0, Math.round(heardAt - due));
        if (report.examples.length < maxExamples) {
          report.examples.push({
            visitor: visitorName(trace.plan.index),
            detail: `promised news within ${e.next} s at position ${e.position}; ${
              heardAt === null
                ? 'heard nothing more'
                : `heard again ${((heardAt - e.t) / 1000).toFixed(1)} s later`
            }`,
          });
        }
      }
    }
  }
  return report;
}

export interface AwsErrors {
  /** Every fault that struck, by the stand-ins' name for it. */
  faultsStruck: Kinds;
  /** Failed invocations (and timeouts or throttles, if counted apart), by function. */
  lambdaErrors: Kinds;
  /** All of the above. */
  total: number;
}

/** The faults that struck and Lambda's errors, by kind, in a usage over the run. */
export function awsErrorsOf(usage: AwsUsage): AwsErrors {
  const faultsStruck: Kinds = {};
  for (const [kind, count] of Object.entries(usage.faults?.struck ?? {})) {
    if (count > 0) bump(faultsStruck, kind, count);
  }
  const lambdaErrors: Kinds = {};
  for (const [fn, lambda] of Object.entries(usage.lambda)) {
    // `errors` always; a timeout or throttle count too, should the stand-in keep one apart.
    for (const [field, value] of Object.entries(lambda as unknown as Record<string, unknown>)) {
      if (typeof value !== 'number' || value <= 0) continue;
      if (field === 'errors' || /timeout|throttl/i.test(field)) {
        bump(lambdaErrors, `${fn}.${field}`, value);
      }
    }
  }
  const sum = (kinds: Kinds) => Object.values(kinds).reduce((a, b) => a + b, 0);
  return {
    faultsStruck: sorted(faultsStruck),
    lambdaErrors: sorted(lambdaErrors),
    total: sum(faultsStruck) + sum(lambdaErrors),
  };
}

/** Builds the rehearsal section. */
export function buildRehearsalReport(input: RehearsalInput): RehearsalReport {
  const { traces, burst } = input;
  const refused: Kinds = {};
  const resumesRefused: Kinds = {};
  const handshakesRefused: Kinds = {};
  const retried: Kinds = {};
  const resumesRetried: Kinds = {};
  let sent = 0;
  let visitorsRetried = 0;
  let gaveUp = 0;
  const toJoined: number[] = [];
  const toPosition: number[] = [];
  const burstToJoined: number[] = [];
  const burstToPosition: number[] = [];
  for (const trace of traces) {
    let arrivedAt: number | null = null;
    let joinedAt: number | null = null;
    let positionAt: number | null = null;
    let awaiting: 'join' | 'resume' | null = null;
    let inRecheck = false;
    let joinsSent = 0;
    let retriedBeforePlace = false;
    for (const e of trace.events) {
      switch (e.k) {
        case 'dial':
          arrivedAt ??= e.t;
          inRecheck = e.purpose === 'recheck';
          awaiting = null;
          break;
        case 'send':
          if (e.action === 'join') {
            sent += 1;
            joinsSent += 1;
            awaiting = 'join';
          } else if (e.action === 'resume') {
            // A recheck after admission is the report's own check, not the crowd's.
            awaiting = inRecheck ? null : 'resume';
          }
          break;
        case 'joined':
          joinedAt ??= e.t;
          awaiting = null;
          break;
        case 'position':
          positionAt ??= e.t;
          break;
        case 'error':
          if (awaiting === 'join') bump(refused, e.code);
          else if (awaiting === 'resume') bump(resumesRefused, e.code);
          break;
        case 'garbled':
          if (awaiting === 'join') bump(refused, 'garbled');
          else if (awaiting === 'resume') bump(resumesRefused, 'garbled');
          break;
        case 'socket-error': {
          const status = HANDSHAKE_REFUSED.exec(e.message)?.[1];
          if (status) bump(handshakesRefused, status);
          break;
        }
        case 'retry':
          if (e.purpose === 'join') {
            bump(retried, e.reason);
            retriedBeforePlace = true;
          } else if (e.purpose === 'resume') {
            bump(resumesRetried, e.reason);
          }
          break;
        case 'give-up':
          if (!inRecheck) gaveUp += 1;
          break;
        default:
          break;
      }
    }
    if (retriedBeforePlace || joinsSent > 1) visitorsRetried += 1;
    const inBurst = trace.plan.index < burst;
    if (arrivedAt !== null && joinedAt !== null) {
      toJoined.push(joinedAt - arrivedAt);
      if (inBurst) burstToJoined.push(joinedAt - arrivedAt);
    }
    if (arrivedAt !== null && positionAt !== null) {
      toPosition.push(positionAt - arrivedAt);
      if (inBurst) burstToPosition.push(positionAt - arrivedAt);
    }
  }
  const configured = input.room.ratePerMinute;
  const on = input.usage?.faults?.on;
  return {
    room: input.room,
    faultsOn: on ? describeAwsFaults(on) : input.room.faultsRequested || 'none',
    crowd: {
      users: traces.length,
      burst,
      rampSeconds: input.rampSeconds,
      churn: input.churn,
    },
    joins: {
      sent,
      visitorsRetried,
      refused: sorted(refused),
      resumesRefused: sorted(resumesRefused),
      handshakesRefused: sorted(handshakesRefused),
      retried: sorted(retried),
      resumesRetried: sorted(resumesRetried),
      gaveUp,
    },
    timeToJoinedMs: percentiles(toJoined),
    timeToFirstPositionMs: percentiles(toPosition),
    burstTimeToJoinedMs: percentiles(burstToJoined),
    burstTimeToFirstPositionMs: percentiles(burstToPosition),
    admissions: {
      configuredPerMinute: configured,
      roomPerMinute: input.roomPerMinute,
      observedPerMinute: input.observedPerMinute,
      peakInAMinute: input.peakInAMinute,
      ratio:
        input.observedPerMinute === null || configured <= 0
          ? null
          : Math.round((input.observedPerMinute / configured) * 100) / 100,
      admitted: input.admitted,
    },
    promises: judgePromises(traces, input.stopAt),
    awsErrors: input.usage ? awsErrorsOf(input.usage) : null,
    invariants: {
      held: input.invariants.results.filter((r) => r.ok).length,
      of: input.invariants.results.length,
      broken: input.invariants.results.filter((r) => !r.ok).map((r) => r.id),
    },
  };
}

const list = (kinds: Kinds) => {
  const entries = Object.entries(kinds);
  return entries.length === 0 ? 'none' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
};

const ms = (x: number | null) =>
  x === null ? '-' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;

const percentileLine = (name: string, p: Percentiles) =>
  `  ${name.padEnd(30)} n=${String(p.count).padEnd(7)} p50 ${ms(p.p50).padEnd(9)} p90 ${ms(p.p90).padEnd(9)} p99 ${ms(p.p99).padEnd(9)} max ${ms(p.max)}`;

const count = (x: number) => x.toLocaleString('en-US');

/** The rehearsal section of the text report. */
export function formatRehearsal(r: RehearsalReport): string[] {
  const { joins, admissions: a, promises: p } = r;
  const lines = [
    `Rehearsal (${r.room.runtime} at ${r.room.wsUrl}, started in ${r.room.startupSeconds} s; room log: ${r.room.logFile})`,
    `  faults on: ${r.faultsOn}`,
    `  crowd: ${count(r.crowd.users)} visitors, ${count(r.crowd.burst)} at once, the rest over ${r.crowd.rampSeconds} s; churn ${r.crowd.churn}`,
    `  joins: ${count(joins.sent)} sent; ${count(joins.visitorsRetried)} visitors tried more than once; ${joins.gaveUp} gave up`,
    `    refused: ${list(joins.refused)}; handshakes refused (HTTP status): ${list(joins.handshakesRefused)}`,
    `    retried: ${list(joins.retried)}`,
    `  resumes refused: ${list(joins.resumesRefused)}; retried: ${list(joins.resumesRetried)}`,
    percentileLine('arrival -> joined', r.timeToJoinedMs),
    percentileLine('arrival -> first position', r.timeToFirstPositionMs),
    percentileLine('  burst: arrival -> joined', r.burstTimeToJoinedMs),
    percentileLine('  burst: -> first position', r.burstTimeToFirstPositionMs),
    `  admissions: ${a.observedPerMinute === null ? '-' : count(a.observedPerMinute)}/min observed (peak ${count(a.peakInAMinute)} in any 60 s) against ${count(a.configuredPerMinute)}/min configured${a.ratio === null ? '' : ` (${Math.round(a.ratio * 100)} %)`}${a.roomPerMinute !== null && a.roomPerMinute !== a.configuredPerMinute ? `; the room said ${count(a.roomPerMinute)}/min` : ''}; ${count(a.admitted)} admitted`,
    `  promises (nextUpdateSeconds + ${p.graceMs / 1000} s): ${count(p.positions)} positions, kept ${count(p.kept)}, broken ${count(p.broken)}${p.broken > 0 ? ` (${p.brokenNeverHeard} never heard from again${p.worstLateMs === null ? '' : `, worst ${ms(p.worstLateMs)} late`})` : ''}, unjudged ${count(p.unjudged)} (left on purpose ${p.unjudgedLeftOnPurpose}, run ended ${p.unjudgedRunEnded})`,
    ...p.examples.map((e) => `         ${e.visitor}: ${e.detail}`),
    r.awsErrors === null
      ? '  AWS: usage not read'
      : `  AWS: faults struck ${list(r.awsErrors.faultsStruck)}; Lambda errors ${list(r.awsErrors.lambdaErrors)}`,
    `  invariants: ${r.invariants.broken.length === 0 ? `all ${r.invariants.of} held` : `BROKEN ${r.invariants.broken.join(', ')} (${r.invariants.held} of ${r.invariants.of} held)`}`,
  ];
  return lines;
}
