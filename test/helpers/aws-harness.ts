/**
 * A whole room on the AWS adapters, with the shape of `room-harness.ts`: the DynamoDB store on
 * dynalite, the SQS FIFO arrival queue on fauxqs, SSM config and management API notifier over stand-in clients (so the
 * real adapter code runs), a manual clock, and frames answered the way the Lambda message
 * handler answers them (replies in order, then `joined` marked as delivered).
 */
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { createApiGatewayNotifier } from '../../functions/adapters/aws/api-gateway-notifier.ts';
import { createDynamoSessionStore } from '../../functions/adapters/aws/dynamo-session-store.ts';
import {
  arrivalOrder,
  createSqsArrivalQueue,
} from '../../functions/adapters/aws/sqs-arrival-queue.ts';
import {
  createSsmConfigSource,
  createSsmConfigWriter,
} from '../../functions/adapters/aws/ssm-config.ts';
import type { ArrivalQueue, Delivery, Notifier, RoomConfig } from '../../functions/core/ports.ts';
import {
  DEFAULT_PROCESSOR_SETTINGS,
  forgetLine,
  type ProcessorDeps,
  runTick,
} from '../../functions/core/processor.ts';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import { createSigner, jwksOf } from '../../functions/core/tokens.ts';
import { answerFrame } from '../../functions/lambda/websocket-handlers.ts';
import { handleDisconnect, type RouterDeps } from '../../functions/router.ts';
import { FakeManagementApi, FakeSsm } from './aws-fakes.ts';
import type { Fauxqs } from './aws-fauxqs.ts';
import type { AwsStandIns } from './aws-stand-ins.ts';
import { type HarnessOptions, MAIN_ORIGIN, ManualClock, ROOM_ID, testKey } from './room-harness.ts';

export const CONFIG_PREFIX = '/waiting-room/config/';

/** The management API as the tests see it: what was pushed, and which connections are gone. */
export interface RecordingPushes extends Notifier {
  readonly sent: Map<string, ServerMessage[]>;
  readonly gone: Set<string>;
  failNext: number;
  messages(connectionId: string): ServerMessage[];
}

/** When each arrival was sent, on the test's clock, per queue (shared by restarted adapters). */
const sentOnTestClock = new Map<string, { sentAt: Map<string, number>; last: number }>();

/**
 * An arrival queue on the emulator, every call going to it. SQS stamps an arrival on its own
 * clock, which a test cannot move: here the stamp (`acceptedAt`, and the order it leads) is the
 * test's clock at the send (a millisecond past the last stamp if the clock has not moved: joins
 * a test makes one after the other are seconds apart on the wire), so the settle window and a
 * takeover's hold run on one clock. The
 * emulator's visibility timeout (1 s) runs on real time; a takeover holds 30 s of the test's
 * clock, which the fault tests advance much faster.
 */
export function arrivalQueueOn(
  sqs: Fauxqs,
  queueUrl: string,
  clock: ManualClock,
): ArrivalQueue & { approximateDepth(): Promise<number> } {
  const queue = createSqsArrivalQueue({
    client: sqs.client,
    queueUrl,
    settleMs: 0,
    visibilityTimeoutSeconds: 1,
    holdAfterTakeoverMs: 30_000,
  });
  const stamps = sentOnTestClock.get(queueUrl) ?? { sentAt: new Map<string, number>(), last: 0 };
  sentOnTestClock.set(queueUrl, stamps);
  const { sentAt } = stamps;
  return {
    settleMs: queue.settleMs,
    holdAfterTakeoverMs: queue.holdAfterTakeoverMs,
    async enqueue(arrival) {
      if (!sentAt.has(arrival.sessionId)) {
        stamps.last = Math.max(clock.now(), stamps.last + 1);
        sentAt.set(arrival.sessionId, stamps.last);
      }
      await queue.enqueue(arrival);
    },
    async receive(max) {
      const received = await queue.receive(max);
      return received
        .map((arrival) => {
          const [, group, sequence] = arrival.order.split(':') as [string, string, string];
          const acceptedAt = sentAt.get(arrival.sessionId) ?? arrival.acceptedAt;
          return { ...arrival, acceptedAt, order: arrivalOrder(acceptedAt, group, sequence) };
        })
        .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    },
    acknowledge: (arrivals) => queue.acknowledge(arrivals),
    approximateDepth: () => queue.approximateDepth(),
  };
}

export async function createAwsHarness(db: AwsStandIns, options: HarnessOptions = {}) {
  const clock = new ManualClock();
  const key = await testKey();
  const tableName = await db.createTable();
  const queues = await db.sqs.createQueues();
  const ssm = new FakeSsm();
  const api = new FakeManagementApi();

  const queue = arrivalQueueOn(db.sqs, queues.queueUrl, clock);
  const store = createDynamoSessionStore({
    client: db.documentClient,
    tableName,
    roomId: ROOM_ID,
    clock,
    countArriving: () => queue.approximateDepth(),
    // Waits (for the line's index to settle, before retries) pass on the test's clock.
    sleep: async (ms) => clock.advance(ms),
  });
  const writer = createSsmConfigWriter({
    client: ssm as unknown as SSMClient,
    prefix: CONFIG_PREFIX,
  });
  const initial: RoomConfig = { enabled: true, admitPerMinute: 60, ...options.config };
  await writer.write(initial);
  // No caching: a test's change applies at the next tick, as in the in-process config.
  const source = createSsmConfigSource({
    client: ssm as unknown as SSMClient,
    prefix: CONFIG_PREFIX,
    ttlMs: 0,
    clock,
  });
  const config = {
    get: () => source.get(),
    async set(change: Partial<RoomConfig>): Promise<void> {
      await writer.write(change);
    },
  };
  const pushes = createApiGatewayNotifier({
    client: api as unknown as ApiGatewayManagementApiClient,
    sleep: async () => {},
  });
  const notifier: RecordingPushes = {
    sent: api.posts,
    gone: api.gone,
    get failNext() {
      return api.failNext;
    },
    set failNext(count: number) {
      api.failNext = count;
    },
    send: (connectionId: string, message: ServerMessage): Promise<Delivery> =>
      pushes.send(connectionId, message),
    messages: (connectionId: string) => api.messages(connectionId),
  };
  const signer = createSigner({
    key,
    roomId: ROOM_ID,
    mainOrigin: MAIN_ORIGIN,
    passTtlSeconds: options.passTtlSeconds ?? 1200,
  });
  let ids = 0;
  const router: RouterDeps = {
    store,
    queue,
    config,
    signer,
    clock,
    mainOrigin: MAIN_ORIGIN,
    newId: () => `s${String(++ids).padStart(6, '0')}`,
  };
  const tickMs = options.tickMs ?? 1000;
  const processor: ProcessorDeps = {
    store,
    queue,
    config,
    notifier,
    signer,
    clock,
    settings: {
      ...DEFAULT_PROCESSOR_SETTINGS,
      mainOrigin: MAIN_ORIGIN,
      tickMs,
      abandonAfterMs: options.abandonAfterMs ?? 120_000,
    },
    memory: forgetLine(),
  };
  return {
    clock,
    key,
    jwks: jwksOf([key]),
    tableName,
    queues,
    store,
    queue,
    config,
    notifier,
    router,
    processor,
    ssm,
    api,
    /** Sends one frame from a connection, as the message handler does, and returns the replies. */
    async send(connectionId: string, frame: unknown): Promise<ServerMessage[]> {
      const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
      const replies: ServerMessage[] = [];
      const replyChannel: Notifier = {
        async send(_connectionId, message) {
          replies.push(message);
          return 'sent';
        },
      };
      await answerFrame({ router, store, replies: replyChannel, clock }, connectionId, text);
      return replies;
    },
    disconnect(connectionId: string): Promise<void> {
      api.gone.add(connectionId);
      return handleDisconnect(router, connectionId);
    },
    /** Advances the clock by one tick and runs it. */
    async tick() {
      clock.advance(tickMs);
      return runTick(processor);
    },
  };
}

export type AwsHarness = Awaited<ReturnType<typeof createAwsHarness>>;
