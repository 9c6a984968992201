/**
 * Faults in the processor, over the in-process adapters and over the AWS adapters (DynamoDB
 * store on dynalite; the SQS arrival queue on fauxqs beside it; SSM and the management API through stand-in clients):
 *
 * - the processor stopped after each step of a tick and started again (a fresh processor, with
 *   fresh adapters over the same table and queue on AWS);
 * - arrivals delivered twice, out of order inside their batch, and again in a later batch;
 * - two processors ticking at once (a lease taken over while the first still runs);
 * - a storm of 410 Gone with every `$disconnect` lost;
 * - config reads that fail.
 *
 * After each: no session numbered twice or admitted twice, none lost, FIFO kept, positions never
 * rise, and the token bucket never spent twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoSessionStore } from '../../functions/adapters/aws/dynamo-session-store.ts';
import { bucketCapacity } from '../../functions/core/admission.ts';
import type { Lease } from '../../functions/core/lease.ts';
import type {
  ArrivalQueue,
  ReceivedArrival,
  RoomConfig,
  SessionStore,
} from '../../functions/core/ports.ts';
import {
  forgetLine,
  LeaseLostError,
  markCleanStop,
  type ProcessorDeps,
  runTick,
  type TickReport,
} from '../../functions/core/processor.ts';
import { runProcessorLoop } from '../../functions/core/processor-loop.ts';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import { type AwsHarness, arrivalQueueOn, createAwsHarness } from '../helpers/aws-harness.ts';
import { type AwsStandIns, startAwsStandIns } from '../helpers/aws-stand-ins.ts';
import {
  createHarness,
  type Harness,
  type HarnessOptions,
  joinedOf,
  type ManualClock,
  ROOM_ID,
} from '../helpers/room-harness.ts';

const TICK_MS = 1000;
/** The arrival queue's visibility timeout: an arrival read and not acknowledged returns after it. */
const VISIBILITY_MS = 30_000;

/** What the tests use of a room; both harnesses have this shape. */
interface Room {
  clock: ManualClock;
  store: SessionStore;
  queue: ArrivalQueue;
  config: { set(change: Partial<RoomConfig>): unknown };
  notifier: { gone: Set<string>; messages(connectionId: string): ServerMessage[] };
  processor: ProcessorDeps;
  send(connectionId: string, frame: unknown): Promise<ServerMessage[]>;
  disconnect(connectionId: string): Promise<void>;
  /** The processor deps of a processor started afresh (new adapters over the same data). */
  restarted(): ProcessorDeps;
  /** Makes the next `count` config reads fail the way this runtime's config source fails. */
  failConfigReads(count: number): void;
  /** Every successful admission, in order, over all the processors of this room. */
  admissions: { sessionId: string; at: number }[];
  /**
   * Real time an arrival received and not deleted takes to come back: the SQS emulator keeps
   * its visibility timeout on its own clock, not the test's (0 in process).
   */
  redeliveryMs: number;
}

let db: AwsStandIns;
beforeAll(async () => {
  db = await startAwsStandIns();
});
afterAll(async () => {
  await db.close();
});

/** Counts the admissions a store makes, whoever calls it. */
function recordAdmissions<S extends SessionStore>(store: S, log: Room['admissions']): S {
  const admit = store.admit.bind(store);
  store.admit = async (sessionId, pass, at) => {
    const done = await admit(sessionId, pass, at);
    if (done) log.push({ sessionId, at });
    return done;
  };
  return store;
}

async function inProcessRoom(options: HarnessOptions = {}): Promise<Room> {
  const h: Harness = await createHarness(options);
  const admissions: Room['admissions'] = [];
  recordAdmissions(h.store, admissions);
  let failing = 0;
  const get = h.config.get.bind(h.config);
  h.config.get = async () => {
    if (failing > 0) {
      failing -= 1;
      throw new Error('config store unavailable');
    }
    return get();
  };
  return {
    ...h,
    redeliveryMs: 0,
    // In process the store and the queue are the state itself: a new processor shares them.
    restarted: () => ({ ...h.processor, memory: forgetLine() }),
    failConfigReads: (count) => {
      failing = count;
    },
    admissions,
  };
}

async function awsRoom(options: HarnessOptions = {}): Promise<Room> {
  const h: AwsHarness = await createAwsHarness(db, options);
  const admissions: Room['admissions'] = [];
  recordAdmissions(h.store, admissions);
  return {
    ...h,
    redeliveryMs: 1100,
    restarted: () => {
      // A new Lambda container: new adapters over the same table and the same queue.
      const queue = arrivalQueueOn(db.sqs, h.queues.queueUrl, h.clock);
      const store = createDynamoSessionStore({
        client: db.documentClient,
        tableName: h.tableName,
        roomId: ROOM_ID,
        clock: h.clock,
        countArriving: () => queue.approximateDepth(),
        sleep: async (ms) => h.clock.advance(ms),
      });
      return {
        ...h.processor,
        queue,
        store: recordAdmissions(store, admissions),
        memory: forgetLine(),
      };
    },
    failConfigReads: (count) => {
      h.ssm.failNext = count;
    },
    admissions,
  };
}

const rooms: [string, (options?: HarnessOptions) => Promise<Room>][] = [
  ['in-process adapters', inProcessRoom],
  ['AWS adapters', awsRoom],
];

class CrashError extends Error {
  constructor(step: string) {
    super(`processor stopped after ${step}`);
    this.name = 'CrashError';
  }
}

type Port = 'store' | 'queue' | 'notifier' | 'signer' | 'config';

/**
 * The deps of a processor that stops dead right after the `k`-th call to `port.method` took
 * effect: that call and every later call to any port throw, as if the process had died there
 * (a push that fails is only logged by the tick, so the death shows at its next store call).
 */
function stoppingAfter(deps: ProcessorDeps, port: Port, method: string, k: number): ProcessorDeps {
  let calls = 0;
  let dead = false;
  const step = `${port}.${method} #${k}`;
  const wrap = <T extends object>(name: Port, target: T): T =>
    new Proxy(target, {
      get(object, property) {
        const value = Reflect.get(object, property, object);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (dead) throw new CrashError(step);
          const result = await value.apply(object, args);
          if (name === port && property === method && ++calls === k) {
            dead = true;
            throw new CrashError(step);
          }
          return result;
        };
      },
    });
  return {
    ...deps,
    store: wrap('store', deps.store),
    queue: wrap('queue', deps.queue),
    notifier: wrap('notifier', deps.notifier),
    signer: wrap('signer', deps.signer),
    config: wrap('config', deps.config),
  };
}

async function joinAll(room: Room, count: number, prefix = 'c'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const replies = await room.send(`${prefix}${i}`, { action: 'join', return: `/p/${i}` });
    ids.push(joinedOf(replies).sessionId);
  }
  return ids;
}

/**
 * Ticks a processor until every listed session is admitted or `maxTicks` pass; while some are
 * not yet numbered it waits out the arrival queue's visibility timeout instead of one tick.
 */
async function tickUntilAdmitted(
  room: Room,
  deps: ProcessorDeps,
  ids: readonly string[],
  maxTicks = 40,
): Promise<TickReport[]> {
  const reports: TickReport[] = [];
  for (let i = 0; i < maxTicks; i++) {
    const sessions = await Promise.all(ids.map((id) => room.store.get(id)));
    if (sessions.every((s) => s?.state === 'admitted')) break;
    const arriving = sessions.some((s) => s?.state === 'arriving');
    if (arriving) await new Promise((resolve) => setTimeout(resolve, room.redeliveryMs));
    room.clock.advance(arriving ? VISIBILITY_MS : TICK_MS);
    reports.push(await runTick(deps));
  }
  return reports;
}

/**
 * Everyone admitted exactly once, in join order, each told its one stored pass; numbers unique
 * and in join order; no position ever rose on any connection.
 */
async function expectEveryPlaceKept(room: Room, ids: readonly string[], prefix = 'c') {
  const sessions = await Promise.all(ids.map((id) => room.store.get(id)));
  for (const session of sessions) expect(session?.state).toBe('admitted');
  const seqs = sessions.map((s) => s?.seq as string);
  expect(new Set(seqs).size).toBe(ids.length);
  expect(seqs).toEqual([...seqs].sort());
  const admittedAt = sessions.map((s) => s?.admittedAt as number);
  expect(admittedAt).toEqual([...admittedAt].sort((a, b) => a - b));
  const perSession = new Map<string, number>();
  for (const a of room.admissions)
    perSession.set(a.sessionId, (perSession.get(a.sessionId) ?? 0) + 1);
  expect(ids.map((id) => perSession.get(id))).toEqual(ids.map(() => 1));
  for (const [i, session] of sessions.entries()) {
    const messages = room.notifier.messages(`${prefix}${i}`);
    const passes = new Set(messages.flatMap((m) => (m.type === 'admitted' ? [m.pass] : [])));
    expect(passes).toEqual(new Set([session?.pass?.token]));
    const positions = messages.flatMap((m) => (m.type === 'position' ? [m.position] : []));
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
  }
}

/** The steps a tick can stop after: [what happened last, port, method, k-th call]. */
const STOPS: [string, Port, string, number][] = [
  ['the first batch of arrivals was read', 'queue', 'receive', 1],
  ['the second batch of arrivals was read', 'queue', 'receive', 2],
  ['the first batch was numbered, before it was acknowledged', 'store', 'numberArrivals', 1],
  ['the second batch was numbered, before it was acknowledged', 'store', 'numberArrivals', 2],
  ['the first batch was acknowledged', 'queue', 'acknowledge', 1],
  ['the line was read (the first tick after a takeover)', 'store', 'readLine', 1],
  ['the token bucket was written', 'store', 'putRoomState', 1],
  ['the first pass was signed', 'signer', 'issuePass', 1],
  ['three passes were signed', 'signer', 'issuePass', 3],
  ['the first admission was written', 'store', 'admit', 1],
  ['the last admission of the tick was written', 'store', 'admit', 4],
  ['the first admitted message was sent', 'notifier', 'send', 1],
  ['three admitted messages were sent', 'notifier', 'send', 3],
  ['the admitted messages were marked delivered', 'store', 'markAdmissionNotified', 1],
  ['the connection changes were read', 'store', 'readChanges', 2],
  ['the admitted messages and two positions were sent', 'notifier', 'send', 6],
  ['the room state was written at the end of the tick', 'store', 'putRoomState', 2],
];

describe.each(rooms)('the processor on the %s', (_, createRoom) => {
  describe('stopped dead in a tick and started again', () => {
    it.each(STOPS)('after %s: every place kept', async (_, port, method, k) => {
      // Prepare: 12 visitors (two batches of arrivals); 240 a minute admits 4 a tick.
      const room = await createRoom({ config: { admitPerMinute: 240 }, tickMs: TICK_MS });
      room.processor.settings.arrivalBatch = 10;
      const ids = await joinAll(room, 12);
      room.clock.advance(TICK_MS);

      // Act
      const stopped = runTick(stoppingAfter(room.processor, port, method, k));
      await expect(stopped).rejects.toThrow(CrashError);
      const reports = await tickUntilAdmitted(room, room.restarted(), ids);

      // Assess
      await expectEveryPlaceKept(room, ids);
      expect(reports.reduce((n, r) => n + r.numbered, 0)).toBeLessThanOrEqual(12);
    });

    it('keeps every place when it stops in every tick, at a different step each time', async () => {
      // Prepare
      const room = await createRoom({ config: { admitPerMinute: 120 }, tickMs: TICK_MS });
      room.processor.settings.arrivalBatch = 10;
      const ids = await joinAll(room, 25);
      let stops = 0;

      // Act: each tick dies at the next step of the list (a later call where the tick has
      // fewer), visitors keep joining meanwhile, until nobody is waiting.
      const late: string[] = [];
      for (let i = 0; i < 60; i++) {
        const [, port, method, k] = STOPS[i % STOPS.length] as (typeof STOPS)[number];
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, room.redeliveryMs));
        room.clock.advance(i % 10 === 9 ? VISIBILITY_MS : TICK_MS);
        const outcome = await runTick(stoppingAfter(room.restarted(), port, method, k)).catch(
          (error: unknown) => error,
        );
        if (outcome instanceof CrashError) stops += 1;
        if (i < 10) late.push(joinedOf(await room.send(`late${i}`, { action: 'join' })).sessionId);
      }
      await tickUntilAdmitted(room, room.restarted(), [...ids, ...late], 80);

      // Assess
      await expectEveryPlaceKept(room, ids);
      const lateSessions = await Promise.all(late.map((id) => room.store.get(id)));
      expect(lateSessions.every((s) => s?.state === 'admitted')).toBe(true);
      const lastEarly = Math.max(
        ...room.admissions.filter((a) => ids.includes(a.sessionId)).map((a) => a.at),
      );
      const firstLate = Math.min(
        ...room.admissions.filter((a) => late.includes(a.sessionId)).map((a) => a.at),
      );
      expect(lastEarly).toBeLessThanOrEqual(firstLate);
      expect(stops).toBeGreaterThanOrEqual(20);
      console.info(
        `processor stopped dead in ${stops} of 60 ticks (${STOPS.length} distinct steps); ${ids.length + late.length} visitors, ${room.admissions.length} admissions, places lost: 0`,
      );
    });
  });

  describe('arrivals delivered more than once', () => {
    it('numbers each once when a batch comes reversed, each arrival twice, and again later', async () => {
      // Prepare: a queue that hands every batch back to front with each arrival in it twice.
      const room = await createRoom({ config: { admitPerMinute: 0 }, tickMs: TICK_MS });
      const ids = await joinAll(room, 15);
      const queue = room.processor.queue;
      const chaotic: ArrivalQueue = {
        settleMs: queue.settleMs,
        holdAfterTakeoverMs: queue.holdAfterTakeoverMs,
        enqueue: (arrival) => queue.enqueue(arrival),
        async receive(max) {
          const batch = await queue.receive(max);
          return [...batch, ...batch].reverse();
        },
        acknowledge(arrivals) {
          const once = new Map<string, ReceivedArrival>(arrivals.map((a) => [a.receipt, a]));
          return queue.acknowledge([...once.values()]);
        },
      };
      const deps = { ...room.processor, queue: chaotic };

      // Act
      room.clock.advance(TICK_MS);
      const first = await runTick(deps);
      const seqs = await Promise.all(ids.map(async (id) => (await room.store.get(id))?.seq));
      for (const id of ids) await room.queue.enqueue({ sessionId: id, joinedAt: 0 });
      room.clock.advance(TICK_MS);
      const again = await runTick(deps);
      room.config.set({ admitPerMinute: 6000 });
      await tickUntilAdmitted(room, deps, ids);

      // Assess
      expect(first.numbered).toBe(15);
      expect(again.numbered).toBe(0);
      expect(await Promise.all(ids.map(async (id) => (await room.store.get(id))?.seq))).toEqual(
        seqs,
      );
      await expectEveryPlaceKept(room, ids);
    });
  });

  describe('two processors ticking at once', () => {
    it('admit each session once and never spend the bucket twice', async () => {
      // Prepare: 40 numbered visitors; 600 a minute is 10 a tick, the bucket holds 10.
      const room = await createRoom({ config: { admitPerMinute: 0 }, tickMs: TICK_MS });
      const ids = await joinAll(room, 40);
      room.clock.advance(TICK_MS);
      await runTick(room.processor);
      room.config.set({ admitPerMinute: 600 });
      const start = room.clock.now();

      // Act: every tick runs on two processors at the same moment (a lease taken over while
      // the first still runs), each with its own adapters.
      for (let round = 0; round < 3; round++) {
        room.clock.advance(TICK_MS);
        await Promise.all([runTick(room.restarted()), runTick(room.restarted())]);
      }
      const elapsed = room.clock.now() - start;
      await tickUntilAdmitted(room, room.restarted(), ids);

      // Assess
      const inRounds = room.admissions.filter((a) => a.at <= start + elapsed).length;
      expect(inRounds).toBeLessThanOrEqual((600 * elapsed) / 60_000 + bucketCapacity(600, TICK_MS));
      await expectEveryPlaceKept(room, ids);
    });
  });

  describe('a storm of 410 Gone with every $disconnect lost', () => {
    it('finds the gone by posting, drops them after the grace and moves everyone behind up', async () => {
      // Prepare: 60 in line; every other connection dies without a $disconnect.
      const room = await createRoom({
        config: { admitPerMinute: 0 },
        tickMs: TICK_MS,
        abandonAfterMs: 5000,
      });
      const ids = await joinAll(room, 60);
      room.clock.advance(TICK_MS);
      await runTick(room.processor);
      const gone = ids.filter((_, i) => i % 2 === 0);
      const stay = ids.filter((_, i) => i % 2 === 1);
      for (let i = 0; i < 60; i += 2) room.notifier.gone.add(`c${i}`);

      // Act: nobody moves (admission paused), so the gone are found by the position refresh
      // (every 10 s) and dropped 5 s later.
      const reports: TickReport[] = [];
      for (let t = 0; t < 20; t++) {
        room.clock.advance(TICK_MS);
        reports.push(await runTick(room.processor));
      }
      room.config.set({ admitPerMinute: 6000 });
      await tickUntilAdmitted(room, room.processor, stay);

      // Assess
      const abandoned = reports.flatMap((r) => r.abandoned);
      expect(new Set(abandoned)).toEqual(new Set(gone));
      for (let i = 1; i < 60; i += 2) {
        const positions = room.notifier
          .messages(`c${i}`)
          .flatMap((m) => (m.type === 'position' ? [m.position] : []));
        expect(positions.at(-1)).toBe((i + 1) / 2);
        expect(positions).toEqual([...positions].sort((a, b) => b - a));
      }
      const goneSessions = await Promise.all(gone.map((id) => room.store.get(id)));
      expect(goneSessions.every((s) => s?.state === 'abandoned')).toBe(true);
      const admittedAt = await Promise.all(
        stay.map(async (id) => (await room.store.get(id))?.admittedAt as number),
      );
      expect(admittedAt).toEqual([...admittedAt].sort((a, b) => a - b));
      console.info(
        `410 storm: ${gone.length} of 60 connections gone without $disconnect; all ${gone.length} found by posting and dropped after the grace, ${stay.length} moved up and admitted in order`,
      );
    });
  });

  describe('config reads that fail', () => {
    it('neither stop the ticks for good nor let the next good tick spend the bucket twice', async () => {
      // Prepare: 30 in line at 120 a minute (2 a tick, bucket of 2).
      const room = await createRoom({ config: { admitPerMinute: 0 }, tickMs: TICK_MS });
      const ids = await joinAll(room, 30);
      room.clock.advance(TICK_MS);
      await runTick(room.processor);
      room.config.set({ admitPerMinute: 120 });
      room.clock.advance(TICK_MS);
      await runTick(room.processor);
      const before = room.admissions.length;
      let now = room.clock.now();
      const lease: Lease = {
        acquire: async () => 'renewed',
        release: async () => {},
        setAsleep: async () => null,
      };
      const errors: unknown[] = [];

      // Act: five reads fail, one after another, then the source is back.
      room.failConfigReads(5);
      const outcome = await runProcessorLoop({
        lease,
        clock: room.clock,
        sleep: async (ms) => room.clock.advance(ms),
        tick: () => runTick(room.processor),
        tickMs: TICK_MS,
        leaseMs: 5 * TICK_MS,
        deadline: now + 10 * TICK_MS,
        onError: (error) => errors.push(error),
      });
      now = room.clock.now();

      // Assess: whatever the failures did, ten seconds at 2 a second admit 20 at most.
      const during = room.admissions.length - before;
      expect(outcome.ticks).toBeGreaterThanOrEqual(5);
      expect(during).toBeGreaterThan(0);
      expect(during).toBeLessThanOrEqual(20 + bucketCapacity(120, TICK_MS));
      expect(outcome.failedTicks).toBe(errors.length);
      const firstAfter = room.admissions.slice(before);
      const perTick = new Map<number, number>();
      for (const a of firstAfter) perTick.set(a.at, (perTick.get(a.at) ?? 0) + 1);
      expect(Math.max(...perTick.values())).toBeLessThanOrEqual(bucketCapacity(120, TICK_MS));
      await tickUntilAdmitted(room, room.processor, ids);
      await expectEveryPlaceKept(room, ids);
    });
  });
});

describe.each(rooms)('a tick that lost its lease and writes late, on the %s', (_, createRoom) => {
  // Its writes of the room state: the config it mirrors (changed), the bucket, the tick's end.
  it.each([
    ['its bucket', 2],
    ['the end of its tick', 3],
  ])(
    'cannot move the token bucket back in time and so cannot spend it twice (stalled before %s)',
    async (_where, stallAt) => {
      // Prepare: 90 a minute is 1.5 a second; the bucket holds 2. Numbered with admission paused.
      const room = await createRoom({ config: { admitPerMinute: 0 }, tickMs: TICK_MS });
      const ids = await joinAll(room, 10);
      room.clock.advance(TICK_MS);
      await runTick(room.processor);
      await room.config.set({ admitPerMinute: 90 });
      const start = room.clock.now();
      // Processor A is held just before one of its writes of the room state.
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let putCalls = 0;
      let holding: () => void = () => {};
      const reachedHold = new Promise<void>((resolve) => {
        holding = resolve;
      });
      const slowStore = new Proxy(room.store, {
        get(store, property) {
          const value = Reflect.get(store, property, store);
          if (typeof value !== 'function') return value;
          if (property !== 'putRoomState') return value.bind(store);
          return async (...args: unknown[]) => {
            if (++putCalls === stallAt) {
              holding();
              await held;
            }
            return value.apply(store, args);
          };
        },
      });

      // Act: A ticks at +1 s and stalls; B takes over at +1.6 s and ticks; A's late write lands;
      // B ticks again at +2.6 s.
      room.clock.advance(TICK_MS);
      const a = runTick({ ...room.processor, store: slowStore });
      await reachedHold;
      room.clock.advance(600);
      await runTick(room.processor);
      release();
      await a;
      room.clock.advance(TICK_MS);
      await runTick(room.processor);
      const elapsed = room.clock.now() - start;

      // Assess: from an empty bucket, 2.6 s at 1.5 a second is 3.9 tokens: 3 admissions at most.
      expect(room.admissions.length).toBeLessThanOrEqual(Math.floor((90 * elapsed) / 60_000));
      await tickUntilAdmitted(room, room.processor, ids);
      await expectEveryPlaceKept(room, ids);
    },
  );
});

describe('a takeover on the AWS adapters', () => {
  async function settlingAfterTakeover(cleanStop: boolean): Promise<TickReport> {
    // Prepare: three in line, the processor stops (cleanly or not), two more join meanwhile.
    const room = await awsRoom({ config: { admitPerMinute: 0 }, tickMs: TICK_MS });
    await joinAll(room, 3);
    room.clock.advance(TICK_MS);
    await runTick(room.processor);
    if (cleanStop) await markCleanStop(room.processor);
    await joinAll(room, 2, 'later');

    // Act: the successor's first tick.
    room.clock.advance(TICK_MS);
    return runTick(room.restarted());
  }

  it('holds arrivals from before it after a processor that died, for their visibility timeout', async () => {
    // Act
    const report = await settlingAfterTakeover(false);

    // Assess
    expect(report.numbered).toBe(2);
    expect(report.settling).toBe(2);
    expect(report.waiting).toBe(5);
  });

  it('holds nothing after a processor that stopped cleanly (nothing of it in flight)', async () => {
    // Act
    const report = await settlingAfterTakeover(true);

    // Assess
    expect(report.numbered).toBe(2);
    expect(report.settling).toBe(0);
    expect(report.waiting).toBe(5);
  });
});

describe('a tick that stalled after reading the line while another took over (in-process adapters)', () => {
  it('sends nobody a position above the one the newer tick told', async () => {
    // Prepare: 30 numbered visitors at 600 a minute (10 a second).
    const room = await inProcessRoom({ config: { admitPerMinute: 0 }, tickMs: TICK_MS });
    const ids = await joinAll(room, 30);
    room.clock.advance(TICK_MS);
    await runTick(room.processor);
    room.config.set({ admitPerMinute: 600 });
    let resume: () => void = () => {};
    const stalled = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let readLine: () => void = () => {};
    const lineRead = new Promise<void>((resolve) => {
      readLine = resolve;
    });
    const slowStore = new Proxy(room.store, {
      get(store, property) {
        const value = Reflect.get(store, property, store);
        if (typeof value !== 'function') return value;
        if (property !== 'readLine') return value.bind(store);
        return async (...args: unknown[]) => {
          const page = await value.apply(store, args);
          readLine();
          await stalled;
          return page;
        };
      },
    });

    // One lease: A takes it over (and will read the line), then B takes it while A stalls.
    let holder = 'A';
    const stillHeldBy = (me: string) => async () => holder === me;

    // Act: A reads the line at +0.2 s and stalls; B ticks at +1 s (admitting 10); A goes on.
    room.clock.advance(200);
    const a = runTick(
      { ...room.processor, store: slowStore, memory: forgetLine() },
      stillHeldBy('A'),
    );
    await lineRead;
    room.clock.advance(800);
    holder = 'B';
    await runTick(room.processor, stillHeldBy('B'));
    resume();
    await expect(a).rejects.toThrow(LeaseLostError);
    await tickUntilAdmitted(room, room.processor, ids);

    // Assess
    await expectEveryPlaceKept(room, ids);
  });
});
