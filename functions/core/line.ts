/**
 * The waiting line as the processor keeps it in memory while it holds the lease.
 *
 * The processor is the only writer of the line's order (it numbers arrivals, admits from the
 * head, abandons the long gone), so it does not need to read the line back every tick: it reads
 * it once when it takes the lease over (`SessionStore.readLine`), then keeps it up to date
 * from what it does itself and from the connection changes the handlers log
 * (`SessionStore.readChanges`). A tick then costs what it does (arrivals, changes, admissions,
 * the fan-out budget), not the length of the line:
 *
 * - positions come from a Fenwick tree over the departures, O(log n) each;
 * - the fan-out looks at a bounded set of candidates: visitors never told a position on their
 *   connection (new, back, or asking), the front of the line, and a window that rotates through
 *   the rest, so every connected visitor comes round within `size / window` ticks;
 * - disconnected visitors are kept in the order they left, so the overdue ones are found at once.
 *
 * What each visitor was last told (`sentPosition`, `sentAt`) lives here only: pushes write
 * nothing to the store.
 */
import type { DrawnSession } from './draw.ts';
import type { FanoutCandidate } from './fanout.ts';
import type { ConnectionChange } from './ports.ts';
import type { Session } from './session.ts';

/** A waiting session as the line remembers it. */
export interface LineEntry {
  id: string;
  seq: string;
  /**
   * Where it stands in the line's order, as a string that sorts as the line does: the line's
   * `placeOf` (by default its `seq`; members of a draw by their rank, `draw.ts`).
   */
  place: string;
  joinedAt: number;
  returnPath: string;
  connectionId: string | null;
  disconnectedAt: number | null;
  /** Version of the connection fields; a change with a version not above it is stale. */
  connectionVersion: number;
  /** The source the place is counted under (given back when it leaves), or null. */
  source: string | null;
  /** The position last told on any connection; never rises. */
  sentPosition: number | null;
  /** When it was told on the current connection; null once a new connection attached. */
  sentAt: number | null;
  /**
   * The connection told the room's standing (`open` with the room off, `closed` with the sale
   * over) since it last changed (null: none).
   */
  openTold: string | null;
  /** The version of the operator's message it heard (processor's `notice`; 0: none). */
  noticeHeard: number;
  /** Waiting to be told its position (never told on this connection, or asking). */
  untold: boolean;
  /** The last `candidates` call that offered it (so that one call offers it once). */
  round: number;
}

/** Binary indexed tree counting departures by slot, for positions in O(log n). */
class DepartureCounts {
  #tree: Int32Array;

  constructor(capacity: number) {
    this.#tree = new Int32Array(capacity + 1);
  }

  get capacity(): number {
    return this.#tree.length - 1;
  }

  add(slot: number): void {
    for (let i = slot + 1; i < this.#tree.length; i += i & -i) {
      this.#tree[i] = (this.#tree[i] as number) + 1;
    }
  }

  /** Departures in slots [0, slot). */
  before(slot: number): number {
    let sum = 0;
    for (let i = slot; i > 0; i -= i & -i) sum += this.#tree[i] as number;
    return sum;
  }
}

export class WaitingLine {
  /** Slots in sequence order; null where a session left. Slots before `#head` are all gone. */
  #slots: (LineEntry | null)[] = [];
  #head = 0;
  #slotOf = new Map<string, number>();
  #departures = new DepartureCounts(1024);
  /** Disconnected sessions by id, in the order they were seen to leave. */
  #disconnected = new Map<string, number>();
  /**
   * Sessions to tell their position at the next ticks (never told on this connection), oldest
   * first, from `#untoldHead`. Told or departed ones are dropped lazily (their entry's `untold`
   * is false, or the entry is gone): a Set losing its first entries one by one makes iterating
   * it walk the holes, and rehashes a million ids as it shrinks (3 ms a tick at a million).
   */
  #untold: string[] = [];
  #untoldHead = 0;
  /** Counts `candidates` calls (see `LineEntry.round`). */
  #round = 0;
  /** Where the rotating fan-out window starts next (a slot). */
  #cursor = 0;
  /** Where the operator's notice goes on next (a slot): a window of its own. */
  #noticeCursor = 0;

  /** Where a session stands in this line's order (see `LineEntry.place`). */
  readonly placeOf: (session: DrawnSession) => string;

  constructor(placeOf?: WaitingLine['placeOf']) {
    this.placeOf = placeOf ?? ((session) => session.seq);
  }

  /** A line built from the store's listing (any order: it is sorted by place). */
  static from(sessions: Iterable<Session>, placeOf?: WaitingLine['placeOf']): WaitingLine {
    const line = new WaitingLine(placeOf);
    const placed: [string, Session][] = [];
    for (const session of sessions) {
      if (session.seq !== null) placed.push([line.placeOf(session as DrawnSession), session]);
    }
    for (const [place, session] of sortedByPlace(placed)) line.#appendPlaced(session, place);
    return line;
  }

  /**
   * The same sessions in the order of another `placeOf` (a draw made or undone): connections
   * and abandon marks are kept; what each was told is forgotten, so everyone hears again.
   */
  reordered(placeOf: WaitingLine['placeOf']): WaitingLine {
    const before = new Map([...this.entries()].map((entry) => [entry.id, entry]));
    const line = WaitingLine.from([...before.values()].map(sessionOfEntry), placeOf);
    for (const entry of line.entries()) {
      const was = before.get(entry.id) as LineEntry;
      // A place never goes up: what each was told still bounds what it is told next.
      entry.sentPosition = was.sentPosition;
      entry.openTold = was.openTold;
      entry.noticeHeard = was.noticeHeard;
    }
    return line;
  }

  get size(): number {
    return this.#slotOf.size;
  }

  /**
   * Slots from the head to the tail, holes left by departures included: what the rotating
   * window walks (at most twice the size: holes past half of it are compacted away).
   */
  get span(): number {
    return this.#slots.length - this.#head;
  }

  /** The place of the last session appended (null when the line never held anyone). */
  get lastPlace(): string | null {
    return this.#tailPlace;
  }

  #tailPlace: string | null = null;

  has(sessionId: string): boolean {
    return this.#slotOf.has(sessionId);
  }

  entry(sessionId: string): LineEntry | undefined {
    const slot = this.#slotOf.get(sessionId);
    return slot === undefined ? undefined : (this.#slots[slot] ?? undefined);
  }

  /**
   * Adds a numbered session in its place: at the tail, as arrivals are numbered in order. One
   * that comes out of order (a queue that did not keep it) is put where its `seq` belongs, at
   * the cost of rebuilding the line.
   */
  append(session: Session): boolean {
    if (session.seq === null) return false;
    return this.#appendPlaced(session, this.placeOf(session as DrawnSession));
  }

  /** {@link append} with the session's place already known. */
  #appendPlaced(session: Session, place: string): boolean {
    if (session.seq === null || session.state !== 'waiting' || this.#slotOf.has(session.id)) {
      return false;
    }
    const tail = this.lastPlace;
    if (tail !== null && place < tail) {
      this.#insertOutOfOrder(session, place);
      return true;
    }
    if (this.#slots.length >= this.#departures.capacity) this.#rebuild();
    const entry: LineEntry = {
      id: session.id,
      seq: session.seq,
      place,
      joinedAt: session.joinedAt,
      returnPath: session.returnPath,
      connectionId: session.connectionId,
      disconnectedAt: session.disconnectedAt,
      connectionVersion: session.connectionVersion,
      source: session.source ?? null,
      sentPosition: null,
      sentAt: null,
      openTold: null,
      noticeHeard: 0,
      untold: false,
      round: 0,
    };
    this.#slotOf.set(entry.id, this.#slots.length);
    this.#slots.push(entry);
    this.#tailPlace = entry.place;
    if (entry.disconnectedAt !== null) this.#disconnected.set(entry.id, entry.disconnectedAt);
    else if (entry.connectionId !== null) this.#markUntold(entry);
    return true;
  }

  #insertOutOfOrder(session: Session, place: string): void {
    const live = [...this.entries()];
    const at = live.findIndex((entry) => entry.place > place);
    const tailPlace = this.#tailPlace;
    this.#slots = at < 0 ? live : live.slice(0, at);
    this.#head = 0;
    this.#rebuild();
    const rest = at < 0 ? [] : live.slice(at);
    this.#tailPlace = null;
    this.#appendPlaced(session, place);
    for (const entry of rest) {
      this.#slotOf.set(entry.id, this.#slots.length);
      this.#slots.push(entry);
    }
    if (this.#slots.length >= this.#departures.capacity) this.#rebuild();
    this.#tailPlace = tailPlace;
  }

  /** Takes a session out of the line (admitted or abandoned). */
  remove(sessionId: string): void {
    const slot = this.#slotOf.get(sessionId);
    if (slot === undefined) return;
    this.#slots[slot] = null;
    this.#slotOf.delete(sessionId);
    this.#disconnected.delete(sessionId);
    this.#departures.add(slot);
    while (this.#head < this.#slots.length && this.#slots[this.#head] === null) this.#head += 1;
    const holesAhead = this.#head > 1024 && this.#head * 2 > this.#slots.length;
    const holesWithin = this.span > 1024 && this.size * 2 < this.span;
    if (holesAhead || holesWithin) this.#rebuild();
  }

  /**
   * Applies a connection change a handler logged. Stale changes (an older version than the
   * line holds) and changes for sessions not in line are ignored; `asked` (a `status`) makes
   * the visitor hear the position again at the next tick.
   */
  apply(change: ConnectionChange): void {
    const entry = this.entry(change.sessionId);
    if (!entry) return;
    if (change.version > entry.connectionVersion) {
      const attached = change.connectionId !== entry.connectionId;
      entry.connectionId = change.connectionId;
      entry.disconnectedAt = change.disconnectedAt;
      entry.connectionVersion = change.version;
      if (attached) entry.sentAt = null;
      this.#disconnected.delete(entry.id);
      if (entry.disconnectedAt !== null) this.#disconnected.set(entry.id, entry.disconnectedAt);
    }
    if (entry.connectionId !== null && entry.disconnectedAt === null) {
      const asked = change.asked && (entry.sentAt ?? 0) <= (change.at ?? Number.POSITIVE_INFINITY);
      if (asked) entry.sentAt = null;
      if (entry.sentAt === null) this.#markUntold(entry);
    }
  }

  /** Takes the store's word for a session's connection, whatever the versions say. */
  refresh(session: Session): void {
    const entry = this.entry(session.id);
    if (!entry) return;
    entry.connectionVersion = Math.min(entry.connectionVersion, session.connectionVersion - 1);
    this.apply({
      sessionId: session.id,
      connectionId: session.connectionId,
      disconnectedAt: session.disconnectedAt,
      version: entry.connectionVersion + 1,
    });
    entry.connectionVersion = session.connectionVersion;
  }

  /** 1 + the number of sessions ahead of this one; undefined if it is not in line. */
  positionOf(sessionId: string): number | undefined {
    const slot = this.#slotOf.get(sessionId);
    return slot === undefined ? undefined : this.#positionAt(slot);
  }

  #positionAt(slot: number): number {
    return (
      slot - this.#head - (this.#departures.before(slot) - this.#departures.before(this.#head)) + 1
    );
  }

  /** The first `count` sessions of the line, front first. */
  heads(count: number): LineEntry[] {
    const out: LineEntry[] = [];
    for (let slot = this.#head; slot < this.#slots.length && out.length < count; slot++) {
      const entry = this.#slots[slot];
      if (entry) out.push(entry);
    }
    return out;
  }

  /** Sessions disconnected since before `before`, oldest first. */
  disconnectedBefore(before: number): LineEntry[] {
    const out: LineEntry[] = [];
    for (const [id, at] of this.#disconnected) {
      if (at < before) out.push(this.entry(id) as LineEntry);
    }
    return out;
  }

  /** Every session in line order (for tests and the operator's view; O(size)). */
  *entries(): Generator<LineEntry> {
    for (let slot = this.#head; slot < this.#slots.length; slot++) {
      const entry = this.#slots[slot];
      if (entry) yield entry;
    }
  }

  /**
   * The candidates for this tick's `position` pushes, each with its position: the untold, the
   * first `frontCount` and the next `window` connected sessions from the rotating cursor. Each
   * appears once; the fan-out plan picks among them within its budget.
   */
  candidates(frontCount: number, window: number): FanoutCandidate<LineEntry>[] {
    const out: FanoutCandidate<LineEntry>[] = [];
    // Each entry once: marked with this call's round (cheaper than a set of ten thousand).
    const round = ++this.#round;
    const take = (slot: number) => {
      const entry = this.#slots[slot];
      if (
        !entry ||
        entry.round === round ||
        entry.connectionId === null ||
        entry.disconnectedAt !== null
      ) {
        return;
      }
      entry.round = round;
      out.push({ entry, position: this.#positionAt(slot) });
    };
    // The untold, front first (they were added in line order, mostly), at most a window's worth:
    // after a flash crowd they are many, and the rest come at the next ticks.
    let untold = 0;
    for (let i = this.#untoldHead; i < this.#untold.length && untold < window; i++) {
      const slot = this.#slotOf.get(this.#untold[i] as string);
      const entry = slot === undefined ? null : this.#slots[slot];
      if (!entry?.untold) {
        // Told or gone: dropped from the head as it is passed.
        if (i === this.#untoldHead) this.#untoldHead += 1;
        continue;
      }
      untold += 1;
      take(slot as number);
    }
    if (this.#untoldHead > 1024 && this.#untoldHead * 2 > this.#untold.length) {
      this.#untold = this.#untold.slice(this.#untoldHead);
      this.#untoldHead = 0;
    }
    let front = 0;
    for (let slot = this.#head; slot < this.#slots.length && front < frontCount; slot++) {
      if (this.#slots[slot]) {
        front += 1;
        take(slot);
      }
    }
    this.#rotate(window, take);
    return out;
  }

  /**
   * The connected sessions among the next `window` slots from the rotating cursor (the room off
   * tells them `open` a window at a time).
   */
  rotation(window: number): LineEntry[] {
    const out: LineEntry[] = [];
    this.#rotate(window, (slot) => {
      const entry = this.#slots[slot];
      if (entry && entry.connectionId !== null && entry.disconnectedAt === null) out.push(entry);
    });
    return out;
  }

  /**
   * The connected sessions among the next `window` slots of the notice's own rotating window
   * (the operator's message goes round the line without moving the positions' window).
   */
  noticeRotation(window: number): LineEntry[] {
    const cursor = this.#cursor;
    this.#cursor = this.#noticeCursor;
    try {
      return this.rotation(window);
    } finally {
      this.#noticeCursor = this.#cursor;
      this.#cursor = cursor;
    }
  }

  /**
   * Visits the next `window` slots from the rotating cursor, at most the line's span (so a line
   * of mostly disconnected sessions cannot make a tick long), wrapping round; the next call
   * carries on from there.
   */
  #rotate(window: number, visit: (slot: number) => void): void {
    const steps = Math.min(window, this.span);
    let slot = Math.max(this.#cursor, this.#head);
    for (let i = 0; i < steps; i++, slot++) {
      if (slot >= this.#slots.length) slot = this.#head;
      visit(slot);
    }
    this.#cursor = slot;
  }

  /** The room's standing changed (off, closed): everyone in line is to be told it again. */
  forgetOpens(): void {
    for (const entry of this.entries()) entry.openTold = null;
  }

  /** Records that a session heard from the room now, without a place (the pre-queue). */
  heard(entry: LineEntry, now: number): void {
    entry.sentAt = now;
    entry.untold = false;
  }

  /** Records that a session was told `position` now. */
  told(entry: LineEntry, position: number, now: number): void {
    entry.sentPosition = position;
    entry.sentAt = now;
    entry.untold = false;
  }

  #markUntold(entry: LineEntry): void {
    if (entry.untold) return;
    entry.untold = true;
    this.#untold.push(entry.id);
  }

  /** Moves the live slots to the front and rebuilds the departure counts (amortized O(1)). */
  #rebuild(): void {
    const live: LineEntry[] = [];
    for (let slot = this.#head; slot < this.#slots.length; slot++) {
      const entry = this.#slots[slot];
      if (entry) live.push(entry);
    }
    const cursorEntry = this.#cursor - this.#head;
    const noticeEntry = this.#noticeCursor - this.#head;
    this.#slots = live;
    this.#head = 0;
    this.#slotOf = new Map(live.map((entry, slot) => [entry.id, slot]));
    this.#departures = new DepartureCounts(Math.max(1024, live.length * 2));
    this.#cursor = Math.min(Math.max(0, cursorEntry), live.length);
    this.#noticeCursor = Math.min(Math.max(0, noticeEntry), live.length);
  }
}

/**
 * `placed` in the order of their places. Places drawn by rank are hex digests in random order:
 * sorting them in buckets of their first characters (a few thousand, in order) halves the
 * comparisons of one sort of the whole line, the cost of a takeover after a draw at a million.
 * Places in sequence come from the store in order already, one bucket, which a sort keeps in one
 * pass.
 */
function sortedByPlace<T>(placed: [string, T][]): [string, T][] {
  const byPlace = ([a]: [string, T], [b]: [string, T]) => (a < b ? -1 : a > b ? 1 : 0);
  if (placed.length < 4096) return placed.sort(byPlace);
  const buckets = new Map<string, [string, T][]>();
  for (const item of placed) {
    const key = item[0].slice(0, 4);
    const bucket = buckets.get(key);
    if (bucket) bucket.push(item);
    else buckets.set(key, [item]);
  }
  const out: [string, T][] = [];
  for (const key of [...buckets.keys()].sort()) {
    for (const item of (buckets.get(key) as [string, T][]).sort(byPlace)) out.push(item);
  }
  return out;
}

/** The session a line entry stands for, as the store would list it. */
function sessionOfEntry(entry: LineEntry): Session {
  return {
    id: entry.id,
    state: 'waiting',
    returnPath: entry.returnPath,
    joinedAt: entry.joinedAt,
    seq: entry.seq,
    connectionId: entry.connectionId,
    disconnectedAt: entry.disconnectedAt,
    connectionVersion: entry.connectionVersion,
    pass: null,
    admittedAt: null,
    admissionNotified: false,
    ...(entry.source === null ? {} : { source: entry.source }),
  };
}
