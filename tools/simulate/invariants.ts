/**
 * The room's invariants, checked from what the visitors saw: pure functions over per-visitor
 * traces. Pass signatures are checked elsewhere (it needs the JWKS and is asynchronous) and
 * handed in as {@link PassCheck}s; everything else here reads the traces only.
 */
import { decodeJwt } from 'jose';
import { type TraceEvent, type VisitorTrace, visitorName } from './events.ts';

/** Where a visitor ended, as the traces tell it. */
export type Outcome =
  /** Got a pass. */
  | 'admitted'
  /** Closed for good on purpose while waiting. */
  | 'abandoned'
  /** Still in line when the run stopped, and heard from the room recently. */
  | 'waiting'
  /** Away longer than the room's grace, and so (rightly) given up by the room. */
  | 'expired'
  /** Told the room was off and sent straight in (no pass needed). */
  | 'opened'
  /** Never got a place (could not connect, or no `joined`). */
  | 'unjoined'
  /** The run stopped before this visitor's planned arrival. */
  | 'unstarted'
  /** Had a place and lost it: see {@link VisitorSummary.lostReason}. */
  | 'lost';

export interface PassSeen {
  t: number;
  pass: string;
  redirectUrl: string;
  /** Received on a recheck (a resume after admission). */
  recheck: boolean;
}

export type RecheckOutcome =
  | 'same'
  | 'different'
  | 'refused'
  | 'no-answer'
  | 'unreachable'
  | 'unfinished';

/** The facts of one trace that the checks and the report use. */
export interface VisitorSummary {
  index: number;
  name: string;
  returnPath: string;
  /** When the `join` that got the place was sent. */
  joinSentAt: number | null;
  /** When the first `joined` arrived. */
  joinedAt: number | null;
  sessionId: string | null;
  /** Every session id `joined` ever named for this visitor (one, normally). */
  sessionIds: string[];
  positions: { t: number; position: number; waiting: number }[];
  passes: PassSeen[];
  /** First `admitted` received (not on a recheck). */
  admittedAt: number | null;
  /** `iat` of the first pass, in seconds: the room's own stamp of the admission. */
  admittedIat: number | null;
  abandoned: boolean;
  /** The longest time without a connection between the place taken and leaving the line. */
  longestAbsenceMs: number;
  /** Whether the socket closed (for any reason) between `joined` and `admitted`. */
  disconnectedWhileWaiting: boolean;
  /** Last `joined` or `position` received while in line. */
  lastSeenAt: number | null;
  outcome: Outcome;
  lostReason: string | null;
  recheck: RecheckOutcome | null;
  /** Resume latencies: reconnect socket open -> `joined`. */
  resumeLatenciesMs: number[];
}

export interface SummaryOptions {
  /** When the run stopped (epoch ms). */
  stopAt: number;
  /** The room's abandon grace. */
  graceMs: number;
  /** A visitor still waiting at the stop must have heard from the room within this. */
  staleAfterMs: number;
}

export const DEFAULT_STALE_AFTER_MS = 45_000;

function iatOf(pass: string): number | null {
  try {
    const { iat } = decodeJwt(pass);
    return typeof iat === 'number' ? iat : null;
  } catch {
    return null;
  }
}

/** Reads one visitor's trace. */
export function summarize(trace: VisitorTrace, options: SummaryOptions): VisitorSummary {
  const { plan, events } = trace;
  let lastJoinSent: number | null = null;
  let joinSentAt: number | null = null;
  let joinedAt: number | null = null;
  const sessionIds: string[] = [];
  const positions: VisitorSummary['positions'] = [];
  const passes: PassSeen[] = [];
  let abandoned = false;
  let openedRoom = false;
  let inRecheck = false;
  let recheck: RecheckOutcome | null = null;
  let recheckOpened = false;
  let lastResume: 'resume' | 'recheck' | null = null;
  let invalidTicketAt: number | null = null;
  let gaveUp: string | null = null;
  let stopState: string | null = null;
  let lastSeenAt: number | null = null;
  let closedAt: number | null = null;
  let longestAbsenceMs = 0;
  let disconnectedWhileWaiting = false;
  let resumeOpenAt: number | null = null;
  const resumeLatenciesMs: number[] = [];
  const inLine = () => joinedAt !== null && passes.length === 0 && !abandoned;

  for (const e of events as readonly TraceEvent[]) {
    switch (e.k) {
      case 'dial':
        inRecheck = e.purpose === 'recheck';
        if (inRecheck && recheck === null) recheck = 'unfinished';
        resumeOpenAt = null;
        break;
      case 'open':
        if (inRecheck) recheckOpened = true;
        if (closedAt !== null && inLine()) {
          longestAbsenceMs = Math.max(longestAbsenceMs, e.t - closedAt);
        }
        closedAt = null;
        resumeOpenAt = e.t;
        break;
      case 'send':
        if (e.action === 'join') {
          lastJoinSent = e.t;
          lastResume = null;
        } else if (e.action === 'resume') {
          lastResume = inRecheck ? 'recheck' : 'resume';
        }
        break;
      case 'joined':
        if (!inRecheck) {
          if (joinedAt === null) {
            joinedAt = e.t;
            joinSentAt = lastJoinSent;
          } else if (lastResume === 'resume' && resumeOpenAt !== null) {
            resumeLatenciesMs.push(e.t - resumeOpenAt);
          }
          lastSeenAt = e.t;
        }
        resumeOpenAt = null;
        if (!sessionIds.includes(e.sessionId)) sessionIds.push(e.sessionId);
        break;
      case 'position':
        positions.push({ t: e.t, position: e.position, waiting: e.waiting });
        if (inLine()) lastSeenAt = e.t;
        break;
      case 'admitted':
        passes.push({ t: e.t, pass: e.pass, redirectUrl: e.redirectUrl, recheck: inRecheck });
        if (inRecheck) {
          const first = passes.find((p) => !p.recheck);
          recheck = first && first.pass === e.pass ? 'same' : 'different';
        }
        break;
      case 'open-room':
        openedRoom = true;
        break;
      case 'error':
        if (e.code === 'invalid_ticket') {
          if (inRecheck) recheck = 'refused';
          else if (invalidTicketAt === null) invalidTicketAt = e.t;
        }
        break;
      case 'close':
        if (inLine()) {
          disconnectedWhileWaiting = true;
          closedAt = e.t;
        }
        break;
      case 'abandon':
        abandoned = true;
        break;
      case 'give-up':
        if (inRecheck) {
          if (recheck === 'unfinished') recheck = recheckOpened ? 'no-answer' : 'unreachable';
        } else {
          gaveUp = e.reason;
        }
        break;
      case 'stop':
        stopState = e.state;
        break;
      case 'drop':
      case 'pong':
      case 'garbled':
      case 'socket-error':
        break;
    }
  }
  if (closedAt !== null && inLine()) {
    longestAbsenceMs = Math.max(longestAbsenceMs, options.stopAt - closedAt);
  }

  const firstPass = passes.find((p) => !p.recheck) ?? null;
  let outcome: Outcome;
  let lostReason: string | null = null;
  if (firstPass) outcome = 'admitted';
  else if (abandoned) outcome = 'abandoned';
  else if (openedRoom) outcome = 'opened';
  else if (joinedAt === null) outcome = stopState === 'scheduled' ? 'unstarted' : 'unjoined';
  else if (invalidTicketAt !== null) {
    if (longestAbsenceMs >= options.graceMs) outcome = 'expired';
    else {
      outcome = 'lost';
      lostReason = `resume answered invalid_ticket after ${(longestAbsenceMs / 1000).toFixed(1)} s away`;
    }
  } else if (gaveUp !== null) {
    outcome = 'lost';
    lostReason = `could not reconnect: ${gaveUp}`;
  } else if (stopState !== null) {
    const seenAgo = options.stopAt - (lastSeenAt ?? 0);
    if (seenAgo <= options.staleAfterMs) outcome = 'waiting';
    else {
      outcome = 'lost';
      lostReason = `still in line at the stop but nothing heard for ${(seenAgo / 1000).toFixed(0)} s`;
    }
  } else {
    outcome = 'lost';
    lostReason = 'the trace ends without an outcome';
  }

  return {
    index: plan.index,
    name: visitorName(plan.index),
    returnPath: plan.returnPath,
    joinSentAt,
    joinedAt,
    sessionId: sessionIds[0] ?? null,
    sessionIds,
    positions,
    passes,
    admittedAt: firstPass?.t ?? null,
    admittedIat: firstPass ? iatOf(firstPass.pass) : null,
    abandoned,
    longestAbsenceMs,
    disconnectedWhileWaiting,
    lastSeenAt,
    outcome,
    lostReason,
    recheck: stopState === 'rechecking' && recheck === 'unfinished' ? 'unfinished' : recheck,
    resumeLatenciesMs,
  };
}

export interface Violation {
  visitor: string;
  detail: string;
}

export interface InvariantResult {
  id: 1 | 2 | 3 | 4 | 5;
  name: string;
  ok: boolean;
  /** How many visitors broke it. */
  violations: number;
  /** A few of them, with what went wrong. */
  examples: Violation[];
}

/** The result of a pass check against the room's JWKS (signature, iss, aud, exp, typ, kid). */
export interface PassCheck {
  valid: boolean;
  reason: string | null;
}

export interface InvariantOptions extends SummaryOptions {
  /** Signature checks, by pass token. */
  passChecks: ReadonlyMap<string, PassCheck>;
  /**
   * A visitor ahead still waiting at the stop breaks FIFO only if someone behind was admitted at
   * least this long before the stop (time for the `admitted` ahead to arrive).
   */
  settleMarginMs: number;
  /** Examples kept per invariant. */
  maxExamples: number;
}

export const DEFAULT_SETTLE_MARGIN_MS = 10_000;

export interface InvariantReport {
  results: InvariantResult[];
  /**
   * The stricter FIFO reading, by receipt: B's `admitted` arrived before A's although A's
   * `joined` arrived before B sent `join`. Among visitors connected throughout only. Receipt
   * order on different sockets is not the server's order, so this is a warning, not a failure.
   */
  receiptOrderWarnings: number;
  /** The largest such inversion, in milliseconds. */
  receiptOrderMaxMs: number;
  receiptOrderExamples: Violation[];
  ok: boolean;
}

class Collector {
  count = 0;
  readonly examples: Violation[] = [];
  constructor(private readonly max: number) {}
  add(visitor: string, detail: string): void {
    this.count += 1;
    if (this.examples.length < this.max) this.examples.push({ visitor, detail });
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Invariant 1, FIFO. For visitors A and B where A's `joined` was received before B *sent* its
 * `join` (same machine clock), A must not be admitted after B: B's pass `iat` < A's pass `iat`
 * is a violation (same second is fine: `iat` has second resolution and one tick admits many).
 * A still waiting at the stop while such a B was admitted (more than the settle margin before
 * the stop) is a violation too. A is exempt when it abandoned on purpose, was away longer than
 * the grace, or was lost (that is invariant 4's finding).
 */
export function checkFifo(
  visitors: readonly VisitorSummary[],
  options: Pick<InvariantOptions, 'stopAt' | 'settleMarginMs' | 'maxExamples'>,
): { result: Collector; warnings: Collector; maxInversionMs: number } {
  const result = new Collector(options.maxExamples);
  const warnings = new Collector(options.maxExamples);
  let maxInversionMs = 0;
  const ahead = visitors
    .filter(
      (v) =>
        v.joinedAt !== null &&
        ((v.outcome === 'admitted' && v.admittedIat !== null) || v.outcome === 'waiting'),
    )
    .sort((a, b) => (a.joinedAt as number) - (b.joinedAt as number));
  const behind = visitors
    .filter((v) => v.outcome === 'admitted' && v.joinSentAt !== null && v.admittedIat !== null)
    .sort((a, b) => (a.joinSentAt as number) - (b.joinSentAt as number));

  let next = 0;
  let latest: VisitorSummary | null = null; // admitted ahead with the largest iat so far
  let pending: VisitorSummary | null = null; // first one ahead still waiting at the stop
  let latestReceipt: VisitorSummary | null = null; // connected-throughout, latest `admitted`
  for (const b of behind) {
    const sentAt = b.joinSentAt as number;
    while (next < ahead.length && ((ahead[next] as VisitorSummary).joinedAt as number) < sentAt) {
      const a = ahead[next] as VisitorSummary;
      next += 1;
      if (a.outcome === 'waiting') {
        pending ??= a;
        continue;
      }
      if (latest === null || (a.admittedIat as number) > (latest.admittedIat as number)) latest = a;
      if (
        !a.disconnectedWhileWaiting &&
        (latestReceipt === null || (a.admittedAt as number) > (latestReceipt.admittedAt as number))
      ) {
        latestReceipt = a;
      }
    }
    const bIat = b.admittedIat as number;
    if (latest !== null && (latest.admittedIat as number) > bIat) {
      result.add(
        b.name,
        `${b.name} (sent join ${seconds(sentAt - (latest.joinedAt as number))} after ${latest.name} had joined) was admitted at iat ${bIat}, before ${latest.name} at iat ${latest.admittedIat}`,
      );
    } else if (pending !== null && (bIat + 1) * 1000 + options.settleMarginMs < options.stopAt) {
      result.add(
        b.name,
        `${b.name} was admitted at iat ${bIat} while ${pending.name}, joined ahead of it, was still waiting at the stop`,
      );
    }
    if (
      !b.disconnectedWhileWaiting &&
      latestReceipt !== null &&
      (latestReceipt.admittedAt as number) > (b.admittedAt as number)
    ) {
      maxInversionMs = Math.max(
        maxInversionMs,
        (latestReceipt.admittedAt as number) - (b.admittedAt as number),
      );
      warnings.add(
        b.name,
        `${b.name} received admitted ${((latestReceipt.admittedAt as number) - (b.admittedAt as number)).toFixed(1)} ms before ${latestReceipt.name}, who had joined ahead of it`,
      );
    }
  }
  return { result, warnings, maxInversionMs };
}

/** Invariant 2: a visitor's `position` never rises (across reconnects), and is in range. */
export function checkPositions(
  visitors: readonly VisitorSummary[],
  maxExamples: number,
): Collector {
  const result = new Collector(maxExamples);
  for (const v of visitors) {
    let problem: string | null = null;
    v.positions.forEach((p, i) => {
      if (problem) return;
      const before = v.positions[i - 1];
      if (p.position < 1 || !Number.isInteger(p.position)) {
        problem = `position ${p.position} is not a place in line`;
      } else if (p.position > p.waiting) {
        problem = `position ${p.position} with only ${p.waiting} waiting`;
      } else if (before && p.position > before.position) {
        problem = `position rose from ${before.position} to ${p.position} (${seconds(p.t - before.t)} later)`;
      }
    });
    if (problem) result.add(v.name, `${v.name}: ${problem}`);
  }
  return result;
}

/**
 * Invariant 3: one place, one pass. A visitor never gets two different passes, a resume after
 * admission hands back the same pass, a resume keeps the session id, and no two visitors share
 * a session or a pass.
 */
export function checkSingleAdmission(
  visitors: readonly VisitorSummary[],
  maxExamples: number,
): Collector {
  const result = new Collector(maxExamples);
  const sessionOwner = new Map<string, string>();
  const passOwner = new Map<string, string>();
  for (const v of visitors) {
    const problems: string[] = [];
    const distinct = [...new Set(v.passes.map((p) => p.pass))];
    if (distinct.length > 1) problems.push(`got ${distinct.length} different passes`);
    if (v.recheck === 'different') problems.push('a resume after admission returned another pass');
    if (v.recheck === 'refused')
      problems.push('a resume after admission was refused (invalid_ticket)');
    if (v.recheck === 'no-answer') problems.push('a resume after admission got no pass');
    if (v.sessionIds.length > 1) problems.push(`joined named ${v.sessionIds.length} sessions`);
    for (const id of v.sessionIds) {
      const owner = sessionOwner.get(id);
      if (owner !== undefined && owner !== v.name)
        problems.push(`shares session ${id} with ${owner}`);
      sessionOwner.set(id, v.name);
    }
    for (const pass of distinct) {
      const owner = passOwner.get(pass);
      if (owner !== undefined && owner !== v.name) problems.push(`got the same pass as ${owner}`);
      passOwner.set(pass, v.name);
    }
    if (problems.length > 0) result.add(v.name, `${v.name}: ${problems.join('; ')}`);
  }
  return result;
}

/** Invariant 4: nobody with a place loses it (see {@link Outcome}). */
export function checkNoneLost(visitors: readonly VisitorSummary[], maxExamples: number): Collector {
  const result = new Collector(maxExamples);
  for (const v of visitors) {
    if (v.outcome === 'lost') result.add(v.name, `${v.name} lost: ${v.lostReason}`);
  }
  return result;
}

/**
 * Invariant 5: every pass verifies against the room's JWKS, names the visitor's session in
 * `sub`, and comes with a redirect to the visitor's own return path carrying that pass.
 */
export function checkPasses(
  visitors: readonly VisitorSummary[],
  passChecks: ReadonlyMap<string, PassCheck>,
  maxExamples: number,
): Collector {
  const result = new Collector(maxExamples);
  for (const v of visitors) {
    const problems = new Set<string>();
    for (const seen of v.passes) {
      const check = passChecks.get(seen.pass);
      if (!check) problems.add('pass not checked against the JWKS');
      else if (!check.valid) problems.add(`pass does not verify: ${check.reason ?? 'invalid'}`);
      let sub: unknown;
      try {
        sub = decodeJwt(seen.pass).sub;
      } catch {
        sub = undefined;
      }
      if (sub !== v.sessionId)
        problems.add(`pass sub "${String(sub)}" is not the session "${v.sessionId}"`);
      if (!URL.canParse(seen.redirectUrl)) {
        problems.add('redirectUrl is not a URL');
      } else {
        const url = new URL(seen.redirectUrl);
        if (url.pathname !== v.returnPath) {
          problems.add(`redirectUrl path ${url.pathname} is not ${v.returnPath}`);
        }
        if (url.searchParams.get('wr_pass') !== seen.pass) {
          problems.add('redirectUrl does not carry the pass in wr_pass');
        }
      }
    }
    if (problems.size > 0) result.add(v.name, `${v.name}: ${[...problems].join('; ')}`);
  }
  return result;
}

export const INVARIANT_NAMES = {
  1: 'FIFO: whoever was told they joined first is admitted no later',
  2: 'a position never rises (across reconnects)',
  3: 'admitted at most once; a resume after admission returns the same pass',
  4: 'nobody lost: admitted, abandoned on purpose, or still waiting at the stop',
  5: 'every pass verifies against the JWKS, names the session, and redirects to the return path',
} as const;

/** Runs every check over the summaries. */
export function checkInvariants(
  visitors: readonly VisitorSummary[],
  options: Pick<InvariantOptions, 'stopAt' | 'settleMarginMs' | 'maxExamples' | 'passChecks'>,
): InvariantReport {
  const fifo = checkFifo(visitors, options);
  const collected: [InvariantResult['id'], Collector][] = [
    [1, fifo.result],
    [2, checkPositions(visitors, options.maxExamples)],
    [3, checkSingleAdmission(visitors, options.maxExamples)],
    [4, checkNoneLost(visitors, options.maxExamples)],
    [5, checkPasses(visitors, options.passChecks, options.maxExamples)],
  ];
  const results = collected.map(([id, c]) => ({
    id,
    name: INVARIANT_NAMES[id],
    ok: c.count === 0,
    violations: c.count,
    examples: c.examples,
  }));
  return {
    results,
    receiptOrderWarnings: fifo.warnings.count,
    receiptOrderMaxMs: Math.round(fifo.maxInversionMs * 10) / 10,
    receiptOrderExamples: fifo.warnings.examples,
    ok: results.every((r) => r.ok),
  };
}

/** Summaries and invariants of a set of traces in one call (what tests and the report use). */
export function evaluateTraces(
  traces: readonly VisitorTrace[],
  options: Partial<InvariantOptions> & Pick<InvariantOptions, 'stopAt' | 'passChecks'>,
): { visitors: VisitorSummary[]; invariants: InvariantReport } {
  const full = {
    graceMs: 120_000,
    staleAfterMs: DEFAULT_STALE_AFTER_MS,
    settleMarginMs: DEFAULT_SETTLE_MARGIN_MS,
    maxExamples: 5,
    ...options,
  };
  const visitors = traces.map((trace) => summarize(trace, full));
  return { visitors, invariants: checkInvariants(visitors, full) };
}
