/**
 * {@link ArrivalQueue} on an SQS FIFO queue: one message group per room (so one strict order),
 * deduplicated by session id (content-based deduplication off), received in batches of 10 and
 * deleted in batches. An arrival's `order` is its message's `SequenceNumber`, padded to 40
 * digits: it grows with every message of the group, and a redelivery keeps it.
 *
 * SQS deduplicates a session id for 5 minutes from the first send (the in-process queue, while
 * the arrival is queued): either way a repeated enqueue never yields a second place, because
 * the store numbers a session once.
 */
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

/** Width of `order`, as in the in-process queue; SequenceNumber has at most 20 digits today. */
export const ORDER_WIDTH = 40;
/** Most messages one ReceiveMessage or DeleteMessageBatch handles. */
export const SQS_BATCH = 10;

const ArrivalBody = v.strictObject({
  sessionId: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  joinedAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

export interface SqsArrivalQueueOptions {
  client?: SQSClient;
  queueUrl: string;
  /** The message group: one per room, so the room has one order. */
  roomId: string;
  /**
   * How long a received arrival stays invisible (and blocks its group) before it comes back.
   * The processor numbers and deletes a batch within milliseconds; a short timeout lets the
   * line move on soon after a processor crash.
   */
  visibilityTimeoutSeconds?: number;
  /** Told about a message that is not an arrival; it is deleted so it cannot block the group. */
  onMalformed?: (message: Message, reason: string) => void;
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
  const { queueUrl: QueueUrl, roomId } = options;
  const client = options.client ?? defaultSqsClient();
  const visibilityTimeout = options.visibilityTimeoutSeconds ?? 20;

  async function deleteBatch(entries: DeleteMessageBatchRequestEntry[]) {
    let pending = entries;
    let failures: { id: string; code: string }[] = [];
    // One retry for failures on SQS's side; a sender fault (an expired receipt) will not heal.
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
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

  return {
    async enqueue(arrival: Arrival) {
      await client.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify({ sessionId: arrival.sessionId, joinedAt: arrival.joinedAt }),
          MessageGroupId: roomId,
          MessageDeduplicationId: arrival.sessionId,
        }),
      );
    },

    async receive(max) {
      if (max <= 0) return [];
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: Math.min(SQS_BATCH, max),
          VisibilityTimeout: visibilityTimeout,
          // Short polling: an empty answer ends this tick's draining, the next tick goes on.
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['SequenceNumber'],
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
    },

    async acknowledge(arrivals) {
      const failures: { id: string; code: string }[] = [];
      for (const batch of chunks(arrivals, SQS_BATCH)) {
        const entries = batch.map((arrival, i) => ({
          Id: String(i),
          ReceiptHandle: arrival.receipt,
        }));
        failures.push(...(await deleteBatch(entries)));
      }
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
  const sequence = message.Attributes?.SequenceNumber;
  if (!message.ReceiptHandle) return 'no receipt handle';
  if (!sequence || !/^\d{1,40}$/.test(sequence)) return 'no SequenceNumber attribute';
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    return 'body is not JSON';
  }
  const parsed = v.safeParse(ArrivalBody, body);
  if (!parsed.success) return `body is not an arrival: ${parsed.issues[0]?.message ?? ''}`;
  return {
    sessionId: parsed.output.sessionId,
    joinedAt: parsed.output.joinedAt,
    order: sequence.padStart(ORDER_WIDTH, '0'),
    receipt: message.ReceiptHandle,
  };
}
