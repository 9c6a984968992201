/**
 * What the core needs from the world, declared by the core. Adapters (local/ in-process, aws/)
 * implement these; the entry points and the local runtime wire them together.
 */
import type { RoomDraw } from './draw.ts';
import type { ServerMessage } from './protocol.ts';
import type { Session } from './session.ts';

/** Wall-clock time in epoch milliseconds. */
export interface Clock {
  now(): number;
}

/** A visitor's arrival, put on the arrival queue by `join` and numbered by the processor. */
export interface Arrival {
  sessionId: string;
  joinedAt: number;
}

/**
 * An arrival as received, with its place in the room's order and what the queue needs to
 * acknowledge it. `order` is a string that sorts as the arrivals were queued (a counter in
 * process; on AWS SQS's timestamp, the message group and its sequence number); a redelivered
 * arrival keeps its `order` and `acceptedAt`, so the line needs no counter of its own.
 */
export interface ReceivedArrival extends Arrival {
  order: string;
  /** When the queue accepted it (epoch ms, on the queue's own clock). */
  acceptedAt: number;
  /**
   * The queue's message group, within which it keeps the order (absent: one order for all):
   * the processor does not put an arrival in line ahead of a group it has not read that far.
   */
  group?: string;
  receipt: string;
}

/**
 * The arrival queue: one ordered line per room (SQS FIFO on AWS, its arrivals spread over many
 * message groups). `enqueue` resolves once the queue holds the arrival (durably, on AWS) and may
 * be repeated for a session (the queue deduplicates, and the store numbers a session once);
 * `receive` returns unacknowledged arrivals sorted by `order`; an arrival received but not
 * acknowledged comes back later (at-least-once).
 */
export interface ArrivalQueue {
  enqueue(arrival: Arrival): Promise<void>;
  receive(max: number): Promise<ReceivedArrival[]>;
  acknowledge(arrivals: readonly ReceivedArrival[]): Promise<void>;
  /**
   * How long after `acceptedAt` an arrival may still be handed out behind later ones (several
   * groups received at once): the processor lets arrivals this old settle before it puts them
   * in line. 0: the queue hands arrivals out in order.
   */
  readonly settleMs: number;
  /**
   * How long an arrival a processor received but did not acknowledge stays hidden (the
   * visibility timeout): a processor taking over holds its appends this long after its
   * predecessor's last tick, so that those come back into their places. 0: none can be hidden.
   */
  readonly holdAfterTakeoverMs: number;
}

/**
 * A change to a waiting session's connection, logged by the handler that made it so that the
 * processor, which keeps the line in memory, learns it without reading the line again.
 */
export interface ConnectionChange {
  sessionId: string;
  /** The connection positions go to now (null: none announced yet). */
  connectionId: string | null;
  disconnectedAt: number | null;
  /** The session's `connectionVersion` after the change: older versions are stale. */
  version: number;
  /**
   * The visitor asked for its position (`status`) at `at`: tell it again at the next tick,
   * unless it was told since.
   */
  asked?: boolean;
  at?: number;
}

/** A page of the connection change log; pass `cursor` back to read what came after. */
export interface ChangePage {
  changes: ConnectionChange[];
  cursor: string;
}

/** Per-room processor state that must survive a processor restart. */
export interface RoomState {
  /** Admission tokens available (fractional). */
  tokens: number;
  /** When `tokens` was last refilled (epoch ms), or null before the first tick. */
  refilledAt: number | null;
  /** Admissions per tick over the last minute, oldest first, for operators' status. */
  recentAdmissions: { at: number; count: number }[];
  /** Length of the waiting line at the end of the last tick. */
  waiting: number;
  /**
   * When the last tick ended (epoch ms), or null: a store whose line lags its writes (an index)
   * lets them settle before a processor that takes over reads the line.
   */
  tickedAt: number | null;
  /**
   * When a tick last found anyone in line or anything to do (epoch ms), or null: how long the
   * room has been idle, across processors, for one that may go to sleep.
   */
  activeAt: number | null;
  /**
   * The room config the last tick ran with, or null before the first: the handlers read it
   * here (one item, cached) instead of each container asking the config source (SSM on AWS).
   */
  config: RoomConfig | null;
  /**
   * The draw for a scheduled opening (`draw.ts`): its secret seed and, once made, where it
   * ended; null or absent without a schedule.
   */
  draw?: RoomDraw | null;
  /**
   * The order of the last arrival the processor put in line (`arrival-merge.ts`), or null/absent
   * before the first: a processor that takes over lets those numbered after it settle again.
   */
  releasedUpTo?: string | null;
  /**
   * When the processor last stopped cleanly (epoch ms): after a tick that completed, so with no
   * arrival in flight. A successor that finds it after the last tick holds nothing back.
   */
  stoppedAt?: number | null;
}

export interface RoomCounts {
  /** Numbered and waiting (holding a place); on AWS as of the last tick. */
  waiting: number;
  /** Joined but not yet numbered by the processor. */
  arriving: number;
  admitted: number;
  abandoned: number;
}

/**
 * Sessions, the connection mapping and the room's processor state.
 *
 * Every state change is conditional, so a message delivered twice or a processor restarted
 * mid-tick can never number a session twice or admit it twice.
 */
export interface SessionStore {
  /**
   * Stores a new session (state `arriving`) bound to its connection. The binding is taken only
   * if the connection holds no session yet, or holds `replacing` (a place it gave up): frames of
   * one connection can run at once (API Gateway keeps no order), and two joins racing on one
   * connection must still make one place. When the connection is taken, nothing is stored and
   * {@link ConnectionTakenError} is thrown; a session of that id that exists already, with
   * {@link SessionExistsError}.
   */
  create(session: Session, replacing?: string): Promise<void>;
  get(sessionId: string): Promise<Session | undefined>;
  /** The session a connection belongs to (the latest one bound), if any. */
  sessionOfConnection(connectionId: string): Promise<string | undefined>;
  /** The session an identity (a person's key, `identity.ts`) was last bound to, if any. */
  sessionOfIdentity(identity: string): Promise<string | undefined>;
  /**
   * Binds an identity to a new session, only if it is bound to none (`previous` null) or still
   * to `previous` (a place that ended, or was never made); false when another join took it
   * meanwhile. Two joins of one person racing, on any connection, so make one place.
   */
  claimIdentity(identity: string, sessionId: string, previous: string | null): Promise<boolean>;
  /**
   * Records a proof of work (`proof-of-work.ts`) as spent, once: true the first time for `id`,
   * false ever after (a replay), until `expiresAt` (epoch ms), when its challenge can no longer
   * be taken anyway and the record may go. Two joins racing with one proof: one wins.
   */
  spendProof(id: string, expiresAt: number): Promise<boolean>;
  /**
   * Makes `connectionId` the session's current connection and clears its disconnect mark; for a
   * waiting session the change is logged (the new connection hears its position at the next
   * tick). A connection holds one place at a time: another session it was bound to, if that
   * session's current connection is still this one, is marked disconnected at `at` as
   * {@link detachConnection} would (its abandon grace starts; if waiting, the change is logged).
   * However frames of one connection interleave, no session is left connected to a connection
   * bound to another session.
   */
  attachConnection(sessionId: string, connectionId: string, at: number): Promise<void>;
  /**
   * Records that a connection is gone. If it was its session's current connection, the session
   * is marked disconnected at `at` (its abandon grace starts) and, if waiting, the change is
   * logged. Returns the session id, if any.
   */
  detachConnection(connectionId: string, at: number): Promise<string | undefined>;
  /** Logs that a waiting session's visitor asked for its position (`status`). */
  askForPosition(sessionId: string): Promise<void>;
  /**
   * The connection changes logged since `cursor` (null: from now on, nothing before). A change
   * may be read more than once; its `version` makes applying it again harmless.
   */
  readChanges(cursor: string | null): Promise<ChangePage>;
  /**
   * Gives each still-unnumbered session its arrival's `order` as its place in line and makes it
   * `waiting`. Already numbered or unknown sessions are skipped (conditional on AWS), so a
   * redelivered arrival changes nothing. Returns the sessions numbered, as they are now (their
   * connection included), in the order given.
   */
  numberArrivals(
    arrivals: readonly Pick<ReceivedArrival, 'sessionId' | 'order'>[],
  ): Promise<Session[]>;
  /**
   * The whole waiting line, in sequence order: read only when a processor takes the lease over
   * (it keeps the line in memory while it holds it). A sharded store reads its partitions at
   * once.
   */
  readLine(): Promise<Session[]>;
  /** Admits a waiting session with its pass. False (and no change) if it was not waiting. */
  admit(sessionId: string, pass: IssuedPass, at: number): Promise<boolean>;
  /** Drops a waiting or arriving session that has been disconnected since `disconnectedAt`. */
  abandon(sessionId: string, disconnectedAt: number, at: number): Promise<boolean>;
  /**
   * Admitted sessions whose `admitted` message has not yet been delivered. A session whose
   * connection has not yet heard its `joined` shows no connection (`connectionId` null).
   */
  pendingAdmissionNotices(limit: number): Promise<Session[]>;
  markAdmissionNotified(sessionIds: readonly string[]): Promise<void>;
  getRoomState(): Promise<RoomState>;
  /**
   * Saves the room state. A state whose `refilledAt` is older than the stored one is ignored
   * (conditional on AWS) and answers false: two processors can overlap for a moment when a
   * lease changes hands, and the late write of the older tick must not move the token bucket
   * back in time, nor may that tick admit on tokens it did not get to save.
   */
  putRoomState(state: RoomState): Promise<boolean>;
  /**
   * Saves the room's draw (`draw.ts`), only if the stored one is still `expected` (`sameDraw`;
   * null: none): the draw has one writer, the processor's `settleDraw`, and a processor that
   * overlaps another for a moment must neither put back a draw it read before nor make a second
   * one. False (and no change) when it was changed meanwhile. `putRoomState` never writes it.
   */
  putDraw(draw: RoomDraw | null, expected: RoomDraw | null): Promise<boolean>;
  counts(): Promise<RoomCounts>;
}

/** A session of that id exists already: a racing `join` with the same `joinKey` made it first. */
export class SessionExistsError extends Error {
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} exists`);
    this.name = 'SessionExistsError';
  }
}

/** The connection already holds another session: a racing `join` took it first. */
export class ConnectionTakenError extends Error {
  constructor(readonly connectionId: string) {
    super(`connection ${connectionId} already holds a place`);
    this.name = 'ConnectionTakenError';
  }
}

/**
 * Wakes the room's processor if it went to sleep with nobody in line (on AWS an asynchronous
 * invocation of the processor function). `join` calls it once its arrival is queued.
 */
export interface ProcessorWaker {
  wakeIfAsleep(): Promise<void>;
}

/**
 * Closes a connection whose place went to another one: tells it `superseded`, then closes it
 * (on AWS a post and a DeleteConnection on the management API). Never throws: a connection
 * already gone needs nothing.
 */
export interface ConnectionCloser {
  supersede(connectionId: string): Promise<void>;
}

/**
 * Places held at once per source address (limits in `sources.ts`): a DynamoDB counter per
 * source on AWS, a map in memory locally.
 */
export interface SourcePlaces {
  /** Counts one more place for `source`; false, counting nothing, when it holds the most. */
  take(source: string): Promise<boolean>;
  /**
   * Gives back one place per entry (a source listed twice gets two back): sessions admitted or
   * abandoned, or a join that failed after its `take`. Never throws: a place not given back
   * costs its source one place until the count expires.
   */
  release(sources: readonly string[]): Promise<void>;
}

/** Outcome of one push to a connection. */
export type Delivery = 'sent' | 'gone';

/** Pushes server messages to connections (API Gateway management API on AWS). */
export interface Notifier {
  /** Resolves `gone` when the connection no longer exists; rejects on other failures. */
  send(connectionId: string, message: ServerMessage): Promise<Delivery>;
}

/**
 * Live room configuration, as the operator set it. The fair-launch settings are optional: absent
 * means their default (no schedule, no proof of work, no message, open for sale), so a config
 * stored before they existed reads as it did.
 */
export interface RoomConfig {
  enabled: boolean;
  /** Admissions per minute; 0 pauses admission. */
  admitPerMinute: number;
  /**
   * When admission opens (epoch ms), or null/absent: it is open. Until then everyone who joins
   * is in the pre-queue, shuffled at the opening (`draw.ts`).
   */
  opensAt?: number | null;
  /** The proof-of-work cost a `join` must pay (`proof-of-work.ts`); 0 or absent: none. */
  powCost?: number;
  /** The operator's words to everyone waiting (plain text), or null/absent: none. */
  message?: string | null;
  /**
   * The sale is over: the operator's words to everyone waiting and every later join; nobody
   * more is admitted. Null/absent: the room is open for sale.
   */
  closed?: string | null;
}

export interface ConfigSource {
  get(): Promise<RoomConfig>;
}

export interface IssuedPass {
  token: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** Signs and checks the room's tokens; the key never leaves the implementation. */
export interface Signer {
  issuePass(sessionId: string, now: number): Promise<IssuedPass>;
  issueTicket(sessionId: string, now: number): Promise<string>;
  /**
   * The session id a ticket of this room names, or null for any bad ticket. `source` is the
   * key of the asking address: forged tickets are checked on a budget per source and per room
   * (over it: `TicketChecksBusyError`).
   */
  readTicket(ticket: string, now: number, source?: string | null): Promise<string | null>;
}
