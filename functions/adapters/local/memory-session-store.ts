/**
 * In-process {@link SessionStore}: the local runtime's stand-in for DynamoDB. Every method does
 * its whole change synchronously, so each is atomic just as the conditional writes are on AWS.
 * Returned sessions are the stored objects: callers read them and change them only through
 * these methods.
 */
import { EMPTY_ROOM_STATE } from '../../core/admission.ts';
import { type RoomDraw, sameDraw } from '../../core/draw.ts';
import type {
  ChangePage,
  Clock,
  ConnectionChange,
  IssuedPass,
  ReceivedArrival,
  RoomCounts,
  RoomState,
  SessionStore,
} from '../../core/ports.ts';
import { ConnectionTakenError, SessionExistsError } from '../../core/ports.ts';
import type { Session } from '../../core/session.ts';
import { systemClock } from './system-clock.ts';

/** How long an abandoned session is remembered, so a late resume hears why its place is gone. */
export const ABANDONED_MEMORY_MS = 10 * 60_000;

/** Finished sessions in the order they finished, each with when it may be forgotten. */
class ForgetQueue {
  #entries: { id: string; at: number }[] = [];
  #head = 0;

  push(id: string, at: number): void {
    this.#entries.push({ id, at });
  }

  /** Puts the entries in due order (after a restore, which pushes them in any order). */
  sort(): void {
    this.#entries.sort((a, b) => a.at - b.at);
  }

  /** Removes and returns the ids due by `now` (entries are due in the order they were pushed). */
  *due(now: number): Generator<string> {
    while (this.#head < this.#entries.length && (this.#entries[this.#head]?.at as number) <= now) {
      yield (this.#entries[this.#head++] as { id: string }).id;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** What a store restored from disk starts from (see {@link MemorySessionStore.restore}). */
export interface StoreSnapshot {
  sessions: Session[];
  roomState: RoomState | null;
  /** Totals of sessions already forgotten are kept here. */
  counts: RoomCounts | null;
}

export class MemorySessionStore implements SessionStore {
  /** Told the ids of finished sessions it forgets (a durable copy forgets them too). */
  onForget: ((sessionIds: string[]) => void) | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #connections = new Map<string, string>();
  /** Waiting sessions in sequence order; entries that left are skipped and compacted away. */
  #line: Session[] = [];
  #lineGone = 0;
  readonly #pendingNotices = new Set<string>();
  /** The connection change log, from offset `#changesBase` (read entries are dropped). */
  #changes: ConnectionChange[] = [];
  #changesBase = 0;
  #roomState: RoomState = structuredClone(EMPTY_ROOM_STATE);
  readonly #counts: RoomCounts = { waiting: 0, arriving: 0, admitted: 0, abandoned: 0 };
  // Finished sessions are forgotten (as TTL deletes them on AWS) so a long-running room does not
  // grow without bound: admitted ones when their pass expires (until then `resume` hands the
  // pass back), abandoned ones after ABANDONED_MEMORY_MS. The counts keep the totals.
  readonly #forgetAdmitted = new ForgetQueue();
  readonly #forgetAbandoned = new ForgetQueue();
  /** Person (identity key) -> the session last bound to them. */
  readonly #identities = new Map<string, string>();
  /**
   * Spent proofs of work -> until when they are kept (epoch ms). Every proof lives as long, so
   * insertion order is expiry order (give or take a clock step) and the expired ones are at the
   * head: each spend drops them from there.
   */
  readonly #spentProofs = new Map<string, number>();
  readonly #clock: Clock;

  /** `clock` tells when a spent proof may be forgotten; the system clock unless a test has its own. */
  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  async create(session: Session, replacing?: string): Promise<void> {
    this.#forgetFinished(session.joinedAt);
    if (this.#sessions.has(session.id)) throw new SessionExistsError(session.id);
    const held = session.connectionId ? this.#connections.get(session.connectionId) : undefined;
    if (session.connectionId && held !== undefined && held !== replacing) {
      throw new ConnectionTakenError(session.connectionId);
    }
    this.#sessions.set(session.id, { ...session });
    this.#counts[session.state] += 1;
    if (session.connectionId) this.#connections.set(session.connectionId, session.id);
    if (session.identity !== undefined) this.#identities.set(session.identity, session.id);
  }

  async sessionOfIdentity(identity: string): Promise<string | undefined> {
    return this.#identities.get(identity);
  }

  async claimIdentity(identity: string, sessionId: string, previous: string | null) {
    const bound = this.#identities.get(identity) ?? null;
    if (bound !== previous && bound !== sessionId) return false;
    this.#identities.set(identity, sessionId);
    return true;
  }

  async spendProof(id: string, expiresAt: number): Promise<boolean> {
    const now = this.#clock.now();
    for (const [spent, until] of this.#spentProofs) {
      if (until > now) break;
      this.#spentProofs.delete(spent);
    }
    if (this.#spentProofs.has(id)) return false;
    this.#spentProofs.set(id, expiresAt);
    return true;
  }

  async get(sessionId: string): Promise<Session | undefined> {
    return this.#sessions.get(sessionId);
  }

  async sessionOfConnection(connectionId: string): Promise<string | undefined> {
    return this.#connections.get(connectionId);
  }

  async attachConnection(sessionId: string, connectionId: string, at: number): Promise<void> {
    const session = this.#sessions.get(sessionId);
    if (!session) return;
    // One place per connection: the place it held until now is let go, as if its socket closed.
    const previous = this.#connections.get(connectionId);
    if (previous !== undefined && previous !== sessionId) {
      this.#markDisconnected(previous, connectionId, at);
    }
    session.connectionId = connectionId;
    session.disconnectedAt = null;
    session.connectionVersion += 1;
    this.#connections.set(connectionId, sessionId);
    this.#logChange(session);
  }

  async detachConnection(connectionId: string, at: number): Promise<string | undefined> {
    const sessionId = this.#connections.get(connectionId);
    this.#connections.delete(connectionId);
    if (!sessionId) return undefined;
    this.#markDisconnected(sessionId, connectionId, at);
    return sessionId;
  }

  /** Marks a session disconnected at `at` if `connectionId` is still its current connection. */
  #markDisconnected(sessionId: string, connectionId: string, at: number): void {
    const session = this.#sessions.get(sessionId);
    if (session && session.connectionId === connectionId && session.disconnectedAt === null) {
      session.disconnectedAt = at;
      session.connectionVersion += 1;
      this.#logChange(session);
    }
  }

  async askForPosition(sessionId: string): Promise<void> {
    const session = this.#sessions.get(sessionId);
    if (session) this.#logChange(session, true);
  }

  async readChanges(cursor: string | null): Promise<ChangePage> {
    const end = this.#changesBase + this.#changes.length;
    const from = cursor === null ? end : Math.max(this.#changesBase, Number(cursor));
    const changes = this.#changes.slice(from - this.#changesBase);
    // One processor reads the log: what it has read is not needed again.
    this.#changes = [];
    this.#changesBase = end;
    return { changes, cursor: String(end) };
  }

  /** Logs a waiting session's connection as it is now. */
  #logChange(session: Session, asked = false): void {
    if (session.state !== 'waiting') return;
    this.#changes.push({
      sessionId: session.id,
      connectionId: session.connectionId,
      disconnectedAt: session.disconnectedAt,
      version: session.connectionVersion,
      ...(asked ? { asked } : {}),
    });
  }

  async numberArrivals(
    arrivals: readonly Pick<ReceivedArrival, 'sessionId' | 'order'>[],
  ): Promise<Session[]> {
    const numbered: Session[] = [];
    for (const { sessionId, order } of arrivals) {
      const session = this.#sessions.get(sessionId);
      if (session?.state !== 'arriving') continue;
      session.seq = order;
      this.#move(session, 'waiting');
      this.#insertInOrder(session);
      numbered.push({ ...session });
    }
    return numbered;
  }

  /** Appends to the line; arrivals come in order, so the search only runs if one did not. */
  #insertInOrder(session: Session): void {
    const seq = session.seq as string;
    const last = this.#line.at(-1);
    if (!last || (last.seq as string) < seq) {
      this.#line.push(session);
      return;
    }
    let low = 0;
    let high = this.#line.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (((this.#line[mid] as Session).seq as string) < seq) low = mid + 1;
      else high = mid;
    }
    this.#line.splice(low, 0, session);
  }

  async readLine(): Promise<Session[]> {
    this.#compact();
    return this.#line.filter((session) => session.state === 'waiting');
  }

  async admit(sessionId: string, pass: IssuedPass, at: number): Promise<boolean> {
    const session = this.#sessions.get(sessionId);
    if (session?.state !== 'waiting') return false;
    session.pass = pass;
    session.admittedAt = at;
    session.admissionNotified = false;
    this.#move(session, 'admitted');
    this.#lineGone += 1;
    this.#pendingNotices.add(sessionId);
    this.#forgetAdmitted.push(sessionId, pass.expiresAt * 1000);
    this.#forgetFinished(at);
    return true;
  }

  async abandon(sessionId: string, disconnectedAt: number, at: number): Promise<boolean> {
    const session = this.#sessions.get(sessionId);
    if (!session || (session.state !== 'waiting' && session.state !== 'arriving')) return false;
    // Conditional on the same absence: a visitor who came back meanwhile keeps the place.
    if (session.disconnectedAt !== disconnectedAt) return false;
    if (session.state === 'waiting') this.#lineGone += 1;
    this.#move(session, 'abandoned');
    this.#forgetAbandoned.push(sessionId, at + ABANDONED_MEMORY_MS);
    this.#forgetFinished(at);
    return true;
  }

  async pendingAdmissionNotices(limit: number): Promise<Session[]> {
    const pending: Session[] = [];
    for (const id of this.#pendingNotices) {
      if (pending.length >= limit) break;
      const session = this.#sessions.get(id);
      if (session) pending.push(session);
    }
    return pending;
  }

  async markAdmissionNotified(sessionIds: readonly string[]): Promise<void> {
    for (const id of sessionIds) {
      this.#pendingNotices.delete(id);
      const session = this.#sessions.get(id);
      if (session) session.admissionNotified = true;
    }
  }

  async getRoomState(): Promise<RoomState> {
    return structuredClone(this.#roomState);
  }

  async putRoomState(state: RoomState): Promise<boolean> {
    // The bucket never goes back in time: a late write from a tick that lost its lease (it read
    // the state before a newer tick spent tokens) would hand those tokens out a second time.
    const stored = this.#roomState.refilledAt;
    if (stored !== null && (state.refilledAt === null || state.refilledAt < stored)) return false;
    // The draw is `putDraw`'s alone.
    const { draw, releasedUpTo } = this.#roomState;
    this.#roomState = structuredClone(state);
    delete this.#roomState.draw;
    if (draw) this.#roomState.draw = draw;
    // Only the tick's last write carries where the line's arrivals stand; the others keep it.
    if (typeof state.releasedUpTo !== 'string' && typeof releasedUpTo === 'string') {
      this.#roomState.releasedUpTo = releasedUpTo;
    }
    return true;
  }

  async putDraw(draw: RoomDraw | null, expected: RoomDraw | null): Promise<boolean> {
    if (!sameDraw(this.#roomState.draw, expected)) return false;
    this.#roomState = { ...this.#roomState, draw: structuredClone(draw) };
    return true;
  }

  async counts(): Promise<RoomCounts> {
    return { ...this.#counts };
  }

  /** Sessions the store knows, finished ones included until they are forgotten. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Takes the state a previous process left (an empty store only), `downMs` after it stopped.
   * Its connections are gone: a session that still had one is disconnected at `now` (its abandon
   * grace starts afresh, so a restart drops nobody); one already disconnected keeps the time it
   * left, moved by `downMs`, since nobody could come back while the room was down. Returns the
   * sessions changed that way.
   */
  restore(snapshot: StoreSnapshot, now: number, downMs = 0): Session[] {
    if (this.#sessions.size > 0) throw new Error('restore into an empty store only');
    const disconnected: Session[] = [];
    for (const stored of snapshot.sessions) {
      const session: Session = { ...stored };
      const inLine = session.state === 'waiting' || session.state === 'arriving';
      if (inLine && session.connectionId !== null && session.disconnectedAt === null) {
        session.disconnectedAt = now;
        session.connectionVersion += 1;
        disconnected.push(session);
      } else if (inLine && session.disconnectedAt !== null && downMs > 0) {
        session.disconnectedAt = Math.min(now, session.disconnectedAt + downMs);
        session.connectionVersion += 1;
        disconnected.push(session);
      }
      this.#sessions.set(session.id, session);
      if (session.identity !== undefined) {
        // The person's latest place is theirs.
        const bound = this.#identities.get(session.identity);
        const other = bound === undefined ? undefined : this.#sessions.get(bound);
        if (!other || other.joinedAt <= session.joinedAt) {
          this.#identities.set(session.identity, session.id);
        }
      }
      if (session.state === 'waiting') this.#line.push(session);
      if (session.state === 'admitted') {
        if (!session.admissionNotified) this.#pendingNotices.add(session.id);
        this.#forgetAdmitted.push(session.id, (session.pass?.expiresAt ?? 0) * 1000);
      }
      if (session.state === 'abandoned')
        this.#forgetAbandoned.push(session.id, now + ABANDONED_MEMORY_MS);
    }
    this.#line.sort((a, b) => ((a.seq as string) < (b.seq as string) ? -1 : 1));
    // Admitted ones are due in pass order; the forget queue expects them in that order.
    this.#forgetAdmitted.sort();
    const live = { waiting: 0, arriving: 0, admitted: 0, abandoned: 0 };
    for (const session of this.#sessions.values()) live[session.state] += 1;
    this.#counts.waiting = live.waiting;
    this.#counts.arriving = live.arriving;
    this.#counts.admitted = Math.max(live.admitted, snapshot.counts?.admitted ?? 0);
    this.#counts.abandoned = Math.max(live.abandoned, snapshot.counts?.abandoned ?? 0);
    if (snapshot.roomState) this.#roomState = structuredClone(snapshot.roomState);
    return disconnected.map((session) => ({ ...session }));
  }

  #forgetFinished(now: number): void {
    const forgotten: string[] = [];
    for (const queue of [this.#forgetAdmitted, this.#forgetAbandoned]) {
      for (const id of queue.due(now)) {
        const session = this.#sessions.get(id);
        if (!session) continue;
        this.#sessions.delete(id);
        this.#pendingNotices.delete(id);
        if (session.connectionId && this.#connections.get(session.connectionId) === id) {
          this.#connections.delete(session.connectionId);
        }
        if (session.identity !== undefined && this.#identities.get(session.identity) === id) {
          this.#identities.delete(session.identity);
        }
        forgotten.push(id);
      }
    }
    if (forgotten.length > 0) this.onForget?.(forgotten);
  }

  #move(session: Session, state: Session['state']): void {
    this.#counts[session.state] -= 1;
    session.state = state;
    this.#counts[state] += 1;
  }

  /** Drops sessions that left the line once they are at least half of it. */
  #compact(): void {
    if (this.#lineGone > 0 && this.#lineGone * 2 >= this.#line.length) {
      this.#line = this.#line.filter((session) => session.state === 'waiting');
      this.#lineGone = 0;
    }
  }
}
