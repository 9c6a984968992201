/**
 * The room's invariants, checked from what the visitors saw: pure functions over per-visitor
 * traces. Pass signatures are checked elsewhere (it needs the JWKS and is asynchronous) and
 * handed in as {@link PassCheck}s; everything else here reads the traces only.
 */
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { type ReplayResult, type TraceEvent, type VisitorTrace, visitorName } from './events.ts';

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
  positions: { t: number; position: number; waiting: number; drawn: boolean }[];
  /** `prequeue` messages heard (`opensAt` in epoch seconds), each with its commitment. */
  prequeues: { t: number; opensAt: number; waiting: number; commitment: string | null }[];
  /** The draws named by drawn positions (normally one). */
  draws: { t: number; seed: string; commitment: string }[];
  /** Proof-of-work challenges heard. */
  challenges: number;
  /** Proofs of work solved (or failed), with the time each took. */
  solves: { ms: number; queuedMs: number; ok: boolean }[];
  /** `invalid_proof` answers to this visitor's own joins. */
  invalidProofs: number;
  /** What the room said to the planned replay of a spent proof (null: none made). */
  replay: ReplayResult | null;
  /** Whether the plan had this visitor replay the proof that took its place. */
  replayPlanned: boolean;
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
  /** The first `join` sent for the place (a retried join with the same key continues it). */
  let firstJoinSent: number | null = null;
  let joinSentAt: number | null = null;
  let joinedAt: number | null = null;
  const sessionIds: string[] = [];
  const positions: VisitorSummary['positions'] = [];
  const prequeues: VisitorSummary['prequeues'] = [];
  const draws: VisitorSummary['draws'] = [];
  const solves: VisitorSummary['solves'] = [];
  let challenges = 0;
  let invalidProofs = 0;
  let replay: ReplayResult | null = null;
  let commitment: string | null = null;
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
          // The place may be made by the first join of its key: a join sent again after its
          // answer was lost continues it (`joinKey`), so the first send is when it may begin.
          if (joinedAt === null) firstJoinSent ??= e.t;
          lastResume = null;
        } else if (e.action === 'resume') {
          lastResume = inRecheck ? 'recheck' : 'resume';
        }
        break;
      case 'joined':
        if (!inRecheck) {
          if (joinedAt === null) {
            joinedAt = e.t;
            joinSentAt = firstJoinSent;
          } else if (lastResume === 'resume' && resumeOpenAt !== null) {
            resumeLatenciesMs.push(e.t - resumeOpenAt);
          }
          lastSeenAt = e.t;
        }
        resumeOpenAt = null;
        if (!sessionIds.includes(e.sessionId)) sessionIds.push(e.sessionId);
        break;
      case 'position':
        positions.push({ t: e.t, position: e.position, waiting: e.waiting, drawn: !!e.drawn });
        if (inLine()) lastSeenAt = e.t;
        break;
      case 'prequeue':
        commitment = e.commitment ?? commitment;
        prequeues.push({ t: e.t, opensAt: e.opensAt, waiting: e.waiting, commitment });
        if (inLine()) lastSeenAt = e.t;
        break;
      case 'draw':
        draws.push({ t: e.t, seed: e.seed, commitment: e.commitment });
        break;
      case 'challenge':
        challenges += 1;
        break;
      case 'solved':
        solves.push({ ms: e.ms, queuedMs: e.queuedMs, ok: e.ok });
        break;
      case 'replay':
        replay = e.result;
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
        if (e.code === 'invalid_proof') invalidProofs += 1;
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
      case 'retry':
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
    prequeues,
    draws,
    challenges,
    solves,
    invalidProofs,
    replay,
    replayPlanned: Boolean(plan.replay),
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
  id: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
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
  /** Members of a draw: ordered by it among themselves, so exempt from arrival order there. */
  drawn: ReadonlySet<VisitorSummary> = new Set(),
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

  interface Ahead {
    /** Admitted ahead with the largest iat so far. */
    latest: VisitorSummary | null;
    /** First one ahead still waiting at the stop. */
    pending: VisitorSummary | null;
    /** Connected throughout, with the latest `admitted`. */
    latestReceipt: VisitorSummary | null;
  }
  const everyone: Ahead = { latest: null, pending: null, latestReceipt: null };
  // Those ahead outside the draw: what a member of the draw is compared with.
  const undrawn: Ahead = { latest: null, pending: null, latestReceipt: null };
  const note = (track: Ahead, a: VisitorSummary) => {
    if (a.outcome === 'waiting') {
      track.pending ??= a;
      return;
    }
    if (track.latest === null || (a.admittedIat as number) > (track.latest.admittedIat as number))
      track.latest = a;
    if (
      !a.disconnectedWhileWaiting &&
      (track.latestReceipt === null ||
        (a.admittedAt as number) > (track.latestReceipt.admittedAt as number))
    ) {
      track.latestReceipt = a;
    }
  };
  let next = 0;
  for (const b of behind) {
    const sentAt = b.joinSentAt as number;
    while (next < ahead.length && ((ahead[next] as VisitorSummary).joinedAt as number) < sentAt) {
      const a = ahead[next] as VisitorSummary;
      next += 1;
      note(everyone, a);
      if (!drawn.has(a)) note(undrawn, a);
    }
    const { latest, pending, latestReceipt } = drawn.has(b) ? undrawn : everyone;
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
  1: 'FIFO: whoever was told they joined first is admitted no later (the drawn pre-queue by its draw)',
  2: 'a position never rises (across reconnects)',
  3: 'admitted at most once; a resume after admission returns the same pass',
  4: 'nobody lost: admitted, abandoned on purpose, or still waiting at the stop',
  5: 'every pass verifies against the JWKS, names the session, and redirects to the return path',
  6: 'before the opening nobody is admitted or told a position, only prequeue',
  7: 'one commitment for the draw, and the seed told later hashes to it',
  8: 'the pre-queue is admitted in the order the seed gives, ahead of later joins, with exact first positions, and keeps its membership across reconnects',
  9: 'every proof of work is accepted once: no invalid_proof, and a replayed proof refused',
} as const;

/**
 * When the room opened, as far as the simulator knows it: within `[lo, hi]` (epoch ms). Exact
 * when the simulator scheduled it; else from the `opensAt` of the last `prequeue` heard, which
 * the room rounds up to whole seconds.
 */
export interface Opening {
  lo: number;
  hi: number;
}

/** The opening: the one scheduled (`known`, epoch ms), or the last one a visitor was told. */
export function openingOf(
  visitors: readonly VisitorSummary[],
  known: number | null = null,
): Opening | null {
  if (known !== null) return { lo: known, hi: known };
  let last: { t: number; opensAt: number } | null = null;
  for (const v of visitors) {
    for (const p of v.prequeues) if (last === null || p.t > last.t) last = p;
  }
  return last === null ? null : { lo: last.opensAt * 1000 - 999, hi: last.opensAt * 1000 };
}

/**
 * Where a visitor stands in a draw: a `member` of the pre-queue (told it joined before the
 * opening, and heard `prequeue`), a `later` join (sent its `join` after the opening), or, for a
 * join that crossed the opening, what the room's positions say (drawn or not); `unknown` when
 * nothing tells.
 */
export type DrawRole = 'member' | 'later' | 'unknown';

export function drawRoleOf(v: VisitorSummary, opening: Opening): DrawRole {
  if (v.joinedAt === null) return 'unknown';
  if (v.joinedAt < opening.lo && v.prequeues.length > 0) return 'member';
  if (v.joinSentAt !== null && v.joinSentAt >= opening.hi) return 'later';
  if (v.positions.some((p) => p.drawn)) return 'member';
  return v.positions.length > 0 ? 'later' : 'unknown';
}

/** The pre-queue's members of a run (empty without an opening). */
export function drawMembers(
  visitors: readonly VisitorSummary[],
  opening: Opening | null,
): Set<VisitorSummary> {
  return new Set(opening ? visitors.filter((v) => drawRoleOf(v, opening) === 'member') : []);
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The draw as the visitors heard it: the commitment(s) before, the seed(s) after. */
export interface DrawHeard {
  commitments: string[];
  seeds: string[];
}

export function drawHeard(visitors: readonly VisitorSummary[]): DrawHeard {
  const commitments = new Set<string>();
  const seeds = new Set<string>();
  for (const v of visitors) {
    for (const p of v.prequeues) if (p.commitment !== null) commitments.add(p.commitment);
    for (const d of v.draws) seeds.add(d.seed);
  }
  return { commitments: [...commitments], seeds: [...seeds] };
}

/**
 * Invariant 6: before the opening the room only says `prequeue`: no `position` and no
 * `admitted` arrives before it (nor a pass stamped in an earlier second). Without an opening
 * (no visitor heard `prequeue` and none was scheduled) the run had no pre-queue at all.
 */
export function checkBeforeOpening(
  visitors: readonly VisitorSummary[],
  opening: Opening | null,
  maxExamples: number,
): Collector {
  const result = new Collector(maxExamples);
  if (opening === null) {
    result.add('-', 'no visitor heard prequeue: the room had no scheduled opening');
    return result;
  }
  for (const v of visitors) {
    const problems: string[] = [];
    const early = v.positions.find((p) => p.t < opening.lo);
    if (early) {
      problems.push(
        `told position ${early.position} ${seconds(opening.lo - early.t)} before the opening`,
      );
    }
    const pass = v.passes.find((p) => !p.recheck);
    if (pass && pass.t < opening.lo) {
      problems.push(`admitted ${seconds(opening.lo - pass.t)} before the opening`);
    } else if (v.admittedIat !== null && (v.admittedIat + 1) * 1000 <= opening.lo) {
      problems.push(`pass issued at iat ${v.admittedIat}, before the opening`);
    }
    if (problems.length > 0) result.add(v.name, `${v.name}: ${problems.join('; ')}`);
  }
  return result;
}

/**
 * Invariant 7: every `prequeue` names one commitment, every drawn position names that
 * commitment and one seed, and SHA-256 of the seed's hex text is the commitment.
 */
export function checkCommitment(
  visitors: readonly VisitorSummary[],
  maxExamples: number,
): Collector {
  const result = new Collector(maxExamples);
  const first =
    visitors
      .flatMap((v) => v.prequeues)
      .filter((p) => p.commitment !== null)
      .sort((a, b) => a.t - b.t)[0]?.commitment ?? null;
  const firstSeed = visitors.flatMap((v) => v.draws).sort((a, b) => a.t - b.t)[0]?.seed ?? null;
  for (const v of visitors) {
    const problems = new Set<string>();
    for (const p of v.prequeues) {
      if (p.commitment !== first)
        problems.add(`prequeue named commitment ${p.commitment}, not ${first}`);
    }
    for (const d of v.draws) {
      if (first !== null && d.commitment !== first) {
        problems.add(`the draw named commitment ${d.commitment}, not ${first} as prequeue did`);
      }
      if (sha256(d.seed) !== d.commitment) {
        problems.add(
          `seed ${d.seed.slice(0, 12)}... does not hash to commitment ${d.commitment.slice(0, 12)}...`,
        );
      }
      if (d.seed !== firstSeed)
        problems.add(`told seed ${d.seed.slice(0, 12)}..., others ${firstSeed?.slice(0, 12)}...`);
    }
    if (problems.size > 0) result.add(v.name, `${v.name}: ${[...problems].join('; ')}`);
  }
  return result;
}

/** Counts of numbers added so far above or below a value (a Fenwick tree over known values). */
class RankCounter {
  readonly #keys: number[];
  readonly #tree: number[];
  #total = 0;
  constructor(values: Iterable<number>) {
    this.#keys = [...new Set(values)].sort((a, b) => a - b);
    this.#tree = new Array(this.#keys.length + 1).fill(0);
  }
  /** Index of the first key >= x (`strict`: > x). */
  #bound(x: number, strict: boolean): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const key = this.#keys[mid] as number;
      if (strict ? key <= x : key < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  #prefix(count: number): number {
    let sum = 0;
    for (let i = count; i > 0; i -= i & -i) sum += this.#tree[i] as number;
    return sum;
  }
  add(x: number): void {
    this.#total += 1;
    for (let i = this.#bound(x, false) + 1; i < this.#tree.length; i += i & -i) {
      this.#tree[i] = (this.#tree[i] as number) + 1;
    }
  }
  greaterThan(x: number): number {
    return this.#total - this.#prefix(this.#bound(x, true));
  }
  atLeast(x: number): number {
    return this.#total - this.#prefix(this.#bound(x, false));
  }
}

/** Left the line on purpose or by the room's grace: no longer owed a place, nor ahead of anyone. */
const departedUncertainly = (v: VisitorSummary) =>
  v.outcome === 'abandoned' || v.outcome === 'expired' || v.outcome === 'lost';

/**
 * Invariant 8, the draw kept: (a) a member's positions all carry the draw, across reconnects,
 * and a later join's none; with the seed heard, (b) members are admitted in the order of
 * SHA-256("<seed>:<session id>") (by pass `iat`, as FIFO: one tick admits many), (c) every
 * member is admitted before any later join (a member still waiting at the stop while a later
 * join was admitted more than the settle margin before it breaks it too), and (d) a member's
 * first position is exact: 1 + the members drawn ahead of it still waiting. The simulator sees
 * departures ahead only through their passes, so (d) allows a range: at least 1 + those ahead
 * whose admission second began after the position arrived (or who were still waiting at the
 * stop), at most 1 + those ahead not surely admitted `settleMarginMs` before it arrived.
 */
export function checkDraw(
  visitors: readonly VisitorSummary[],
  opening: Opening | null,
  options: Pick<InvariantOptions, 'stopAt' | 'settleMarginMs' | 'maxExamples'>,
): Collector {
  const result = new Collector(options.maxExamples);
  if (opening === null) return result;
  const problems = new Map<VisitorSummary, string[]>();
  const problem = (v: VisitorSummary, text: string) => {
    const list = problems.get(v) ?? [];
    list.push(text);
    problems.set(v, list);
  };
  const roles = new Map(visitors.map((v) => [v, drawRoleOf(v, opening)] as const));
  const members = visitors.filter((v) => roles.get(v) === 'member');

  // (a) membership, as the room's positions show it
  for (const v of visitors) {
    const role = roles.get(v);
    if (role === 'member') {
      const plain = v.positions.find((p) => !p.drawn);
      if (plain) {
        problem(
          v,
          `joined before the opening but told position ${plain.position} without the draw${v.disconnectedWhileWaiting ? ' (after a reconnect: membership lost?)' : ''}`,
        );
      }
    } else if (role === 'later' && v.positions.some((p) => p.drawn)) {
      problem(v, 'joined after the opening but told a drawn position');
    }
  }

  const seed = visitors.flatMap((v) => v.draws).sort((a, b) => a.t - b.t)[0]?.seed ?? null;
  if (seed !== null) {
    const ranked = members
      .filter((v) => v.sessionId !== null)
      .map((v) => ({ v, rank: sha256(`${seed}:${v.sessionId}`) }))
      .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0))
      .map((r) => r.v);

    // (b) admitted in the drawn order
    let latest: VisitorSummary | null = null;
    let pending: VisitorSummary | null = null;
    for (const v of ranked) {
      if (v.outcome === 'admitted' && v.admittedIat !== null) {
        if (latest !== null && (latest.admittedIat as number) > v.admittedIat) {
          problem(
            v,
            `admitted at iat ${v.admittedIat}, before ${latest.name} (drawn ahead of it) at iat ${latest.admittedIat}`,
          );
        } else if (
          pending !== null &&
          (v.admittedIat + 1) * 1000 + options.settleMarginMs < options.stopAt
        ) {
          problem(
            v,
            `admitted at iat ${v.admittedIat} while ${pending.name}, drawn ahead of it, was still waiting at the stop`,
          );
        }
        if (latest === null || v.admittedIat > (latest.admittedIat as number)) latest = v;
      } else if (v.outcome === 'waiting') {
        pending ??= v;
      }
    }

    // (d) the first position after the opening is exact
    const departLo = (a: VisitorSummary) =>
      a.outcome === 'waiting'
        ? Number.POSITIVE_INFINITY
        : a.outcome === 'admitted' && a.admittedIat !== null
          ? a.admittedIat * 1000
          : null;
    const departHi = (a: VisitorSummary) =>
      a.outcome === 'admitted' && a.admittedIat !== null && a.admittedAt !== null
        ? Math.min(a.admittedAt, (a.admittedIat + 1) * 1000)
        : Number.POSITIVE_INFINITY;
    const lows = new RankCounter(ranked.flatMap((a) => departLo(a) ?? []));
    const highs = new RankCounter(ranked.map(departHi));
    for (const v of ranked) {
      const first = v.positions.find((p) => p.t >= opening.lo);
      if (first) {
        const least = 1 + lows.greaterThan(first.t);
        const most = 1 + highs.atLeast(first.t - options.settleMarginMs);
        if (first.position < least || first.position > most) {
          problem(
            v,
            `first position after the opening was ${first.position}; the draw puts it at ${least === most ? least : `${least} to ${most}`}`,
          );
        }
      }
      const lo = departLo(v);
      if (lo !== null && !departedUncertainly(v)) lows.add(lo);
      highs.add(departHi(v));
    }
  }

  // (c) the pre-queue before every later join
  let lastMember: VisitorSummary | null = null;
  let waitingMember: VisitorSummary | null = null;
  for (const v of members) {
    if (v.outcome === 'admitted' && v.admittedIat !== null) {
      if (lastMember === null || v.admittedIat > (lastMember.admittedIat as number)) lastMember = v;
    } else if (v.outcome === 'waiting') {
      waitingMember ??= v;
    }
  }
  for (const v of visitors) {
    if (roles.get(v) !== 'later' || v.outcome !== 'admitted' || v.admittedIat === null) continue;
    if (lastMember !== null && (lastMember.admittedIat as number) > v.admittedIat) {
      problem(
        v,
        `joined after the opening and admitted at iat ${v.admittedIat}, before ${lastMember.name} of the pre-queue at iat ${lastMember.admittedIat}`,
      );
    } else if (
      waitingMember !== null &&
      (v.admittedIat + 1) * 1000 + options.settleMarginMs < options.stopAt
    ) {
      problem(
        v,
        `joined after the opening and admitted at iat ${v.admittedIat} while ${waitingMember.name} of the pre-queue was still waiting at the stop`,
      );
    }
  }

  for (const v of visitors) {
    const list = problems.get(v);
    if (list) result.add(v.name, `${v.name}: ${list.join('; ')}`);
  }
  return result;
}

/**
 * Invariant 9: a proof of work the room asked for is taken: no `invalid_proof` for a visitor's
 * own proof, every challenge solved, and each deliberate replay of a spent proof made and
 * refused with `invalid_proof` (one the stop cut short, `unfinished`, is only counted). With `--pow` and no challenge at all, the room asked for no proof.
 */
export function checkProofs(visitors: readonly VisitorSummary[], maxExamples: number): Collector {
  const result = new Collector(maxExamples);
  if (!visitors.some((v) => v.challenges > 0)) {
    result.add('-', "no visitor was asked for a proof of work (is the room's pow cost 0?)");
  }
  for (const v of visitors) {
    const problems: string[] = [];
    if (v.invalidProofs > 0) problems.push(`${v.invalidProofs} proof(s) answered invalid_proof`);
    const failed = v.solves.filter((x) => !x.ok).length;
    if (failed > 0) problems.push(`${failed} challenge(s) could not be solved`);
    if (v.replay !== null && v.replay !== 'refused' && v.replay !== 'unfinished') {
      problems.push(`the replayed proof was not refused: ${v.replay}`);
    }
    // A place taken with a proof is replayed as planned, even by a visitor admitted at once.
    if (v.replayPlanned && v.replay === null && v.joinedAt !== null && v.solves.some((x) => x.ok)) {
      problems.push('the planned replay of its spent proof was never made');
    }
    if (problems.length > 0) result.add(v.name, `${v.name}: ${problems.join('; ')}`);
  }
  return result;
}

/** What a run expects of the fair-launch features (absent: neither). */
export interface FairLaunchExpectations {
  /** A scheduled opening was expected; `opensAt` (epoch ms) when the simulator scheduled it. */
  prequeue?: { opensAt: number | null } | null;
  /** Proofs of work were expected. */
  pow?: boolean;
}

/** Runs every check over the summaries. */
export function checkInvariants(
  visitors: readonly VisitorSummary[],
  options: Pick<InvariantOptions, 'stopAt' | 'settleMarginMs' | 'maxExamples' | 'passChecks'> &
    FairLaunchExpectations,
): InvariantReport {
  const opening = options.prequeue ? openingOf(visitors, options.prequeue.opensAt) : null;
  const fifo = checkFifo(visitors, options, drawMembers(visitors, opening));
  const collected: [InvariantResult['id'], Collector][] = [
    [1, fifo.result],
    [2, checkPositions(visitors, options.maxExamples)],
    [3, checkSingleAdmission(visitors, options.maxExamples)],
    [4, checkNoneLost(visitors, options.maxExamples)],
    [5, checkPasses(visitors, options.passChecks, options.maxExamples)],
  ];
  if (options.prequeue) {
    collected.push(
      [6, checkBeforeOpening(visitors, opening, options.maxExamples)],
      [7, checkCommitment(visitors, options.maxExamples)],
      [8, checkDraw(visitors, opening, options)],
    );
  }
  if (options.pow) collected.push([9, checkProofs(visitors, options.maxExamples)]);
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
  options: Partial<InvariantOptions> &
    Pick<InvariantOptions, 'stopAt' | 'passChecks'> &
    FairLaunchExpectations,
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
