/**
 * The local runtime's store and arrival queue kept on disk ({@link RoomFile}): the in-process
 * ones do the work (so a tick reads memory, as before), and every change is written through to
 * the database in the same turn of the event loop. No call answers before the transaction
 * holding its writes (and whatever it read) is committed, so what a visitor is told, `joined`
 * or `admitted` or a position, is never lost by a crash: a restart reads it all back.
 */
import type { RoomDraw } from '../../core/draw.ts';
import type {
  Arrival,
  ArrivalQueue,
  ChangePage,
  Clock,
  IssuedPass,
  ReceivedArrival,
  RoomConfig,
  RoomCounts,
  RoomState,
  SessionStore,
} from '../../core/ports.ts';
import { POW_CHALLENGE_TTL_SECONDS, POW_CLOCK_SKEW_SECONDS } from '../../core/proof-of-work.ts';
import type { Session } from '../../core/session.ts';
import { MemoryArrivalQueue } from './memory-arrival-queue.ts';
import { MemorySessionStore } from './memory-session-store.ts';
import type { RoomFile } from './room-file.ts';

export interface DurableRoom {
  store: DurableSessionStore;
  queue: DurableArrivalQueue;
  /** The operator's live settings as last saved (null: never, in this directory). */
  config: RoomConfig | null;
  /** What the restart found: sessions in line and not yet numbered, and how long it was down. */
  restored: { waiting: number; arriving: number; downMs: number };
  /** The source of every place in line (waiting or arriving) counted under one. */
  sourcesInLine: string[];
}

/**
 * The store and queue of the room in `file`, as the previous process left them. The room was
 * down from its last tick (the token bucket's time) until now: that time does not count against
 * a disconnected visitor's grace.
 */
export function openDurableRoom(file: RoomFile, clock: Clock): DurableRoom {
  const contents = file.read();
  const memory = new MemorySessionStore(clock);
  const now = clock.now();
  const lastTick = contents.roomState?.refilledAt ?? now;
  const downMs = Math.max(0, now - lastTick);
  const disconnected = memory.restore(
    { sessions: contents.sessions, roomState: contents.roomState, counts: contents.counts },
    now,
    downMs,
  );
  const arrivals = new MemoryArrivalQueue(clock);
  arrivals.restore(contents.arrivals, contents.lastOrder);
  if (disconnected.length > 0) file.journal.write(() => file.putSessions(disconnected));
  const counts = { waiting: 0, arriving: 0 };
  const sourcesInLine: string[] = [];
  for (const session of contents.sessions) {
    if (session.state !== 'waiting' && session.state !== 'arriving') continue;
    counts[session.state] += 1;
    if (session.source !== undefined) sourcesInLine.push(session.source);
  }
  return {
    store: new DurableSessionStore(memory, file, now),
    queue: new DurableArrivalQueue(arrivals, file),
    config: contents.config,
    restored: { ...counts, downMs },
    sourcesInLine,
  };
}

export class DurableSessionStore implements SessionStore {
  readonly #memory: MemorySessionStore;
  readonly #file: RoomFile;
  /** When this process opened the room (epoch ms). */
  readonly #openedAt: number;

  constructor(memory: MemorySessionStore, file: RoomFile, openedAt = Date.now()) {
    this.#memory = memory;
    this.#file = file;
    this.#openedAt = openedAt;
    memory.onForget = (ids) => file.journal.write(() => file.deleteSessions(ids));
  }

  /** Writes the sessions as they are now (and the totals when they moved), then waits. */
  async #save(ids: readonly string[], countsChanged: boolean): Promise<void> {
    const sessions: Session[] = [];
    for (const id of ids) {
      const session = await this.#memory.get(id);
      if (session) sessions.push(session);
    }
    const counts = countsChanged ? await this.#memory.counts() : null;
    this.#file.journal.write(() => {
      this.#file.putSessions(sessions);
      if (counts) this.#file.put('counts', counts);
    });
    await this.#file.journal.settled();
  }

  /** A read answers only once what it may have seen is committed. */
  async #read<T>(value: T): Promise<T> {
    await this.#file.journal.settled();
    return value;
  }

  async create(session: Session, replacing?: string): Promise<void> {
    await this.#memory.create(session, replacing);
    await this.#save([session.id], true);
  }

  async get(sessionId: string): Promise<Session | undefined> {
    return this.#read(await this.#memory.get(sessionId));
  }

  async sessionOfConnection(connectionId: string): Promise<string | undefined> {
    return this.#read(await this.#memory.sessionOfConnection(connectionId));
  }

  async sessionOfIdentity(identity: string): Promise<string | undefined> {
    return this.#read(await this.#memory.sessionOfIdentity(identity));
  }

  /**
   * In memory only: the binding is written with the session that takes it (`create`), and a
   * restart rebuilds it from the sessions. A crash between the two leaves nothing to undo.
   */
  async claimIdentity(identity: string, sessionId: string, previous: string | null) {
    return this.#memory.claimIdentity(identity, sessionId, previous);
  }

  /**
   * In memory only: a spent proof is kept minutes, and writing each to disk would put a commit
   * on every join. A restart forgets them, so a proof whose challenge may have been made before
   * this process opened the room (and spent by the one before) is refused: those visitors solve
   * a new challenge, and no proof ever takes two places.
   */
  async spendProof(id: string, expiresAt: number): Promise<boolean> {
    const madeAt = expiresAt / 1000 - POW_CLOCK_SKEW_SECONDS - POW_CHALLENGE_TTL_SECONDS;
    if (madeAt < Math.floor(this.#openedAt / 1000)) return false;
    return this.#memory.spendProof(id, expiresAt);
  }

  async attachConnection(sessionId: string, connectionId: string, at: number): Promise<void> {
    // The place the connection held until now is marked disconnected too: saved with it.
    const previous = await this.#memory.sessionOfConnection(connectionId);
    await this.#memory.attachConnection(sessionId, connectionId, at);
    const changed = previous === undefined || previous === sessionId ? [] : [previous];
    await this.#save([sessionId, ...changed], false);
  }

  async detachConnection(connectionId: string, at: number): Promise<string | undefined> {
    const sessionId = await this.#memory.detachConnection(connectionId, at);
    if (sessionId) await this.#save([sessionId], false);
    return sessionId;
  }

  async askForPosition(sessionId: string): Promise<void> {
    await this.#memory.askForPosition(sessionId);
    await this.#read(undefined);
  }

  async readChanges(cursor: string | null): Promise<ChangePage> {
    return this.#read(await this.#memory.readChanges(cursor));
  }

  async numberArrivals(
    arrivals: readonly Pick<ReceivedArrival, 'sessionId' | 'order'>[],
  ): Promise<Session[]> {
    const numbered = await this.#memory.numberArrivals(arrivals);
    await this.#save(
      numbered.map((session) => session.id),
      numbered.length > 0,
    );
    return numbered;
  }

  async readLine(): Promise<Session[]> {
    return this.#read(await this.#memory.readLine());
  }

  async admit(sessionId: string, pass: IssuedPass, at: number): Promise<boolean> {
    const admitted = await this.#memory.admit(sessionId, pass, at);
    if (admitted) await this.#save([sessionId], true);
    return this.#read(admitted);
  }

  async abandon(sessionId: string, disconnectedAt: number, at: number): Promise<boolean> {
    const abandoned = await this.#memory.abandon(sessionId, disconnectedAt, at);
    if (abandoned) await this.#save([sessionId], true);
    return this.#read(abandoned);
  }

  async pendingAdmissionNotices(limit: number): Promise<Session[]> {
    return this.#read(await this.#memory.pendingAdmissionNotices(limit));
  }

  async markAdmissionNotified(sessionIds: readonly string[]): Promise<void> {
    await this.#memory.markAdmissionNotified(sessionIds);
    await this.#save(sessionIds, false);
  }

  async getRoomState(): Promise<RoomState> {
    return this.#read(await this.#memory.getRoomState());
  }

  async putRoomState(state: RoomState): Promise<boolean> {
    const saved = await this.#memory.putRoomState(state);
    // As kept in memory (with its draw, which this write does not touch).
    if (saved) await this.#saveRoomState();
    return this.#read(saved);
  }

  async putDraw(draw: RoomDraw | null, expected: RoomDraw | null): Promise<boolean> {
    const saved = await this.#memory.putDraw(draw, expected);
    if (saved) await this.#saveRoomState();
    return this.#read(saved);
  }

  async #saveRoomState(): Promise<void> {
    const state = await this.#memory.getRoomState();
    this.#file.journal.write(() => this.#file.put('roomState', state));
  }

  async counts(): Promise<RoomCounts> {
    return this.#read(await this.#memory.counts());
  }
}

export class DurableArrivalQueue implements ArrivalQueue {
  readonly settleMs = 0;
  readonly holdAfterTakeoverMs = 0;
  readonly #memory: MemoryArrivalQueue;
  readonly #file: RoomFile;

  constructor(memory: MemoryArrivalQueue, file: RoomFile) {
    this.#memory = memory;
    this.#file = file;
    memory.onEnqueued = (arrival) =>
      file.journal.write(() => {
        file.putArrival(arrival);
        file.put('lastOrder', arrival.order);
      });
    memory.onAcknowledged = (orders) => file.journal.write(() => file.deleteArrivals(orders));
  }

  async enqueue(arrival: Arrival): Promise<void> {
    await this.#memory.enqueue(arrival);
    await this.#file.journal.settled();
  }

  async receive(max: number): Promise<ReceivedArrival[]> {
    const received = await this.#memory.receive(max);
    await this.#file.journal.settled();
    return received;
  }

  async acknowledge(arrivals: readonly ReceivedArrival[]): Promise<void> {
    await this.#memory.acknowledge(arrivals);
    await this.#file.journal.settled();
  }
}
