/**
 * Starting the processor from code: its successor before an invocation's deadline, and a
 * sleeping processor when a visitor arrives ({@link ProcessorWaker}). Both are asynchronous
 * invocations (`InvocationType: Event`): the caller never waits for the processor's run.
 *
 * The sleeping mark lives on the lease item (`asleep`, set by the processor that goes to sleep,
 * see `dynamo-lease.ts`). A join reads it at most once a second per container (strongly
 * consistent: a mark set after the processor's last look must be seen), and only the join whose
 * conditional write turns the mark off invokes the processor, so a crowd arriving at a sleeping
 * room starts one processor. Should the invocation fail, the mark is put back for the next join.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock, ProcessorWaker } from '../../core/ports.ts';
import { isConditionFailed } from './aws-errors.ts';
import { defaultDocumentClient, defaultLambdaClient } from './clients.ts';
import { LEASE_SK, roomPk } from './dynamo-items.ts';

/** Why the processor was started: its payload, read by the processor's handler. */
export type ProcessorStart = 'handoff' | 'wake';

/** The event of a processor started from code (the schedule sends EventBridge's). */
export interface ProcessorStartEvent {
  waitingRoom: ProcessorStart;
}

export function isProcessorStartEvent(event: unknown): event is ProcessorStartEvent {
  const reason = (event as Partial<ProcessorStartEvent> | null)?.waitingRoom;
  return reason === 'handoff' || reason === 'wake';
}

/** Invokes the processor function asynchronously. */
export async function startProcessor(
  functionName: string,
  reason: ProcessorStart,
  client: LambdaClient = defaultLambdaClient(),
): Promise<void> {
  const event: ProcessorStartEvent = { waitingRoom: reason };
  await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    }),
  );
}

/**
 * How long a container trusts one read of the mark: a join that trusted an older "awake" may
 * log its arrival up to this long after the processor marked itself asleep.
 */
export const WAKER_CACHE_MS = 1000;

export interface LambdaWakerOptions {
  tableName: string;
  roomId: string;
  /** The processor function's name. */
  functionName: string;
  clock: Clock;
  client?: DynamoDBDocumentClient;
  lambda?: LambdaClient;
  /** How long a container trusts one read of the mark; @default WAKER_CACHE_MS */
  cacheMs?: number;
  /** Told when waking failed; the join goes on (the minute's schedule starts a processor). */
  onError?: (error: unknown) => void;
}

export function createLambdaWaker(options: LambdaWakerOptions): ProcessorWaker {
  const { tableName: TableName, roomId, functionName, clock } = options;
  const client = options.client ?? defaultDocumentClient();
  const cacheMs = options.cacheMs ?? WAKER_CACHE_MS;
  const Key = { pk: roomPk(roomId), sk: LEASE_SK };
  let awakeSeenAt = Number.NEGATIVE_INFINITY;
  /**
   * Sets the mark to `to` if it is `from` (a conditional write); asleep from now, or awake
   * (the time it went to sleep removed: the next sleep starts afresh).
   */
  const setMark = (to: boolean, from: boolean) =>
    client.send(
      new UpdateCommand({
        TableName,
        Key,
        UpdateExpression: to
          ? 'SET #asleep = :to, #asleepAt = :now'
          : 'SET #asleep = :to REMOVE #asleepAt',
        ConditionExpression: '#asleep = :from',
        ExpressionAttributeNames: { '#asleep': 'asleep', '#asleepAt': 'asleepAt' },
        ExpressionAttributeValues: to
          ? { ':to': to, ':from': from, ':now': clock.now() }
          : { ':to': to, ':from': from },
      }),
    );
  return {
    async wakeIfAsleep() {
      const now = clock.now();
      if (now - awakeSeenAt < cacheMs) return;
      try {
        const { Item } = await client.send(
          new GetCommand({ TableName, Key, ConsistentRead: true }),
        );
        if (Item?.asleep !== true) {
          awakeSeenAt = now;
          return;
        }
        try {
          // Only one join wakes it: the one whose write turns the mark off.
          await setMark(false, true);
        } catch (error) {
          // Another join woke it: awake now, as far as this container needs to know.
          if (!isConditionFailed(error)) throw error;
          awakeSeenAt = now;
          return;
        }
        try {
          await startProcessor(functionName, 'wake', options.lambda);
        } catch (error) {
          // Asleep again for the next join to try; unless a processor marked it meanwhile.
          await setMark(true, false).catch(() => {});
          throw error;
        }
        awakeSeenAt = now;
      } catch (error) {
        options.onError?.(error);
      }
    },
  };
}
