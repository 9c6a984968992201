/**
 * {@link ArrivalQueue} on an SQS FIFO queue in high-throughput mode (`arrivals.fifo`:
 * `DeduplicationScope=messageGroup`, `FifoThroughputLimit=perMessageGroupId`).
 *
 * - **Producer** (`join`, and the requeue of an arrival still unnumbered): one `SendMessage`,
 *   `MessageGroupId` one of {@link ARRIVAL_GROUPS} groups chosen by a hash of the session id, and
 *   `MessageDeduplicationId` the session id, so an SDK retry or a requeue within SQS's five
 *   minutes is not delivered twice. It resolves only once SQS accepted (and so stored) the
 *   message: the handler answers `joined` after it, never before.
 * - **Consumer** (the leaseholder processor): `receive` makes up to {@link RECEIVE_CONCURRENCY}
 *   `ReceiveMessage` calls at once (as many as came back with messages last time, plus one: one
 *   on a quiet queue, ten in a flood; 10 messages each, with `SentTimestamp`, `SequenceNumber`
 *   and `MessageGroupId`, and a `ReceiveRequestAttemptId` so that the SDK's retry of a receive
 *   whose answer was lost gets the same batch back). `acknowledge` deletes them in batches of
 *   10 right after the processor numbered them: a group is locked only from receive to delete.
 * - **Order**: an arrival's `order` is `<SentTimestamp, 13 digits>:<group>:<SequenceNumber, 20
 *   digits>` ({@link arrivalOrder}): SQS's own clock, then the group, then the group's sequence.
 *   Within a group that is exactly the order SQS accepted the messages in; across groups it is
 *   SQS's timestamp, which the processor merges behind a settle window (`arrival-merge.ts`).
 *   `acceptedAt` is the `SentTimestamp`. A redelivered message keeps both.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  type DeleteMessageBatchRequestEntry,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import * as v from 'valibot';
import type { Arrival, ArrivalQueue, ReceivedArrival } from '../../core/ports.ts';
import { defaultSqsClient } from './clients.ts';
import { chunks } from './concurrency.ts';
import { shardOf } from './dynamo-items.ts';

/**
 * Message groups the arrivals are spread over. At a million joining in ten minutes (1,667 a
 * second) 32 groups take about 52 sends a second each, against SQS's 300 calls a second per
 * partition; a group is locked while a receive of it is in flight, so more groups also let more
 * receives run at once.
 */
export const ARRIVAL_GROUPS = 32;
/** Most messages one ReceiveMessage or DeleteMessageBatch handles. */
export const SQS_BATCH = 10;
/** ReceiveMessage calls in flight at once while the processor drains the queue. */
export const RECEIVE_CONCURRENCY = 10;
/**
 * How long a received arrival stays invisible (and locks its group) before SQS hands it out
 * again. The processor numbers and deletes a batch within a fraction of a second; a processor
 * that takes over holds its appends this long after its predecessor's last tick, so that what
 * the predecessor held in flight comes back first (`arrival-merge.ts`).
 */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 10;
/**
 * How long the processor lets arrivals of different groups settle before it puts them in line:
 * SQS stamps a message when it accepts it, and concurrent receives hand out the groups a moment
 * apart.
 */
export const DEFAULT_SETTLE_MS = 1000;

const ArrivalBody = v.strictObject({
  sessionId: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  joinedAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

/** The group of a session's arrival: `g00` to `g31`. */
export function arrivalGroupOf(sessionId: string, groups = ARRIVAL_GROUPS): string {
  return `g${String(shardOf(sessionId, groups)).padStart(2, '0')}`;
}

/** An arrival's `order`: SQS's timestamp, then the group, then the group's sequence number. */
export function arrivalOrder(sentTimestamp: number, group: string, sequenceNumber: string): string {
  return `${String(sentTimestamp).padStart(13, '0')}:${group}:${sequenceNumber.padStart(20, '0')}`;
}

export interface SqsArrivalQueueOptions {
  client?: SQSClient;
  queueUrl: string;
  /** Message groups (see {@link ARRIVAL_GROUPS}). */
  groups?: number;
  visibilityTimeoutSeconds?: number;
  settleMs?: number;
  /** How long a processor that takes over holds its appends (default: the visibility timeout). */
  holdAfterTakeoverMs?: number;
  receiveConcurrency?: number;
  /** Told about a message that is not an arrival; it is deleted so it cannot block its group. */
  onMalformed?: (message: Message, reason: string) => void;
  /** Told about each SQS call made (metrics, benchmarks). */
  onCall?: (action: 'SendMessage' | 'ReceiveMessage' | 'DeleteMessageBatch') => void;
}

export interface SqsArrivalQueue extends ArrivalQueue {
  /** Messages queued or in flight (SQS's approximate counts): the sessions still arriving. */
  approximateDepth(): Promise<number>;
}

/** Some deletions of a batch failed even after a retry; the arrivals will come back (and be skipped). */
export class AcknowledgeError extends Error {
  constructor(readonly failures: readonly { id: string; code: string }[]) {
    super(
      `could not delete ${failures.length} arrival message(s): ${failures.map((f) => f.code).join(', ')}`,
    );
    this.name = 'AcknowledgeError';
  }
}

export function createSqsArrivalQueue(options: SqsArrivalQueueOptions): SqsArrivalQueue {
  const { queueUrl: QueueUrl } = options;
  const client = options.client ?? defaultSqsClient();
  const groups = options.groups ?? ARRIVAL_GROUPS;
  const visibilityTimeout = options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS;
  const concurrency = options.receiveConcurrency ?? RECEIVE_CONCURRENCY;
  const called = options.onCall ?? (() => {});
  /** How many receives the next `receive` makes at once (it adapts to what came back). */
  let width = 1;

  async function deleteBatch(entries: DeleteMessageBatchRequestEntry[]) {
    let pending = entries;
    let failures: { id: string; code: string }[] = [];
    // One retry for failures on SQS's side; a sender fault (an expired receipt) will not heal.
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
      called('DeleteMessageBatch');
      const result = await client.send(
        new DeleteMessageBatchCommand({ QueueUrl, Entries: pending }),
      );
      const failed = result.Failed ?? [];
      failures = failed.map((f) => ({ id: f.Id ?? '?', code: f.Code ?? 'unknown' }));
      const retryable = new Set(failed.filter((f) => !f.SenderFault).map((f) => f.Id));
      pending = pending.filter((entry) => retryable.has(entry.Id));
    }
    return failures;
  }

  async function receiveOnce(max: number): Promise<ReceivedArrival[]> {
    called('ReceiveMessage');
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: Math.min(SQS_BATCH, max),
        VisibilityTimeout: visibilityTimeout,
        // Short polling: an empty answer ends this tick's draining, the next tick goes on.
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['SentTimestamp', 'SequenceNumber', 'MessageGroupId'],
        // The SDK retries with this same input: a receive whose answer was lost hands the same
        // messages back instead of leaving them invisible (and their groups locked).
        ReceiveRequestAttemptId: randomUUID(),
      }),
    );
    const arrivals: ReceivedArrival[] = [];
    const malformed: DeleteMessageBatchRequestEntry[] = [];
    for (const message of Messages) {
      const arrival = toArrival(message);
      if (typeof arrival !== 'string') {
        arrivals.push(arrival);
        continue;
      }
      options.onMalformed?.(message, arrival);
      if (message.ReceiptHandle) {
        malformed.push({ Id: String(malformed.length), ReceiptHandle: message.ReceiptHandle });
      }
    }
    if (malformed.length > 0) await deleteBatch(malformed);
    return arrivals;
  }

  return {
    settleMs: options.settleMs ?? DEFAULT_SETTLE_MS,
    holdAfterTakeoverMs: options.holdAfterTakeoverMs ?? visibilityTimeout * 1000,

    async enqueue(arrival: Arrival) {
      called('SendMessage');
      await client.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify({ sessionId: arrival.sessionId, joinedAt: arrival.joinedAt }),
          MessageGroupId: arrivalGroupOf(arrival.sessionId, groups),
          MessageDeduplicationId: arrival.sessionId,
        }),
      );
    },

    async receive(max) {
      if (max <= 0) return [];
      const calls = Math.max(1, Math.min(width, concurrency, Math.ceil(max / SQS_BATCH)));
      const batches = await Promise.all(
        Array.from({ length: calls }, (_, i) =>
          receiveOnce(Math.min(SQS_BATCH, max - i * SQS_BATCH)),
        ),
      );
      // As many receives next time as came back with something, and one more: a flood opens
      // up to ten at once, a quiet queue costs one receive a tick.
      width = batches.filter((batch) => batch.length > 0).length + 1;
      return batches.flat().sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    },

    async acknowledge(arrivals) {
      const results = await Promise.all(
        chunks(arrivals, SQS_BATCH).map((batch) =>
          deleteBatch(
            batch.map((arrival, i) => ({ Id: String(i), ReceiptHandle: arrival.receipt })),
          ),
        ),
      );
      const failures = results.flat();
      if (failures.length > 0) throw new AcknowledgeError(failures);
    },

    async approximateDepth() {
      const { Attributes = {} } = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(Attributes.ApproximateNumberOfMessages ?? 0) +
        Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
      );
    },
  };
}

/** The arrival a message carries, or why it is not one. */
function toArrival(message: Message): ReceivedArrival | string {
  const { SentTimestamp, SequenceNumber, MessageGroupId } = message.Attributes ?? {};
  if (!message.ReceiptHandle) return 'no receipt handle';
  if (!SequenceNumber || !/^\d{1,20}$/.test(SequenceNumber)) return 'no SequenceNumber attribute';
  if (!SentTimestamp || !/^\d{1,13}$/.test(SentTimestamp)) return 'no SentTimestamp attribute';
  if (!MessageGroupId || !/^[\w-]{1,128}$/.test(MessageGroupId)) return 'no MessageGroupId';
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    return 'body is not JSON';
  }
  const parsed = v.safeParse(ArrivalBody, body);
  if (!parsed.success) return `body is not an arrival: ${parsed.issues[0]?.message ?? ''}`;
  const acceptedAt = Number(SentTimestamp);
  return {
    sessionId: parsed.output.sessionId,
    joinedAt: parsed.output.joinedAt,
    order: arrivalOrder(acceptedAt, MessageGroupId, SequenceNumber),
    acceptedAt,
    group: MessageGroupId,
    receipt: message.ReceiptHandle,
  };
}
