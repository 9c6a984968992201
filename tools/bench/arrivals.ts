/**
 * Joins into the deployed room's arrival log: the real `join` (session, connection, arrival log
 * item, the `joined` mark) over dynalite at a paced rate, while the processor's own loop numbers
 * them from the log (1 s ticks, the log's 1 s settle time). Counts every DynamoDB call on each
 * side, the writes each partition key takes a second, and checks the order: a visitor whose
 * join returned before another's began is numbered first.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoArrivalLog } from '../../functions/adapters/aws/dynamo-arrival-log.ts';
import { lineKeyOf } from '../../functions/adapters/aws/dynamo-items.ts';
import { createDynamoSessionStore } from '../../functions/adapters/aws/dynamo-session-store.ts';
import { MemoryConfigSource } from '../../functions/adapters/local/memory-config.ts';
import { createProcessLease } from '../../functions/adapters/local/process-lease.ts';
import { systemClock } from '../../functions/adapters/local/system-clock.ts';
import type { Delivery, Notifier } from '../../functions/core/ports.ts';
import {
  DEFAULT_PROCESSOR_SETTINGS,
  forgetLine,
  type ProcessorDeps,
  runLoopTick,
} from '../../functions/core/processor.ts';
import { runProcessorLoop } from '../../functions/core/processor-loop.ts';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import { createSigner, generateSigningKey } from '../../functions/core/tokens.ts';
import { join } from '../../functions/core/visitor.ts';
import {
  ensureRoomTable,
  localDynamoClient,
  startLocalDynamo,
} from '../../local/aws-local/dynamo.ts';
import { countCalls, emptySdkUsage, totalCalls } from '../../local/aws-local/usage.ts';
import { percentile } from './stats.ts';

export interface ArrivalsResult {
  targetPerSecond: number;
  seconds: number;
  joins: number;
  /** Joins completed a second (dynalite and both sides share this machine's cores). */
  joinsPerSecond: number;
  /** DynamoDB calls and write units of the join path, per join; SQS calls: none. */
  perJoin: { calls: number; writeUnits: number; putItems: number };
  /** Arrival log items per join (above 1: writes logged again after a slow commit). */
  logItemsPerJoin: number;
  /** Most writes one partition key took in one second, and which kind of key it was. */
  hottestKey: { kind: string; writesPerSecond: number };
  /** Most writes one line-index partition took in one second. */
  hottestLinePartition: number;
  /** The processor's DynamoDB calls a tick (mean), and its arrival-log Queries a tick. */
  processor: { callsPerTick: number; queriesPerTick: number; ticks: number };
  numbered: number;
  /** Pairs (A returned before B began) numbered the other way round. */
  outOfOrder: number;
  /** From the start of `join` to numbered (ms): the settle time, then the next tick. */
  latency: { p50: number; p99: number; max: number };
}

const ROOM = 'bench';
const MAIN = 'https://shop.example.com';

/** Records the writes each partition key takes, a second at a time. */
function recordWrites(client: unknown, writes: Map<string, Map<number, number>>): void {
  (client as { middlewareStack: { add: (...args: unknown[]) => void } }).middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        const action = (context.commandName ?? '').replace(/Command$/, '');
        if (action === 'PutItem' || action === 'UpdateItem' || action === 'DeleteItem') {
          const { Item, Key } = args.input as { Item?: PkHolder; Key?: PkHolder };
          const pk = (Item ?? Key)?.pk;
          const key = typeof pk === 'string' ? pk : (pk?.S ?? '?');
          const second = Math.floor(Date.now() / 1000);
          const perSecond = writes.get(key) ?? new Map<number, number>();
          perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
          writes.set(key, perSecond);
        }
        return next(args);
      },
    { step: 'initialize', name: 'recordWrites', override: true },
  );
}
type PkHolder = { pk?: string | { S?: string } };

const kindOf = (pk: string) =>
  pk.startsWith('S#')
    ? 'session'
    : pk.startsWith('C#')
      ? 'connection'
      : pk.includes('#ARR#')
        ? 'arrival log partition'
        : pk.includes('#CHG#')
          ? 'change log partition'
          : 'room item';

export async function benchArrivals(
  targetPerSecond: number,
  seconds: number,
): Promise<ArrivalsResult> {
  const dynamo = await startLocalDynamo(null);
  const TableName = 'bench-arrivals';
  const writes = new Map<string, Map<number, number>>();
  const side = () => {
    const raw = localDynamoClient(dynamo.endpoint);
    const usage = emptySdkUsage();
    countCalls(raw, 'dynamodb', usage);
    recordWrites(raw, writes);
    const client = DynamoDBDocumentClient.from(raw, {
      marshallOptions: { removeUndefinedValues: true },
    });
    return { raw, usage, client };
  };
  try {
    const visitorSide = side();
    const processorSide = side();
    await ensureRoomTable(visitorSide.raw, TableName);
    const signer = createSigner({
      key: await generateSigningKey(),
      roomId: ROOM,
      mainOrigin: MAIN,
      passTtlSeconds: 600,
    });
    const config = new MemoryConfigSource({ enabled: true, admitPerMinute: 0 });
    const visitorStore = createDynamoSessionStore({
      client: visitorSide.client,
      tableName: TableName,
      roomId: ROOM,
    });
    const visitorLog = createDynamoArrivalLog({
      client: visitorSide.client,
      tableName: TableName,
      roomId: ROOM,
    });
    const notifier: Notifier = { send: async (): Promise<Delivery> => 'sent' };
    const numberedAt = new Map<string, { at: number; seq: string }>();
    const processorStore = createDynamoSessionStore({
      client: processorSide.client,
      tableName: TableName,
      roomId: ROOM,
    });
    const numberArrivals = processorStore.numberArrivals.bind(processorStore);
    processorStore.numberArrivals = async (arrivals) => {
      const sessions = await numberArrivals(arrivals);
      for (const s of sessions) numberedAt.set(s.id, { at: Date.now(), seq: s.seq as string });
      return sessions;
    };
    const deps: ProcessorDeps = {
      store: processorStore,
      queue: createDynamoArrivalLog({
        client: processorSide.client,
        tableName: TableName,
        roomId: ROOM,
      }),
      notifier,
      clock: systemClock,
      config,
      signer,
      settings: { ...DEFAULT_PROCESSOR_SETTINGS, mainOrigin: MAIN, maxArrivalsPerTick: 1000 },
      memory: forgetLine(),
    };

    // The processor ticks from the start until the last join has settled and been numbered.
    const joinedAt = new Map<string, { began: number; returned: number }>();
    const startedAt = Date.now();
    let ticks = 0;
    const stop = new AbortController();
    const processorCallsBefore = totalCalls(processorSide.usage.dynamodb.calls);
    const loop = runProcessorLoop({
      lease: createProcessLease(),
      clock: systemClock,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      tick: (takenOver, stillHeld) => runLoopTick(deps, takenOver, stillHeld),
      tickMs: 1000,
      leaseMs: 15_000,
      deadline: startedAt + (seconds + 30) * 1000,
      signal: stop.signal,
      onTick: () => {
        ticks += 1;
      },
    });

    // Joins paced at the target rate (a batch every 20 ms), each awaited by its own promise.
    const inFlight: Promise<void>[] = [];
    const total = targetPerSecond * seconds;
    const perSlot = Math.max(1, Math.round(targetPerSecond / 50));
    let n = 0;
    while (n < total) {
      const slotStart = Date.now();
      for (let i = 0; i < perSlot && n < total; i++, n++) {
        const connectionId = `c${n}`;
        inFlight.push(
          (async () => {
            const began = Date.now();
            const replies: ServerMessage[] = await join(
              {
                store: visitorStore,
                queue: visitorLog,
                config,
                signer,
                clock: systemClock,
                mainOrigin: MAIN,
              },
              connectionId,
              { return: '/' },
            );
            const joined = replies.find((m) => m.type === 'joined');
            if (joined?.type !== 'joined') throw new Error('no joined');
            await visitorStore.markAnnounced(joined.sessionId, connectionId);
            joinedAt.set(joined.sessionId, { began, returned: Date.now() });
          })(),
        );
      }
      const wait = 20 - (Date.now() - slotStart);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await Promise.all(inFlight);
    const joinSeconds = (Date.now() - startedAt) / 1000;
    // Wait for the numbering to catch up (settle + a tick or two), then stop the loop.
    const until = Date.now() + 30_000;
    while (numberedAt.size < joinedAt.size && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // The loop ends after the tick in progress.
    stop.abort();
    await loop;

    // Order: for each pair where A returned before B began, A's seq is lower. Checked by
    // sorting on `began` and comparing each with the latest-returned seq so far.
    const byBegan = [...joinedAt.entries()].sort((a, b) => a[1].began - b[1].began);
    const byReturned = [...joinedAt.entries()].sort((a, b) => a[1].returned - b[1].returned);
    let outOfOrder = 0;
    let r = 0;
    let highestReturnedSeq = '';
    for (const [id, { began }] of byBegan) {
      while (
        r < byReturned.length &&
        (byReturned[r] as [string, { returned: number }])[1].returned < began
      ) {
        const seq = numberedAt.get((byReturned[r] as [string, unknown])[0])?.seq ?? '';
        if (seq > highestReturnedSeq) highestReturnedSeq = seq;
        r += 1;
      }
      const seq = numberedAt.get(id)?.seq;
      if (seq !== undefined && seq < highestReturnedSeq) outOfOrder += 1;
    }

    const latencies = [...numberedAt.entries()]
      .map(([id, { at }]) => at - (joinedAt.get(id)?.began ?? at))
      .sort((a, b) => a - b);
    let hottest = { kind: 'none', writesPerSecond: 0 };
    for (const [pk, perSecond] of writes) {
      const most = Math.max(...perSecond.values());
      if (most > hottest.writesPerSecond) hottest = { kind: kindOf(pk), writesPerSecond: most };
    }
    const linePartitions = new Map<string, Map<number, number>>();
    for (const [id, { at }] of numberedAt) {
      const key = lineKeyOf(ROOM, id);
      const perSecond = linePartitions.get(key) ?? new Map<number, number>();
      const second = Math.floor(at / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      linePartitions.set(key, perSecond);
    }
    const logItems = [...writes.entries()]
      .filter(([pk]) => pk.includes('#ARR#'))
      .reduce((sum, [, perSecond]) => sum + [...perSecond.values()].reduce((a, b) => a + b, 0), 0);
    const joins = joinedAt.size;
    const visitorCalls = visitorSide.usage.dynamodb.calls;
    return {
      targetPerSecond,
      seconds,
      joins,
      joinsPerSecond: joins / joinSeconds,
      perJoin: {
        calls: totalCalls(visitorCalls) / joins,
        writeUnits: visitorSide.usage.dynamodb.writeUnits / joins,
        putItems: (visitorCalls.PutItem ?? 0) / joins,
      },
      logItemsPerJoin: logItems / joins,
      hottestKey: hottest,
      hottestLinePartition: Math.max(
        0,
        ...[...linePartitions.values()].map((m) => Math.max(...m.values())),
      ),
      processor: {
        callsPerTick:
          (totalCalls(processorSide.usage.dynamodb.calls) - processorCallsBefore) /
          Math.max(1, ticks),
        queriesPerTick: (processorSide.usage.dynamodb.calls.Query ?? 0) / Math.max(1, ticks),
        ticks,
      },
      numbered: numberedAt.size,
      outOfOrder,
      latency: {
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: latencies.at(-1) ?? 0,
      },
    };
  } finally {
    await dynamo.close();
  }
}
