/**
 * Joins into the deployed room's arrival queue: the real `join` (session and connection on
 * DynamoDB, one `SendMessage` to the SQS FIFO queue, the `joined` mark) at a paced rate, while
 * the processor's own loop receives them (ten receives of ten at once), numbers them, deletes
 * them and merges the groups behind the 1 s settle window. DynamoDB is dynalite in this process;
 * SQS is fauxqs in a process of its own (SQS is another service: its CPU is not the room's).
 *
 * Counts every SQS request on each side and the sends each message group takes a second, and
 * checks the order: a visitor whose join returned before another's began is numbered first.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoSessionStore } from '../../functions/adapters/aws/dynamo-session-store.ts';
import {
  ARRIVAL_GROUPS,
  arrivalGroupOf,
  createSqsArrivalQueue,
} from '../../functions/adapters/aws/sqs-arrival-queue.ts';
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
import { ensureRoomTable } from '../../local/aws-local/dynamo.ts';
import { startServiceProcess } from '../../local/aws-local/service-process.ts';
import { ensureArrivalQueues, localSqsClient, startLocalSqs } from '../../local/aws-local/sqs.ts';
import { percentile } from './stats.ts';

/** A million joining in ten minutes. */
export const PEAK_JOINS_PER_SECOND = 1667;

export interface ArrivalsResult {
  targetPerSecond: number;
  /** Message groups the joins were spread over. */
  groups: number;
  seconds: number;
  joins: number;
  /** Joins completed a second (dynalite, the room's two sides and fauxqs share this machine). */
  joinsPerSecond: number;
  /** SQS requests per join: the join's send, the processor's receives and batch deletes. */
  sqsPerJoin: { total: number; send: number; receive: number; delete: number };
  /** Messages a receive returned, on average (10 at most). */
  messagesPerReceive: number;
  /** Most sends one message group took in one second, measured. */
  hottestGroupPerSecond: number;
  /**
   * Sends a second to the busiest group at {@link PEAK_JOINS_PER_SECOND} on AWS, from the share
   * of the joins the busiest group took here (32 groups: 52 a second if even).
   */
  modelledPeakGroupPerSecond: number;
  /** DynamoDB calls a join, both sides (the join's writes, the numbering, the ticks). */
  dynamoPerJoin: number;
  /** Joins answered with an error instead of `joined` (the page retries those). */
  errors: number;
  numbered: number;
  /** Joined (answered `joined`) and never numbered. */
  lost: number;
  /** Pairs (A returned before B began) numbered the other way round. */
  outOfOrder: number;
  /** Arrivals the processor found late (put behind the line's tail). */
  late: number;
  /** From the start of `join` to numbered (ms); and to in line, the settle window included. */
  latency: { p50: number; p99: number; max: number };
  inLineLatency: { p50: number; p99: number };
}

const ROOM = 'bench';
const MAIN = 'https://shop.example.com';

/** dynalite (DynamoDB) in a process of its own. */
const startDynaliteProcess = () =>
  startServiceProcess(
    'dynalite',
    "const { default: dynalite } = await import('dynalite'); const s = dynalite({ createTableMs: 0 }); s.listen(0, '127.0.0.1', () => console.log(s.address().port));",
  );

/**
 * Joins in flight at once, at most: Lambda runs one join per container, and a container waits
 * for its calls; beyond this the offered rate is what this machine achieves.
 */
const MAX_JOINS_IN_FLIGHT = 200;

export async function benchArrivals(
  targetPerSecond: number,
  seconds: number,
  groups = ARRIVAL_GROUPS,
): Promise<ArrivalsResult> {
  const [dynamo, fauxqs] = await Promise.all([startDynaliteProcess(), startLocalSqs(null)]);
  const clients: SQSClient[] = [];
  try {
    const raw = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 3,
      requestHandler: { httpAgent: { keepAlive: true, maxSockets: 256 } },
    });
    let dynamoCalls = 0;
    (raw as { middlewareStack: { add: (...args: unknown[]) => void } }).middlewareStack.add(
      (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
        dynamoCalls += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countDynamo' },
    );
    const documentClient = DynamoDBDocumentClient.from(raw, {
      marshallOptions: { removeUndefinedValues: true },
    });
    const TableName = 'bench-arrivals';
    await ensureRoomTable(raw, TableName);
    const admin = localSqsClient(fauxqs.endpoint);
    clients.push(admin);
    const { queueUrl } = await ensureArrivalQueues(admin, fauxqs.endpoint, 'bench');

    const calls = { SendMessage: 0, ReceiveMessage: 0, DeleteMessageBatch: 0 };
    let received = 0;
    const groupSends = new Map<string, Map<number, number>>();
    // As a Lambda container's client: keep-alive sockets, enough for the joins in flight.
    const sqsSide = () => {
      const client = new SQSClient({
        endpoint: fauxqs.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 3,
        requestHandler: { httpAgent: { keepAlive: true, maxSockets: 256 } },
      });
      clients.push(client);
      return client;
    };
    const visitorQueue = createSqsArrivalQueue({
      client: sqsSide(),
      queueUrl,
      groups,
      onCall: (action) => {
        calls[action] += 1;
      },
    });
    const processorQueue = createSqsArrivalQueue({
      client: sqsSide(),
      queueUrl,
      onCall: (action) => {
        calls[action] += 1;
      },
    });
    const receive = processorQueue.receive.bind(processorQueue);
    processorQueue.receive = async (max) => {
      const batch = await receive(max);
      received += batch.length;
      return batch;
    };

    const signer = createSigner({
      key: await generateSigningKey(),
      roomId: ROOM,
      mainOrigin: MAIN,
      passTtlSeconds: 600,
    });
    const config = new MemoryConfigSource({ enabled: true, admitPerMinute: 0 });
    const store = createDynamoSessionStore({
      client: documentClient,
      tableName: TableName,
      roomId: ROOM,
    });
    const notifier: Notifier = { send: async (): Promise<Delivery> => 'sent' };
    const numberedAt = new Map<string, { at: number; seq: string }>();
    const inLineAt = new Map<string, number>();
    const processorStore = createDynamoSessionStore({
      client: documentClient,
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
      queue: processorQueue,
      notifier,
      clock: systemClock,
      config,
      signer,
      settings: { ...DEFAULT_PROCESSOR_SETTINGS, mainOrigin: MAIN, maxArrivalsPerTick: 2500 },
      memory: forgetLine(),
    };

    const joinedAt = new Map<string, { began: number; returned: number }>();
    const startedAt = Date.now();
    let late = 0;
    const stop = new AbortController();
    const loop = runProcessorLoop({
      lease: createProcessLease(),
      clock: systemClock,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      tick: (takenOver, stillHeld) => runLoopTick(deps, takenOver, stillHeld),
      tickMs: 1000,
      leaseMs: 15_000,
      deadline: startedAt + (seconds + 60) * 1000,
      signal: stop.signal,
      onTick: (report) => {
        late += report.late;
        const now = Date.now();
        for (const entry of deps.memory.line?.entries() ?? []) {
          if (!inLineAt.has(entry.id)) inLineAt.set(entry.id, now);
        }
      },
    });

    // Joins paced at the target rate (a batch every 20 ms), each awaited by its own promise.
    const inFlight: Promise<void>[] = [];
    const total = targetPerSecond * seconds;
    const perSlot = Math.max(1, Math.round(targetPerSecond / 50));
    let failed = 0;
    let running = 0;
    let n = 0;
    while (n < total) {
      const slotStart = Date.now();
      for (let i = 0; i < perSlot && n < total && running < MAX_JOINS_IN_FLIGHT; i++, n++) {
        running += 1;
        const connectionId = `c${n}`;
        inFlight.push(
          (async () => {
            const began = Date.now();
            // A join whose store or queue call failed answers nothing here; the page would retry.
            const replies: ServerMessage[] = await join(
              { store, queue: visitorQueue, config, signer, clock: systemClock, mainOrigin: MAIN },
              connectionId,
              { return: '/' },
            ).catch(() => []);
            const joined = replies.find((m) => m.type === 'joined');
            if (joined?.type !== 'joined') {
              failed += 1;
              return;
            }
            const group = arrivalGroupOf(joined.sessionId, groups);
            const second = Math.floor(Date.now() / 1000);
            const perSecond = groupSends.get(group) ?? new Map<number, number>();
            perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
            groupSends.set(group, perSecond);
            joinedAt.set(joined.sessionId, { began, returned: Date.now() });
            await store.markAnnounced(joined.sessionId, connectionId).catch(() => {});
          })().finally(() => {
            running -= 1;
          }),
        );
      }
      const wait = 20 - (Date.now() - slotStart);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await Promise.all(inFlight);
    const joinSeconds = (Date.now() - startedAt) / 1000;
    const until = Date.now() + 60_000;
    while (inLineAt.size < joinedAt.size && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    stop.abort();
    await loop;

    // Order: for each pair where A returned before B began, A's seq is lower. Checked by
    // sorting on `began` and comparing each with the highest seq returned before it began.
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
    const inLine = [...inLineAt.entries()]
      .map(([id, at]) => at - (joinedAt.get(id)?.began ?? at))
      .sort((a, b) => a - b);
    const joins = joinedAt.size;
    let busiest = 0;
    let hottestGroupPerSecond = 0;
    for (const perSecond of groupSends.values()) {
      const sends = [...perSecond.values()].reduce((a, b) => a + b, 0);
      busiest = Math.max(busiest, sends);
      hottestGroupPerSecond = Math.max(hottestGroupPerSecond, ...perSecond.values());
    }
    const perJoin = (count: number) => count / Math.max(1, joins);
    return {
      targetPerSecond,
      groups,
      seconds,
      joins,
      joinsPerSecond: joins / joinSeconds,
      sqsPerJoin: {
        total: perJoin(calls.SendMessage + calls.ReceiveMessage + calls.DeleteMessageBatch),
        send: perJoin(calls.SendMessage),
        receive: perJoin(calls.ReceiveMessage),
        delete: perJoin(calls.DeleteMessageBatch),
      },
      messagesPerReceive: received / Math.max(1, calls.ReceiveMessage),
      hottestGroupPerSecond,
      modelledPeakGroupPerSecond: (PEAK_JOINS_PER_SECOND * busiest) / Math.max(1, joins),
      dynamoPerJoin: perJoin(dynamoCalls),
      errors: failed,
      numbered: numberedAt.size,
      lost: [...joinedAt.keys()].filter((id) => !numberedAt.has(id)).length,
      outOfOrder,
      late,
      latency: {
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies.at(-1) ?? 0,
      },
      inLineLatency: { p50: percentile(inLine, 50), p99: percentile(inLine, 99) },
    };
  } finally {
    for (const client of clients) client.destroy();
    await Promise.all([fauxqs.close(), dynamo.close()]);
  }
}
