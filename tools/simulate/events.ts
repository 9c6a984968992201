/**
 * What a simulated visitor saw, as a trace of timestamped events, and the compact form they take
 * on the way from a worker process to the parent.
 */

/** Why a visitor opened a socket. */
export type DialPurpose = 'join' | 'resume' | 'recheck';

/**
 * Why a visitor dialled again (the `reason` of a `retry` event): the room's error code
 * (`internal`, `rate_limited`), `apigw: <message>` for API Gateway's own error frame, or one
 * of these.
 */
export const RETRY_REASONS = {
  /** The socket closed before it opened (refused handshake, connection refused). */
  noConnection: 'no connection',
  /** The socket did not open within the page's connect timeout (10 s). */
  connectTimeout: 'connect timeout',
  /** Nothing came back within the reply timeout after `join`, `resume` or `status`. */
  noAnswer: 'no answer',
  /** The socket closed from the other side before or while the visitor waited. */
  closed: 'closed',
} as const;

/** What became of a deliberately replayed proof of work (it must be refused). */
export type ReplayResult =
  | 'refused'
  | 'accepted'
  | 'challenged'
  | 'no-answer'
  | 'unreachable'
  /** The run stopped before the replay was made or answered. */
  | 'unfinished';

/** Where a visitor stands; the last ones (see {@link FINAL_STATES}) never change again. */
export type VisitorState =
  | 'scheduled'
  | 'connecting'
  | 'joining'
  /** Solving the proof of work the room asked for before it takes a place. */
  | 'solving'
  | 'waiting'
  | 'paused'
  | 'resuming'
  | 'admitted'
  | 'rechecking'
  | 'done'
  | 'opened'
  | 'abandoned'
  | 'lost'
  | 'failed'
  | 'stopped';

export const FINAL_STATES: ReadonlySet<VisitorState> = new Set([
  'done',
  'opened',
  'abandoned',
  'lost',
  'failed',
  'stopped',
]);

/**
 * One thing a visitor did or saw, at `t` (epoch milliseconds with sub-millisecond precision,
 * from the machine's clock, so that events of different worker processes compare).
 */
export type TraceEvent =
  | { t: number; k: 'dial'; purpose: DialPurpose; attempt: number }
  | { t: number; k: 'open' }
  | { t: number; k: 'send'; action: 'join' | 'resume' | 'status' | 'ping' }
  | { t: number; k: 'joined'; sessionId: string }
  /**
   * `drawn`: the position carried the draw of a scheduled opening (see the `draw` event);
   * `next`: its `nextUpdateSeconds`, the room's promise to be heard from again within that long.
   */
  | {
      t: number;
      k: 'position';
      position: number;
      waiting: number;
      drawn?: boolean;
      next?: number;
    }
  /**
   * Before a scheduled opening: `opensAt` in epoch seconds; `commitment` as heard, or null when
   * it is the one this visitor heard last (kept out of most events: it is 64 characters).
   */
  | { t: number; k: 'prequeue'; opensAt: number; waiting: number; commitment: string | null }
  /** A drawn position's seed and commitment, recorded when they first come (or change). */
  | { t: number; k: 'draw'; seed: string; commitment: string }
  /** The room asked for a proof of work; `attempts` is its announced cost (0: not said). */
  | { t: number; k: 'challenge'; attempts: number }
  /** A proof of work done (`ok`) or not; `ms` solving, `queuedMs` waiting for a solver slot. */
  | { t: number; k: 'solved'; ms: number; queuedMs: number; ok: boolean }
  /** A used proof sent again on a new socket: what the room said. */
  | { t: number; k: 'replay'; result: ReplayResult }
  | { t: number; k: 'admitted'; pass: string; redirectUrl: string; expiresAt: number }
  | { t: number; k: 'open-room'; redirectUrl: string }
  | { t: number; k: 'pong' }
  | { t: number; k: 'error'; code: string }
  | { t: number; k: 'garbled'; text: string }
  /** The socket closed; `expected` when this visitor closed it. */
  | { t: number; k: 'close'; code: number; expected: boolean }
  | { t: number; k: 'socket-error'; message: string }
  /** Churn: the visitor drops its socket on purpose and will come back. */
  | { t: number; k: 'drop'; pauseMs: number }
  /** The visitor leaves the line for good, on purpose. */
  | { t: number; k: 'abandon' }
  /**
   * The visitor gives up on its socket and dials again after `delayMs`, as the page does: the
   * socket never opened, the room refused the `join`/`resume` (`internal`, `rate_limited`, or
   * API Gateway's own error), the room closed it, or nothing answered in time. `reason` is the
   * kind (see {@link RETRY_REASONS}); `purpose` what the next socket is for.
   */
  | { t: number; k: 'retry'; reason: string; purpose: DialPurpose; delayMs: number }
  /** The visitor could not go on (e.g. no connection after every retry). */
  | { t: number; k: 'give-up'; reason: string }
  /** The simulation stopped; `state` is where the visitor stood. */
  | { t: number; k: 'stop'; state: VisitorState };

export type TraceEventKind = TraceEvent['k'];

/** Kinds of event that are a message received from the server. */
export const RECEIVED_KINDS: ReadonlySet<TraceEventKind> = new Set([
  'joined',
  'position',
  'prequeue',
  'challenge',
  'admitted',
  'open-room',
  'pong',
  'error',
  'garbled',
]);

/** What the simulation planned for a visitor, decided before it starts. */
export interface VisitorPlan {
  index: number;
  /** Milliseconds after the start of the run when the visitor arrives. */
  startMs: number;
  returnPath: string;
  /** Drops its socket while waiting, at this share of its expected wait, for `pauseMs`. */
  churn: { atShare: number; pauseMs: number } | null;
  /** Leaves for good while waiting, at this share of its expected wait. */
  abandon: { atShare: number } | null;
  /** After admission, comes back once with its ticket to check it gets the same pass. */
  recheck: { pauseMs: number } | null;
  /** Once its place is taken with a proof of work, sends that proof again on a new socket. */
  replay?: { pauseMs: number } | null;
  /** Local address to connect from (spreads sockets over loopback addresses), or null. */
  localAddress: string | null;
}

/** Everything one visitor saw, in order. */
export interface VisitorTrace {
  plan: VisitorPlan;
  events: TraceEvent[];
}

/** Name of a visitor in reports. */
export function visitorName(index: number): string {
  return `v${index}`;
}

/** A trace event in transit: `[visitorIndex, t, kind, ...fields]`. */
export type PackedEvent = [number, number, string, ...(string | number | boolean)[]];

/** Packs an event for IPC: short arrays instead of objects with repeated keys. */
export function packEvent(index: number, e: TraceEvent): PackedEvent {
  switch (e.k) {
    case 'dial':
      return [index, e.t, e.k, e.purpose, e.attempt];
    case 'send':
      return [index, e.t, e.k, e.action];
    case 'joined':
      return [index, e.t, e.k, e.sessionId];
    case 'position':
      if (e.next !== undefined) {
        return [index, e.t, e.k, e.position, e.waiting, e.drawn ? 1 : 0, e.next];
      }
      return e.drawn
        ? [index, e.t, e.k, e.position, e.waiting, 1]
        : [index, e.t, e.k, e.position, e.waiting];
    case 'prequeue':
      return e.commitment === null
        ? [index, e.t, e.k, e.opensAt, e.waiting]
        : [index, e.t, e.k, e.opensAt, e.waiting, e.commitment];
    case 'draw':
      return [index, e.t, e.k, e.seed, e.commitment];
    case 'challenge':
      return [index, e.t, e.k, e.attempts];
    case 'solved':
      return [index, e.t, e.k, e.ms, e.queuedMs, e.ok ? 1 : 0];
    case 'replay':
      return [index, e.t, e.k, e.result];
    case 'admitted':
      return [index, e.t, e.k, e.pass, e.redirectUrl, e.expiresAt];
    case 'open-room':
      return [index, e.t, e.k, e.redirectUrl];
    case 'error':
      return [index, e.t, e.k, e.code];
    case 'garbled':
      return [index, e.t, e.k, e.text];
    case 'close':
      return [index, e.t, e.k, e.code, e.expected];
    case 'socket-error':
      return [index, e.t, e.k, e.message];
    case 'drop':
      return [index, e.t, e.k, e.pauseMs];
    case 'retry':
      return [index, e.t, e.k, e.reason, e.purpose, e.delayMs];
    case 'give-up':
      return [index, e.t, e.k, e.reason];
    case 'stop':
      return [index, e.t, e.k, e.state];
    case 'open':
    case 'pong':
    case 'abandon':
      return [index, e.t, e.k];
  }
}

/** Reverses {@link packEvent}. */
export function unpackEvent(p: PackedEvent): { index: number; event: TraceEvent } {
  const [index, t, k, a, b, c, d] = p;
  const s = (x: unknown) => String(x);
  const n = (x: unknown) => Number(x);
  let event: TraceEvent;
  switch (k as TraceEventKind) {
    case 'dial':
      event = { t, k: 'dial', purpose: s(a) as DialPurpose, attempt: n(b) };
      break;
    case 'send':
      event = { t, k: 'send', action: s(a) as 'join' };
      break;
    case 'joined':
      event = { t, k: 'joined', sessionId: s(a) };
      break;
    case 'position':
      event = {
        t,
        k: 'position',
        position: n(a),
        waiting: n(b),
        ...(c === 1 ? { drawn: true } : {}),
        ...(d === undefined ? {} : { next: n(d) }),
      };
      break;
    case 'prequeue':
      event = {
        t,
        k: 'prequeue',
        opensAt: n(a),
        waiting: n(b),
        commitment: c === undefined ? null : s(c),
      };
      break;
    case 'draw':
      event = { t, k: 'draw', seed: s(a), commitment: s(b) };
      break;
    case 'challenge':
      event = { t, k: 'challenge', attempts: n(a) };
      break;
    case 'solved':
      event = { t, k: 'solved', ms: n(a), queuedMs: n(b), ok: c === 1 };
      break;
    case 'replay':
      event = { t, k: 'replay', result: s(a) as ReplayResult };
      break;
    case 'admitted':
      event = { t, k: 'admitted', pass: s(a), redirectUrl: s(b), expiresAt: n(c) };
      break;
    case 'open-room':
      event = { t, k: 'open-room', redirectUrl: s(a) };
      break;
    case 'error':
      event = { t, k: 'error', code: s(a) };
      break;
    case 'garbled':
      event = { t, k: 'garbled', text: s(a) };
      break;
    case 'close':
      event = { t, k: 'close', code: n(a), expected: Boolean(b) };
      break;
    case 'socket-error':
      event = { t, k: 'socket-error', message: s(a) };
      break;
    case 'drop':
      event = { t, k: 'drop', pauseMs: n(a) };
      break;
    case 'retry':
      event = { t, k: 'retry', reason: s(a), purpose: s(b) as DialPurpose, delayMs: n(c) };
      break;
    case 'give-up':
      event = { t, k: 'give-up', reason: s(a) };
      break;
    case 'stop':
      event = { t, k: 'stop', state: s(a) as VisitorState };
      break;
    case 'open':
      event = { t, k: 'open' };
      break;
    case 'pong':
      event = { t, k: 'pong' };
      break;
    case 'abandon':
      event = { t, k: 'abandon' };
      break;
    default:
      throw new Error(`unknown packed event kind "${k}"`);
  }
  return { index, event };
}
