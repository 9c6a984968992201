/**
 * The processor tick: the one place where the line moves. One leader runs it about every
 * second, keeping the line in memory while it holds the lease ({@link WaitingLine}): it reads
 * the line from the store only when it takes the lease over. Each step is safe to interrupt and
 * repeat: numbering and admission are conditional in the store, the token bucket is written
 * before anyone is admitted, and `admitted` messages are kept in an outbox until delivered.
 */
import { allowance, etaSeconds } from './admission.ts';
import { ArrivalMerge } from './arrival-merge.ts';
import {
  type DrawnSession,
  drawFor,
  dueToDraw,
  isMember,
  isPrequeue,
  type PublishedDraw,
  placeOf,
  publishedDraw,
  type RoomDraw,
  recordDraw,
} from './draw.ts';
import { planPositionUpdates } from './fanout.ts';
import { type LineEntry, WaitingLine } from './line.ts';
import type {
  ArrivalQueue,
  Clock,
  ConfigSource,
  Notifier,
  RoomConfig,
  SessionStore,
  Signer,
  SourcePlaces,
} from './ports.ts';
import type { PositionMessage, PrequeueMessage, ServerMessage } from './protocol.ts';
import { mainSiteUrl } from './return-path.ts';
import type { Session } from './session.ts';

export interface ProcessorSettings {
  mainOrigin: string;
  tickMs: number;
  /** A session whose connection has been gone longer than this leaves the line. */
  abandonAfterMs: number;
  /** Arrivals numbered per tick at most (bounds a tick's work under a join flood; so does half a tick of time). */
  maxArrivalsPerTick: number;
  /**
   * Arrivals received, numbered, then acknowledged, at a time: a crash between the two numbers
   * them again (skipped). On SQS ten receives of ten made at once.
   */
  arrivalBatch: number;
  /** A waiting visitor whose position did not change still hears from us this often. */
  positionRefreshMs: number;
  /** Nobody waits longer than this for a `position`, while the budget can carry the line. */
  maxUpdateIntervalMs: number;
  /** Messages per second the tick may spend on `position` (and `admitted`) pushes. */
  positionBudgetPerSecond: number;
  /** Pushes in flight at once. */
  sendConcurrency: number;
}

export const DEFAULT_PROCESSOR_SETTINGS: Omit<ProcessorSettings, 'mainOrigin'> = {
  tickMs: 1000,
  abandonAfterMs: 120_000,
  maxArrivalsPerTick: 20_000,
  arrivalBatch: 100,
  positionRefreshMs: 10_000,
  maxUpdateIntervalMs: 30_000,
  // As on AWS: at one push every 10 s behind the front, 5,000 a second tells 50,000 waiting,
  // more than one machine's sockets, and keeps a tick at a million waiting under 10 ms.
  positionBudgetPerSecond: 5000,
  sendConcurrency: 64,
};

/**
 * What a processor remembers between its ticks while it holds the lease. A processor that takes
 * the lease over starts from {@link forgetLine} (someone else may have moved the line).
 */
export interface ProcessorMemory {
  /** The line, or null until it is read from the store. */
  line: WaitingLine | null;
  /** Numbered arrivals settling before they go in line (read with the line). */
  arrivals: ArrivalMerge | null;
  /** Where the connection change log was read up to. */
  changes: string | null;
  /** The config last mirrored onto the room state for the handlers (null: not this run). */
  mirrored: RoomConfig | null;
  /**
   * What the last tick told the line: places (`positions`), the pre-queue, or once per
   * connection that the room is off (`open`) or the sale `closed`.
   */
  standing: Standing;
  /** The draw the line is ordered by (`draw.ts`), as last read or made. */
  draw: RoomDraw | null;
  /**
   * The operator's message being told to the line: a version that goes up with each change
   * (entries remember the version they heard) and how many slots of the line are left to visit
   * (0: everyone was told); null before this processor's first tick.
   */
  notice: { message: string | null; version: number; remaining: number } | null;
}

export type Standing = 'positions' | 'prequeue' | 'open' | 'closed';

export function forgetLine(): ProcessorMemory {
  return {
    line: null,
    arrivals: null,
    changes: null,
    mirrored: null,
    standing: 'positions',
    draw: null,
    notice: null,
  };
}

export interface ProcessorDeps {
  store: SessionStore;
  queue: ArrivalQueue;
  config: ConfigSource;
  notifier: Notifier;
  signer: Signer;
  clock: Clock;
  settings: ProcessorSettings;
  memory: ProcessorMemory;
  /** Where places per source are counted: admitted and abandoned places are given back. */
  sources?: SourcePlaces;
}

/** What one tick did, for logs, metrics and tests. */
export interface TickReport {
  at: number;
  config: RoomConfig;
  /** Whether this tick read the line from the store (a takeover). */
  lineRead: boolean;
  numbered: number;
  /**
   * Arrivals numbered this tick that came after the line's tail had passed their place: put
   * right behind it (`arrival-merge.ts`), never dropped.
   */
  late: number;
  /** Numbered arrivals not yet in line (settling, or held after a takeover). */
  settling: number;
  /** Connection changes applied from the log. */
  changes: number;
  admitted: string[];
  abandoned: string[];
  admissionsDelivered: number;
  positionsSent: number;
  opensSent: number;
  /** `prequeue` messages sent (before a scheduled opening). */
  prequeuesSent: number;
  /** `closed` messages sent (the sale is over). */
  closedSent: number;
  /** `notice` messages sent (the operator's message changed). */
  noticesSent: number;
  /** The draw the room has (`draw.ts`), as published (no seed before it is made), or null. */
  draw: PublishedDraw | null;
  waiting: number;
  /**
   * Since when the room has had nobody in line and nothing to do (epoch ms; 0 if it never
   * had), or null if this tick found something: a processor may sleep once it is long enough.
   */
  idleSince: number | null;
}

/** The lease was lost during a tick: what it computed is not to be sent. */
export class LeaseLostError extends Error {
  constructor() {
    super('the lease was lost during the tick; its positions were not sent');
    this.name = 'LeaseLostError';
  }
}

/**
 * Runs one tick: number arrivals, learn connection changes, drop the abandoned, admit, notify.
 * `stillHeld` (the loop's lease renewal) is asked right before positions go out: a tick that
 * stalled while another processor took over must not push the places its stale line shows.
 */
export async function runTick(
  deps: ProcessorDeps,
  stillHeld?: () => Promise<boolean>,
): Promise<TickReport> {
  const { store, clock, memory } = deps;
  const config = await deps.config.get();
  // What the processor before this one told the line, if this one just started.
  const told = await mirrorConfig(deps, config);
  const lineRead = memory.line === null;
  memory.line = memory.line ?? (await readLine(deps));
  // A schedule first seen now starts its pre-queue after those numbered until now: who joins
  // from here on (this tick's arrivals too) is in it.
  await settleDraw(deps, config, memory.line, clock.now(), false);
  const { numbered, drained, late } = await numberArrivals(deps, memory.line);
  const changes = await applyChanges(deps, memory.line);
  const now = clock.now();
  // May put the line in a new order (a draw made): read the line after it.
  const draw = await settleDraw(deps, config, memory.line, now, drained);
  const line = memory.line;

  const abandoned = await abandonGone(deps, line, now);
  const standing = standingOf(config, draw);
  const admitted = standing === 'positions' ? await admitFromHead(deps, config, line, now) : [];
  const admissionsDelivered = await deliverAdmissions(deps);
  if (stillHeld && !(await stillHeld())) throw new LeaseLostError();
  const noticesSent = await sendNotices(deps, config, line, told);
  const sent = { positionsSent: 0, opensSent: 0, prequeuesSent: 0, closedSent: 0 };
  const spent = { admissions: admissionsDelivered, arrivals: numbered, notices: noticesSent };
  if (standing === 'positions') {
    sent.positionsSent = await sendPositions(deps, config, line, now, spent, draw);
  } else if (standing === 'prequeue') {
    sent.prequeuesSent = await sendPrequeue(deps, draw as RoomDraw, line, now, spent);
  } else {
    if (memory.standing !== standing) line.forgetOpens();
    const count = await tellOnce(deps, line, standing, config);
    if (standing === 'open') sent.opensSent = count;
    else sent.closedSent = count;
  }
  memory.standing = standing;

  const settling = memory.arrivals?.size ?? 0;
  const busy =
    line.size > 0 ||
    settling > 0 ||
    numbered > 0 ||
    admitted.length > 0 ||
    abandoned.length > 0 ||
    admissionsDelivered > 0;
  const state = await store.getRoomState();
  await store.putRoomState({
    ...state,
    waiting: line.size + settling,
    tickedAt: clock.now(),
    activeAt: busy ? now : state.activeAt,
    config,
    releasedUpTo: memory.arrivals?.releasedUpTo ?? state.releasedUpTo ?? null,
  });
  return {
    at: now,
    config,
    lineRead,
    numbered,
    late,
    settling,
    changes,
    admitted,
    abandoned,
    admissionsDelivered,
    ...sent,
    noticesSent,
    draw: draw === null ? null : publishedDraw(draw),
    waiting: line.size + settling,
    idleSince: busy ? null : (state.activeAt ?? 0),
  };
}

/**
 * Mirrors a changed config onto the room state at once, before anything in the tick can fail:
 * the handlers read it there, and a room turned on must not answer `open` while ticks fail.
 * (Every tick's last write carries it too.)
 */
async function mirrorConfig(
  { store, memory }: ProcessorDeps,
  config: RoomConfig,
): Promise<RoomConfig | null | undefined> {
  const last = memory.mirrored;
  if (last !== null && sameConfig(last, config)) return undefined;
  const state = await store.getRoomState();
  await store.putRoomState({ ...state, config });
  memory.mirrored = config;
  // The first mirror of this processor: what the one before it ran with (and told the line).
  return last === null ? state.config : undefined;
}

function sameConfig(a: RoomConfig, b: RoomConfig): boolean {
  return (
    a.enabled === b.enabled &&
    a.admitPerMinute === b.admitPerMinute &&
    (a.opensAt ?? null) === (b.opensAt ?? null) &&
    (a.powCost ?? 0) === (b.powCost ?? 0) &&
    (a.message ?? null) === (b.message ?? null) &&
    (a.closed ?? null) === (b.closed ?? null)
  );
}

/**
 * What the line is told this tick: the room off sends everyone in (`open`), even a closed sale
 * or a pre-queue; a closed sale admits nobody more; before the opening, the pre-queue waits.
 */
function standingOf(config: RoomConfig, draw: RoomDraw | null): Standing {
  if (!config.enabled) return 'open';
  if (config.closed != null) return 'closed';
  if (isPrequeue(draw)) return 'prequeue';
  return 'positions';
}

/**
 * Reads the whole line from the store, once, when the lease is taken over, in the order of the
 * room's draw. The change log is opened first, so a connection change made while the line is
 * read is applied after it.
 */
async function readLine({ store, memory, queue, clock, settings }: ProcessorDeps) {
  memory.changes = (await store.readChanges(null)).cursor;
  const state = await store.getRoomState();
  memory.draw = state.draw ?? null;
  const sessions = await store.readLine();
  // Numbered by the processor before this one but never put in line: they settle here again,
  // where arrivals it held in flight can still come back ahead of them.
  // (None ever put in line: all of them.)
  const releasedUpTo = state.releasedUpTo ?? null;
  const inLine: Session[] = [];
  const settling: Session[] = [];
  for (const session of sessions) {
    if (session.seq !== null && session.seq > (releasedUpTo ?? '')) settling.push(session);
    else inLine.push(session);
  }
  // Nothing can be in flight after a clean stop that followed the last tick.
  const stoppedCleanly =
    state.tickedAt !== null && (state.stoppedAt ?? Number.NEGATIVE_INFINITY) >= state.tickedAt;
  const hold = queue.holdAfterTakeoverMs > 0 && state.tickedAt !== null && !stoppedCleanly;
  const lastTick = state.tickedAt ?? 0;
  // The room's first processor marks its start before it receives anything: if it dies in its
  // first tick, the next one knows that arrivals may be in flight and holds for them.
  if (queue.holdAfterTakeoverMs > 0 && state.tickedAt === null) {
    await store.putRoomState({ ...state, tickedAt: clock.now() });
  }
  memory.arrivals = new ArrivalMerge({
    settleMs: queue.settleMs,
    releasedUpTo,
    holdAcceptedUpTo: hold ? lastTick + 2 * settings.tickMs + queue.settleMs : 0,
    holdUntil: hold ? lastTick + 2 * settings.tickMs + queue.holdAfterTakeoverMs : 0,
  });
  memory.arrivals.add(settling.map((session) => ({ session, acceptedAt: 0 })));
  // The hold is over (or there is none): what waited goes in line at once.
  const line = WaitingLine.from(inLine, orderOf(memory.draw));
  for (const session of memory.arrivals.release(clock.now())) line.append(session);
  return line;
}

/** The line's order under a draw: members by their rank, ahead of the rest in sequence. */
function orderOf(draw: RoomDraw | null): ((session: DrawnSession) => string) | undefined {
  return orderKeyOf(draw) === '' ? undefined : (session) => placeOf(draw, session);
}

/** The last sequence numbered in the line (null: nobody in line). */
function maxSeqOf(line: WaitingLine): string | null {
  let max: string | null = null;
  for (const entry of line.entries()) if (max === null || entry.seq > max) max = entry.seq;
  return max;
}

/** What decides the line's order under a draw (two draws with the same one order alike). */
function orderKeyOf(draw: RoomDraw | null): string {
  if (draw === null) return '';
  const previous = draw.previous?.drawnAt == null ? '' : draw.previous.seed;
  const own = draw.drawnAt === null ? '' : `${draw.seed}|${draw.lastSeq}|${draw.opensAt}`;
  // Those in line before a schedule keep their order: with no draw made, so does everyone.
  return previous === '' && own === '' ? '' : `${previous}|${draw.afterSeq ?? ''}|${own}`;
}

/**
 * Brings the room's draw in line with the schedule (`drawFor`), and makes it once its time has
 * come: the draw is saved before the line takes its order, so a processor that fails in
 * between, or the next one, orders the line the same way from the store.
 */
async function settleDraw(
  { store, memory }: ProcessorDeps,
  config: RoomConfig,
  line: WaitingLine,
  now: number,
  drained: boolean,
): Promise<RoomDraw | null> {
  // As read with the line at the takeover, or as this processor last wrote it: the draw has no
  // other writer while it holds the lease (and a write over another's is refused, below), so a
  // tick reads nothing more for it.
  const stored = memory.draw;
  let draw = drawFor(stored, config.opensAt, now, () => maxSeqOf(line));
  // Drawn once every arrival queued by now is numbered: a join from before the opening still
  // in the queue (a flood beyond a tick's numbering, a processor that was down) is drawn too.
  if (drained && dueToDraw(draw, now)) draw = recordDraw(draw, line.entries(), now);
  // Refused: another processor changed the draw since it was read here; its draw stands.
  if (draw !== stored && !(await store.putDraw(draw, stored))) {
    draw = (await store.getRoomState()).draw ?? null;
  }
  if (orderKeyOf(draw) !== orderKeyOf(memory.draw)) {
    memory.line = line.reordered(orderOf(draw) ?? ((session) => session.seq));
  }
  memory.draw = draw;
  return draw;
}

/**
 * Records that this processor stops cleanly, after a tick that completed: it holds no arrival
 * in flight, so its successor need not wait for any to come back (the loop's `onCleanStop`).
 */
export async function markCleanStop({ store, clock }: ProcessorDeps): Promise<void> {
  const state = await store.getRoomState();
  await store.putRoomState({ ...state, stoppedAt: clock.now() });
}

/**
 * A tick of a processor's loop: after a lease takeover, or a failed tick, the line is read from
 * the store again.
 */
export async function runLoopTick(
  deps: ProcessorDeps,
  takenOver: boolean,
  stillHeld?: () => Promise<boolean>,
): Promise<TickReport> {
  if (takenOver) Object.assign(deps.memory, forgetLine());
  try {
    return await runTick(deps, stillHeld);
  } catch (error) {
    // A tick cut short may have changed the store without the line hearing of it (a numbering
    // whose answer was lost is never redelivered as new): the next tick reads the line again.
    Object.assign(deps.memory, forgetLine());
    throw error;
  }
}

/**
 * Drains the arrival queue, giving each arriving session its place (its arrival's order, or
 * right behind the line's tail if it comes late), then puts those settled in line, in order.
 * `drained`: the queue answered empty and nothing is left settling.
 */
async function numberArrivals(
  { queue, store, settings, clock, memory }: ProcessorDeps,
  line: WaitingLine,
): Promise<{ numbered: number; drained: boolean; late: number }> {
  const merge = memory.arrivals as ArrivalMerge;
  const lateBefore = merge.late;
  // Half a tick at most: a flood waits in the queue, in order, rather than making the tick
  // outgrow its second (the bucket holds one tick; admissions would fall below the rate).
  const until = clock.now() + settings.tickMs / 2;
  let numbered = 0;
  let seen = 0;
  let drained = false;
  while (seen < settings.maxArrivalsPerTick && (seen === 0 || clock.now() < until)) {
    const batch = await queue.receive(
      Math.min(settings.arrivalBatch, settings.maxArrivalsPerTick - seen),
    );
    if (batch.length === 0) {
      drained = true;
      merge.drained(clock.now());
      break;
    }
    seen += batch.length;
    const now = clock.now();
    const acceptedAt = new Map(batch.map((arrival) => [arrival.sessionId, arrival.acceptedAt]));
    // Numbered before acknowledged: a crash in between redelivers, and the store skips
    // sessions that already have a number.
    const sessions = await store.numberArrivals(
      batch.map((arrival) => ({
        sessionId: arrival.sessionId,
        order: merge.orderFor(arrival, now),
      })),
    );
    merge.add(
      sessions.map((session) => ({ session, acceptedAt: acceptedAt.get(session.id) ?? 0 })),
    );
    numbered += sessions.length;
    await queue.acknowledge(batch);
  }
  for (const session of merge.release(clock.now())) line.append(session);
  return { numbered, drained: drained && merge.size === 0, late: merge.late - lateBefore };
}

/** Applies the connection changes logged since the last tick; returns how many were read. */
async function applyChanges({ store, memory }: ProcessorDeps, line: WaitingLine): Promise<number> {
  const page = await store.readChanges(memory.changes);
  for (const change of page.changes) {
    if (!line.has(change.sessionId)) memory.arrivals?.apply(change);
    line.apply(change);
  }
  memory.changes = page.cursor;
  return page.changes.length;
}

/** Drops the sessions whose connection has been gone longer than the grace; returns their ids. */
async function abandonGone(
  { store, settings, sources }: ProcessorDeps,
  line: WaitingLine,
  now: number,
): Promise<string[]> {
  const abandoned: string[] = [];
  const freed: string[] = [];
  try {
    await abandonEach(store, line, now - settings.abandonAfterMs, now, abandoned, freed);
  } finally {
    // Given back even when a later one failed: those already abandoned are out of the line.
    if (freed.length > 0) await sources?.release(freed);
  }
  return abandoned;
}

async function abandonEach(
  store: SessionStore,
  line: WaitingLine,
  goneBefore: number,
  now: number,
  abandoned: string[],
  freed: string[],
): Promise<void> {
  for (const entry of line.disconnectedBefore(goneBefore)) {
    // Conditional on the same absence: a visitor who came back meanwhile keeps the place (and
    // the line learns the new connection from the change log).
    if (await store.abandon(entry.id, entry.disconnectedAt as number, now)) {
      abandoned.push(entry.id);
      if (entry.source !== null) freed.push(entry.source);
      line.remove(entry.id);
    } else {
      // The store knows better (a change not yet read, or a lost one): take its word.
      const current = await store.get(entry.id);
      if (current?.state !== 'waiting') line.remove(entry.id);
      else line.refresh(current);
    }
  }
}

/**
 * Admits the first sessions of the line up to the token-bucket allowance. The bucket is saved
 * first, so a crash after it can only admit fewer, never more, than the rate allows. Every head
 * tried leaves the line: admitted here, or (its conditional admission refused) admitted before.
 */
async function admitFromHead(
  { store, signer, settings, sources }: ProcessorDeps,
  config: RoomConfig,
  line: WaitingLine,
  now: number,
): Promise<string[]> {
  const { admit, next } = allowance(
    await store.getRoomState(),
    config.admitPerMinute,
    settings.tickMs,
    now,
    line.size,
  );
  // Refused: a newer tick (another processor's, while this one stalled) spent the bucket
  // since it was read here; its tokens are not this tick's to spend.
  if (!(await store.putRoomState(next))) return [];
  const admitted: string[] = [];
  const freed: string[] = [];
  try {
    while (admitted.length < admit && line.size > 0) {
      const entry = line.heads(1)[0] as LineEntry;
      const pass = await signer.issuePass(entry.id, now);
      // Refused: admitted already, by a tick of this processor that failed after it or by one
      // that overlapped it (both spent their own tokens on it); the token goes to the next.
      if (await store.admit(entry.id, pass, now)) {
        admitted.push(entry.id);
        if (entry.source !== null) freed.push(entry.source);
      }
      line.remove(entry.id);
    }
  } finally {
    // One call for the tick's admissions (on AWS one update per source, not per visitor),
    // made even when a later admission failed: those made are out of the line for good.
    if (freed.length > 0) await sources?.release(freed);
  }
  return admitted;
}

/**
 * How long an admission waits for its session's `joined` to be delivered (a store shows no
 * connection until then) before it is left to `resume`.
 */
export const ANNOUNCE_WAIT_MS = 30_000;

/** Sends `admitted` to every admitted session not yet told; `admitted` never waits for positions. */
async function deliverAdmissions(deps: ProcessorDeps): Promise<number> {
  const { store, settings } = deps;
  const now = deps.clock.now();
  const pending = await store.pendingAdmissionNotices(10_000);
  const done: string[] = [];
  await forEachLimited(pending, settings.sendConcurrency, async (session) => {
    if (!session.pass) return;
    const joining =
      session.connectionId === null &&
      session.disconnectedAt === null &&
      now - (session.admittedAt ?? now) < ANNOUNCE_WAIT_MS;
    // Admitted in the tick that numbered it, its `joined` may still be on the way (on AWS the
    // handler posts it): `admitted` must not overtake it, so it goes at a later tick.
    if (joining) return;
    if (session.connectionId === null || session.disconnectedAt !== null) {
      // Nobody to tell now; `resume` hands the same pass back.
      done.push(session.id);
      return;
    }
    const message: ServerMessage = {
      type: 'admitted',
      pass: session.pass.token,
      expiresAt: session.pass.expiresAt,
      redirectUrl: mainSiteUrl(settings.mainOrigin, session.returnPath, {
        wr_pass: session.pass.token,
      }),
    };
    const delivery = await sendSafely(deps, session.connectionId, message);
    if (delivery !== 'failed') done.push(session.id);
  });
  if (done.length > 0) await store.markAdmissionNotified(done);
  return done.length;
}

/**
 * API messages an arrival costs besides its positions: `$connect`, `join` and `joined`. During a
 * flash crowd they share the account's API Gateway throttle with the pushes, so the tick takes
 * them off its push budget: at 1,000,000 waiting and 1,667 joins a second the room stays within
 * 7,000 messages a second (docs/CAPACITY.md).
 */
export const JOIN_MESSAGES = 3;

/** The share of the push budget a tick keeps for positions however many arrive. */
export const MIN_POSITION_SHARE = 0.2;

/**
 * Pushes `position` to the waiting visitors the fan-out plan picks within this tick's budget
 * (what `admitted` messages and the arrivals' own messages already spent this tick is taken off
 * it first, down to {@link MIN_POSITION_SHARE} of it), among the
 * candidates the line offers: the untold, the front, and a window rotating through the rest
 * (a budget's worth, so the whole line comes round every `size / budget` ticks).
 */
async function sendPositions(
  deps: ProcessorDeps,
  config: RoomConfig,
  line: WaitingLine,
  now: number,
  spent: Spent,
  draw: RoomDraw | null,
): Promise<number> {
  const { settings } = deps;
  const budget = pushBudget(settings, spent);
  const frontCount = Math.max(100, config.admitPerMinute);
  const candidates = line.candidates(
    Math.min(frontCount, Math.max(0, budget)),
    Math.max(0, budget),
  );
  const chosen = planPositionUpdates(candidates, now, {
    budget,
    refreshMs: settings.positionRefreshMs,
    maxIntervalMs: settings.maxUpdateIntervalMs,
    frontCount,
  })
    .map((index) => candidates[index] as { entry: LineEntry; position: number })
    // A place never goes up: the line in memory only shrinks ahead of a visitor, and should
    // anything have put someone ahead (a takeover's read), the visitor hears nothing until its
    // place is back below what it was told.
    .filter(({ entry, position }) => entry.sentPosition === null || position <= entry.sentPosition);
  const promise = nextUpdateSeconds(line.span, Math.max(0, budget), settings);
  const published =
    draw?.drawnAt == null ? undefined : { commitment: draw.commitment, seed: draw.seed };
  let positionsSent = 0;
  await forEachLimited(chosen, settings.sendConcurrency, async ({ entry, position }) => {
    const connectionId = entry.connectionId as string;
    line.told(entry, position, now);
    // All waiting: those in line and those numbered behind them, still settling.
    const waiting = line.size + (deps.memory.arrivals?.size ?? 0);
    const message = positionMessage(position, waiting, config.admitPerMinute, promise);
    // A member of the draw is given its seed, to check its place.
    if (published && isMember(draw, entry)) message.draw = published;
    // A gone connection is marked in the store, whose change log tells the line next tick.
    if ((await sendSafely(deps, connectionId, message)) === 'sent') positionsSent += 1;
  });
  return positionsSent;
}

/**
 * The messages a tick may push, less what admissions (never held back) and the arrivals' own
 * messages spent: the arrivals' come off down to a floor that keeps the front moving.
 */
function pushBudget(settings: ProcessorSettings, spent: Spent): number {
  const full = (settings.positionBudgetPerSecond * settings.tickMs) / 1000;
  const afterAdmissions = full - spent.admissions;
  return Math.max(
    Math.min(afterAdmissions, full * MIN_POSITION_SHARE),
    afterAdmissions - spent.arrivals * JOIN_MESSAGES - spent.notices,
  );
}

/**
 * What a tick spent before positions: `admitted` messages (never held back), arrivals (their
 * own messages) and the operator's `notice`s, which come off down to the floor.
 */
interface Spent {
  admissions: number;
  arrivals: number;
  notices: number;
}

/**
 * Before the opening: the pre-queue hears `prequeue` (the opening, how many wait, the draw's
 * commitment) instead of places, within the push budget: those not told on their connection
 * (new, back, asking) first, then a rotating window whose members are told again every
 * `positionRefreshMs`.
 */
async function sendPrequeue(
  deps: ProcessorDeps,
  draw: RoomDraw,
  line: WaitingLine,
  now: number,
  spent: Spent,
): Promise<number> {
  const { settings } = deps;
  const budget = Math.max(0, Math.floor(pushBudget(settings, spent)));
  const due = line
    .candidates(0, budget)
    .filter(
      ({ entry }) => entry.sentAt === null || now - entry.sentAt >= settings.positionRefreshMs,
    )
    .slice(0, budget);
  const message: PrequeueMessage = {
    type: 'prequeue',
    opensAt: Math.ceil(draw.opensAt / 1000),
    waiting: line.size + (deps.memory.arrivals?.size ?? 0),
    commitment: draw.commitment,
    now: now / 1000,
  };
  let sent = 0;
  await forEachLimited(due, settings.sendConcurrency, async ({ entry }) => {
    line.heard(entry, now);
    if ((await sendSafely(deps, entry.connectionId as string, message)) === 'sent') sent += 1;
  });
  return sent;
}

/**
 * With the room off (`open`: go straight in) or the sale closed (`closed`: the operator's
 * words), every connected visitor still in line is told once per connection, within the push
 * budget: the window rotates through the line, so a tick costs its budget, not the line, and
 * everyone is told within `span / budget` ticks. (A visitor who joins or comes back meanwhile
 * hears it from the handler itself.)
 */
async function tellOnce(
  deps: ProcessorDeps,
  line: WaitingLine,
  standing: 'open' | 'closed',
  config: RoomConfig,
): Promise<number> {
  const { settings } = deps;
  const budget = Math.floor((settings.positionBudgetPerSecond * settings.tickMs) / 1000);
  const due = line.rotation(budget).filter((entry) => entry.openTold !== entry.connectionId);
  let sent = 0;
  await forEachLimited(due, settings.sendConcurrency, async (entry) => {
    const connectionId = entry.connectionId as string;
    const message: ServerMessage =
      standing === 'open'
        ? { type: 'open', redirectUrl: mainSiteUrl(settings.mainOrigin, entry.returnPath) }
        : { type: 'closed', message: config.closed ?? '' };
    const delivery = await sendSafely(deps, connectionId, message);
    // A failed push is tried again at a later tick; a gone connection is told on its next one.
    if (delivery !== 'failed') entry.openTold = connectionId;
    if (delivery === 'sent') sent += 1;
  });
  return sent;
}

/**
 * Tells everyone in line the operator's message when it changes (`notice`; null takes the
 * banner down), ahead of positions: up to the whole push budget a tick, through the rotating
 * window, so a line within the budget hears it at the next tick and a longer one within
 * `span / budget` ticks. A visitor who joins or comes back hears it from the handler itself.
 */
async function sendNotices(
  deps: ProcessorDeps,
  config: RoomConfig,
  line: WaitingLine,
  told: RoomConfig | null | undefined,
): Promise<number> {
  const { settings, memory } = deps;
  const message = config.message ?? null;
  if (memory.notice === null) {
    // This processor's first tick: the line heard what the processor before it mirrored (and
    // told), so only a message changed since is told; with none before, nothing was heard.
    const heard = told === undefined ? message : (told?.message ?? null);
    memory.notice = { message: heard, version: 0, remaining: 0 };
  }
  if (memory.notice.message !== message) {
    memory.notice = { message, version: memory.notice.version + 1, remaining: line.span };
  }
  const notice = memory.notice;
  if (notice.remaining <= 0) return 0;
  const budget = Math.floor((settings.positionBudgetPerSecond * settings.tickMs) / 1000);
  const window = Math.min(budget, notice.remaining);
  notice.remaining -= window;
  const { version } = notice;
  // A window of its own through the line: the positions' window is not moved by it.
  const due = line.noticeRotation(window).filter((entry) => entry.noticeHeard !== version);
  let sent = 0;
  await forEachLimited(due, settings.sendConcurrency, async (entry) => {
    const delivery = await sendSafely(deps, entry.connectionId as string, {
      type: 'notice',
      message,
    });
    if (delivery !== 'failed') entry.noticeHeard = version;
    if (delivery === 'sent') sent += 1;
  });
  return sent;
}

/** The `position` message for a place in a line of `waiting` at the current rate. */
export function positionMessage(
  position: number,
  waiting: number,
  admitPerMinute: number,
  nextUpdate: number,
): PositionMessage {
  return {
    type: 'position',
    position,
    waiting,
    etaSeconds: etaSeconds(position, admitPerMinute),
    nextUpdateSeconds: nextUpdate,
  };
}

/**
 * Within how many seconds every connected visitor in a line spanning `span` slots hears from the
 * processor again, with `window` candidates a tick: the rotating window visits each place every
 * `ceil(span / window)` ticks, and sends it when its place changed or its refresh is due, so
 * the longest silence is at most a refresh plus one round. An upper bound, for the page to
 * know when silence means trouble; the front of the line hears far more often.
 */
export function nextUpdateSeconds(
  span: number,
  window: number,
  settings: Pick<ProcessorSettings, 'tickMs' | 'positionRefreshMs'>,
): number {
  const roundMs = Math.ceil(span / Math.max(1, window)) * settings.tickMs;
  return Math.ceil((settings.positionRefreshMs + roundMs) / 1000);
}

/**
 * Sends one message; a gone connection marks the session disconnected (API Gateway's
 * `$disconnect` is best effort), any other failure is reported as `failed` for a retry next tick.
 */
async function sendSafely(
  { notifier, store, clock }: ProcessorDeps,
  connectionId: string,
  message: ServerMessage,
): Promise<'sent' | 'gone' | 'failed'> {
  try {
    const delivery = await notifier.send(connectionId, message);
    if (delivery === 'gone') await store.detachConnection(connectionId, clock.now());
    return delivery;
  } catch {
    return 'failed';
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
