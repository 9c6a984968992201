/**
 * The processor tick: the one place where the line moves. One leader runs it about every
 * second. Each step is safe to interrupt and repeat: numbering and admission are conditional in
 * the store, the token bucket is written before anyone is admitted, and `admitted` messages are
 * kept in an outbox until delivered.
 */
import { allowance, etaSeconds } from './admission.ts';
import { planPositionUpdates } from './fanout.ts';
import type {
  ArrivalQueue,
  Clock,
  ConfigSource,
  Notifier,
  RoomConfig,
  SessionStore,
  Signer,
} from './ports.ts';
import type { PositionMessage, ServerMessage } from './protocol.ts';
import { mainSiteUrl } from './return-path.ts';
import type { Session } from './session.ts';

export interface ProcessorSettings {
  mainOrigin: string;
  tickMs: number;
  /** A session whose connection has been gone longer than this leaves the line. */
  abandonAfterMs: number;
  /** Arrivals numbered per tick at most (bounds a tick's work under a join flood). */
  maxArrivalsPerTick: number;
  /** A waiting visitor whose position did not change still hears from us this often. */
  positionRefreshMs: number;
  /** Nobody waits longer than this for a `position`, while the budget can carry the line. */
  maxUpdateIntervalMs: number;
  /** Messages per second the tick may spend on `position` (and `admitted`) pushes. */
  positionBudgetPerSecond: number;
  /** Pushes in flight at once. */
  sendConcurrency: number;
  /** Page size when reading the waiting line. */
  pageSize: number;
}

export const DEFAULT_PROCESSOR_SETTINGS: Omit<ProcessorSettings, 'mainOrigin'> = {
  tickMs: 1000,
  abandonAfterMs: 120_000,
  maxArrivalsPerTick: 20_000,
  positionRefreshMs: 10_000,
  maxUpdateIntervalMs: 30_000,
  positionBudgetPerSecond: 20_000,
  sendConcurrency: 64,
  pageSize: 1000,
};

export interface ProcessorDeps {
  store: SessionStore;
  queue: ArrivalQueue;
  config: ConfigSource;
  notifier: Notifier;
  signer: Signer;
  clock: Clock;
  settings: ProcessorSettings;
}

/** What one tick did, for logs, metrics and tests. */
export interface TickReport {
  at: number;
  config: RoomConfig;
  numbered: number;
  admitted: string[];
  abandoned: string[];
  admissionsDelivered: number;
  positionsSent: number;
  opensSent: number;
  waiting: number;
}

const RECEIVE_BATCH = 10;

/** Runs one tick: number arrivals, drop the abandoned, admit, notify. */
export async function runTick(deps: ProcessorDeps): Promise<TickReport> {
  const { store, clock, settings } = deps;
  const config = await deps.config.get();
  const numbered = await numberArrivals(deps);
  const now = clock.now();
  const line = await readLine(store, settings.pageSize);

  const abandoned = await abandonGone(store, line, now, settings.abandonAfterMs);
  const gone = new Set(abandoned);
  const stillWaiting = gone.size > 0 ? line.filter((session) => !gone.has(session.id)) : line;

  const { admitted, tried } = config.enabled
    ? await admitFromHead(deps, config, stillWaiting, now)
    : { admitted: [], tried: 0 };
  const admissionsDelivered = await deliverAdmissions(deps);
  // Every head tried has left the line: admitted here, or (its conditional admission refused)
  // already admitted by a processor that overlapped this one while the lease changed hands.
  const waiting = stillWaiting.slice(tried);
  const { positionsSent, opensSent } = config.enabled
    ? await sendPositions(deps, config, waiting, now, admissionsDelivered)
    : { positionsSent: 0, opensSent: await sendOpens(deps, waiting) };

  await store.putRoomState({ ...(await store.getRoomState()), waiting: waiting.length });
  return {
    at: now,
    config,
    numbered,
    admitted,
    abandoned,
    admissionsDelivered,
    positionsSent,
    opensSent,
    waiting: waiting.length,
  };
}

/** Drains the arrival queue in order, giving each arriving session its place in line. */
async function numberArrivals({ queue, store, settings }: ProcessorDeps): Promise<number> {
  let numbered = 0;
  let seen = 0;
  while (seen < settings.maxArrivalsPerTick) {
    const batch = await queue.receive(Math.min(RECEIVE_BATCH, settings.maxArrivalsPerTick - seen));
    if (batch.length === 0) break;
    seen += batch.length;
    // Numbered before acknowledged: a crash in between redelivers, and the store skips
    // sessions that already have a number.
    numbered += await store.numberArrivals(batch);
    await queue.acknowledge(batch);
  }
  return numbered;
}

async function readLine(store: SessionStore, pageSize: number): Promise<readonly Session[]> {
  const pages: (readonly Session[])[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.listWaiting(cursor, pageSize);
    pages.push(page.sessions);
    cursor = page.next;
  } while (cursor !== null);
  return pages.length === 1 ? (pages[0] as readonly Session[]) : ([] as Session[]).concat(...pages);
}

/** Drops the sessions whose connection has been gone longer than the grace; returns their ids. */
async function abandonGone(
  store: SessionStore,
  line: readonly Session[],
  now: number,
  graceMs: number,
): Promise<string[]> {
  const overdue = line.filter((s) => s.disconnectedAt !== null && now - s.disconnectedAt > graceMs);
  const abandoned: string[] = [];
  for (const session of overdue) {
    // Conditional on the same absence: a visitor who came back meanwhile keeps the place.
    if (await store.abandon(session.id, session.disconnectedAt as number, now)) {
      abandoned.push(session.id);
    }
  }
  return abandoned;
}

/**
 * Admits the first sessions of the line up to the token-bucket allowance. The bucket is saved
 * first, so a crash after it can only admit fewer, never more, than the rate allows. Returns the
 * sessions admitted and how many heads of the line were tried.
 */
async function admitFromHead(
  { store, signer, settings }: ProcessorDeps,
  config: RoomConfig,
  line: readonly Session[],
  now: number,
): Promise<{ admitted: string[]; tried: number }> {
  const { admit, next } = allowance(
    await store.getRoomState(),
    config.admitPerMinute,
    settings.tickMs,
    now,
    line.length,
  );
  await store.putRoomState(next);
  const admitted: string[] = [];
  const heads = line.slice(0, admit);
  for (const session of heads) {
    const pass = await signer.issuePass(session.id, now);
    if (await store.admit(session.id, pass, now)) admitted.push(session.id);
  }
  return { admitted, tried: heads.length };
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
 * Pushes `position` to the waiting visitors the fan-out plan picks within this tick's budget
 * (what `admitted` messages already spent this tick is taken off it first).
 */
async function sendPositions(
  deps: ProcessorDeps,
  config: RoomConfig,
  waiting: readonly Session[],
  now: number,
  alreadySent: number,
): Promise<{ positionsSent: number; opensSent: number }> {
  const { store, settings } = deps;
  const chosen = planPositionUpdates(waiting, now, {
    budget: (settings.positionBudgetPerSecond * settings.tickMs) / 1000 - alreadySent,
    refreshMs: settings.positionRefreshMs,
    maxIntervalMs: settings.maxUpdateIntervalMs,
    frontCount: Math.max(100, config.admitPerMinute),
  }).filter((index) => {
    // One processor never computes a place behind one it told (nobody is put ahead of a
    // visitor); a tick overlapping another while the lease changes hands may read the line
    // before the other's admissions, and such a number must not go out.
    const told = (waiting[index] as Session).sentPosition;
    return told === null || index + 1 <= told;
  });
  // Recorded before sending, so a `status` answered meanwhile can never show a higher
  // position than the one on its way.
  await store.recordPositions(
    chosen.map((index) => ({
      sessionId: (waiting[index] as Session).id,
      position: index + 1,
      sentAt: now,
    })),
  );
  let positionsSent = 0;
  await forEachLimited(chosen, settings.sendConcurrency, async (index) => {
    const session = waiting[index] as Session;
    const message = positionMessage(index + 1, waiting.length, config.admitPerMinute);
    if ((await sendSafely(deps, session.connectionId as string, message)) === 'sent') {
      positionsSent += 1;
    }
  });
  return { positionsSent, opensSent: 0 };
}

/** With the room off, every connected visitor still in line is told to go straight in. */
async function sendOpens(deps: ProcessorDeps, waiting: readonly Session[]): Promise<number> {
  let sent = 0;
  const connected = waiting.filter((s) => s.connectionId !== null && s.disconnectedAt === null);
  await forEachLimited(connected, deps.settings.sendConcurrency, async (session) => {
    const message: ServerMessage = {
      type: 'open',
      redirectUrl: mainSiteUrl(deps.settings.mainOrigin, session.returnPath),
    };
    if ((await sendSafely(deps, session.connectionId as string, message)) === 'sent') sent += 1;
  });
  return sent;
}

/** The `position` message for a place in a line of `waiting` at the current rate. */
export function positionMessage(
  position: number,
  waiting: number,
  admitPerMinute: number,
): PositionMessage {
  return { type: 'position', position, waiting, etaSeconds: etaSeconds(position, admitPerMinute) };
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
