/**
 * Where numbered arrivals wait before the processor puts them in line: a queue whose arrivals
 * are spread over many groups (SQS FIFO on AWS) hands them out per group, a moment apart, so
 * the processor merges them by their `order` (the queue's own timestamp first) behind a settle
 * window, and appends them to the line in that order once nothing earlier can still come.
 *
 * - **Settling.** An arrival is put in line once the queue's clock is `settleMs` past its
 *   `acceptedAt`. The queue's clock is estimated from the newest `acceptedAt` received, moved on
 *   by the processor's own clock since: never ahead of the queue's, so a processor whose clock
 *   runs ahead of the queue's does not shorten the window.
 * - **Groups read unevenly.** With a backlog (the processor behind, or SQS handing out one
 *   group's messages ten at a time) a group can be read seconds behind another, far beyond any
 *   window. Within a group the queue keeps the order, so everything of a group up to the newest
 *   `acceptedAt` read from it is in; nothing is put in line past the slowest group read since
 *   the queue was last found empty (when it is, every group has been read up to then). A group
 *   the processor has not read for {@link ACTIVE_GROUP_MS} while it kept receiving holds nothing
 *   back.
 * - **Late.** An arrival whose order is not after the last one put in line (a receive slower
 *   than the window, a message back after a crash) is late: it is numbered right behind the
 *   line's tail (`<tail order>~<own order>`, which sorts after the tail and before anything
 *   later), so nobody already in line moves back and no position rises. Late arrivals are
 *   counted, never dropped.
 * - **Takeover.** A processor that takes over holds arrivals accepted before its predecessor's
 *   last tick (plus two ticks) until the queue's visibility timeout has passed since then, so
 *   that arrivals its predecessor held in flight come back into their places first. Sessions
 *   its predecessor numbered but never put in line (`releasedUpTo`) wait here too.
 *
 * Pure: no clock, no I/O; the processor passes the time in.
 */
import type { ConnectionChange, ReceivedArrival } from './ports.ts';
import type { Session } from './session.ts';

/** Joins a late arrival's own order to the tail it is put behind. */
export const LATE_SEPARATOR = '~';

/**
 * A group not read for this long (the processor's clock: it has been receiving and the group
 * never came back) is taken to be empty and no longer holds the others back.
 */
export const ACTIVE_GROUP_MS = 10_000;

interface Settling {
  session: Session;
  acceptedAt: number;
}

export interface ArrivalMergeOptions {
  /** The queue's settle window (`ArrivalQueue.settleMs`). */
  settleMs: number;
  /** The last order put in line before this processor (null: none known). */
  releasedUpTo: string | null;
  /** Arrivals accepted up to this (epoch ms) wait until {@link holdUntil} (0: no hold). */
  holdAcceptedUpTo?: number;
  /** Until when (the processor's clock) arrivals accepted up to `holdAcceptedUpTo` wait. */
  holdUntil?: number;
}

export class ArrivalMerge {
  readonly settleMs: number;
  /** The order of the last arrival put in line (null: none yet). */
  releasedUpTo: string | null;
  /** Arrivals found late since this merge began. */
  late = 0;
  readonly #holdAcceptedUpTo: number;
  readonly #holdUntil: number;
  /** Numbered, not yet in line, sorted by `seq`. */
  #settling: Settling[] = [];
  /** The same, by session id. */
  readonly #byId = new Map<string, Settling>();
  /** The newest `acceptedAt` received, and when (processor clock) it was. */
  #queueClock: { acceptedAt: number; seenAt: number } | null = null;
  /**
   * The newest `acceptedAt` read from each group since the queue was last found empty, and
   * when (processor clock) the group was last read.
   */
  #groups = new Map<string, { acceptedAt: number; readAt: number }>();
  /** Everything the queue accepted up to this (its clock) has been read (-inf: not known). */
  #caughtUp = Number.NEGATIVE_INFINITY;

  constructor(options: ArrivalMergeOptions) {
    this.settleMs = options.settleMs;
    this.releasedUpTo = options.releasedUpTo;
    this.#holdAcceptedUpTo = options.holdAcceptedUpTo ?? 0;
    this.#holdUntil = options.holdUntil ?? 0;
  }

  /** Numbered sessions waiting to be put in line. */
  get size(): number {
    return this.#settling.length;
  }

  has(sessionId: string): boolean {
    return this.#byId.has(sessionId);
  }

  /**
   * The order an arrival is numbered with: its own, or right behind what is already in line if
   * it comes late (counted). `now` is the processor's clock, to follow the queue's.
   */
  orderFor(arrival: ReceivedArrival, now: number): string {
    if (this.#queueClock === null || arrival.acceptedAt > this.#queueClock.acceptedAt) {
      this.#queueClock = { acceptedAt: arrival.acceptedAt, seenAt: now };
    }
    if (arrival.group !== undefined) {
      const seen = this.#groups.get(arrival.group)?.acceptedAt ?? Number.NEGATIVE_INFINITY;
      this.#groups.set(arrival.group, {
        acceptedAt: Math.max(seen, arrival.acceptedAt),
        readAt: now,
      });
    }
    const tail = this.releasedUpTo;
    if (tail === null || arrival.order > tail) return arrival.order;
    return `${tail}${LATE_SEPARATOR}${arrival.order}`;
  }

  /**
   * The queue answered empty at `now` (processor clock): every group has been read up to the
   * queue's clock then, less the window (what SQS accepted a moment ago may not show yet).
   */
  drained(now: number): void {
    const queueNow = this.#queueNow(now);
    if (queueNow === null) return;
    this.#caughtUp = Math.max(this.#caughtUp, queueNow - this.settleMs);
    for (const [group, seen] of this.#groups) {
      if (seen.acceptedAt <= this.#caughtUp) this.#groups.delete(group);
    }
  }

  /** Whether `order` (from {@link orderFor}) is a late arrival's. */
  static isLate(order: string): boolean {
    return order.includes(LATE_SEPARATOR);
  }

  /**
   * Takes numbered sessions (`acceptedAt` their arrival's; 0: held only by a takeover's hold,
   * for sessions read from the store). A session already here, or not waiting, is skipped.
   */
  add(sessions: readonly { session: Session; acceptedAt: number }[]): void {
    let added = false;
    for (const { session, acceptedAt } of sessions) {
      if (session.seq === null || session.state !== 'waiting' || this.#byId.has(session.id)) {
        continue;
      }
      if (ArrivalMerge.isLate(session.seq)) this.late += 1;
      const item = { session, acceptedAt };
      this.#byId.set(session.id, item);
      this.#settling.push(item);
      added = true;
    }
    if (added) {
      this.#settling.sort((a, b) => compare(a.session.seq as string, b.session.seq as string));
    }
  }

  /**
   * A connection change for a session still settling, applied to it (newer versions only);
   * false when the session is not here.
   */
  apply(change: ConnectionChange): boolean {
    const item = this.#byId.get(change.sessionId);
    if (!item) return false;
    if (change.version > item.session.connectionVersion) {
      item.session = {
        ...item.session,
        connectionId: change.connectionId,
        disconnectedAt: change.disconnectedAt,
        connectionVersion: change.version,
      };
    }
    return true;
  }

  /** The sessions due to go in line at `now` (processor clock), in order: the settled prefix. */
  release(now: number): Session[] {
    const cutoff = this.#cutoff(now);
    let count = 0;
    for (const item of this.#settling) {
      if (item.acceptedAt > cutoff) break;
      if (now < this.#holdUntil && item.acceptedAt <= this.#holdAcceptedUpTo) break;
      count += 1;
    }
    if (count === 0) return [];
    const due = this.#settling.slice(0, count).map((item) => item.session);
    this.#settling = this.#settling.slice(count);
    for (const session of due) this.#byId.delete(session.id);
    this.releasedUpTo = due.at(-1)?.seq ?? this.releasedUpTo;
    return due;
  }

  /** Arrivals accepted up to this (queue clock) have settled. */
  #cutoff(now: number): number {
    if (this.settleMs <= 0) return Number.POSITIVE_INFINITY;
    const queueNow = this.#queueNow(now);
    if (queueNow === null) return 0;
    let cutoff = queueNow - this.settleMs;
    // Short of the slowest group read lately: the rest of it may still be queued, some of it
    // stamped in the same millisecond as the last one read.
    for (const { acceptedAt, readAt } of this.#groups.values()) {
      if (acceptedAt > this.#caughtUp && readAt >= now - ACTIVE_GROUP_MS && acceptedAt <= cutoff) {
        cutoff = acceptedAt - 1;
      }
    }
    return cutoff;
  }

  /** The queue's clock as estimated at `now` (processor clock); null before any arrival. */
  #queueNow(now: number): number | null {
    if (this.#queueClock === null) return null;
    return this.#queueClock.acceptedAt + Math.max(0, now - this.#queueClock.seenAt);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
