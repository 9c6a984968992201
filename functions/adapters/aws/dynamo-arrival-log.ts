/**
 * {@link ArrivalQueue} on the room's DynamoDB table: an arrival log, with no queue service on
 * the join path (SQS FIFO takes 300 calls a second per action in one message group, and a
 * Lambda handler cannot batch the sends of separate invocations).
 *
 * - `enqueue` puts one item, in one of {@link ARRIVAL_SHARDS} partitions chosen by session id
 *   (a partition takes 1,000 writes a second: 8 take 8,000 joins a second). Its sort key, which
 *   becomes the session's `order`, is the time the handler logged it, then a counter of this
 *   container (causal order within one millisecond), then the session id.
 * - The processor reads the partitions with consistent Queries, merges them in key order and
 *   takes only items at least {@link DEFAULT_SETTLE_MS} old: a handler's write can commit a
 *   moment after the time it carries, so the newest second is left to settle.
 * - The one way an item could be passed over is a write that took longer than that to commit.
 *   The handler measures it: a write not confirmed within three quarters of the settle time is
 *   logged again with a fresh time before `joined` is sent (the store numbers a session once,
 *   so a second item is skipped). A handler that dies between the write and the check leaves a
 *   visitor who never heard `joined`; the page's retry, or a `status` after
 *   `REQUEUE_AFTER_MS`, logs the arrival again.
 * - Acknowledging moves a cursor (the last key numbered), kept in memory and on one item of the
 *   room (`ARRIVALS`), so a processor that takes over starts there; overlapping processors only
 *   ever move it forward (a conditional write).
 *
 * FIFO holds across containers as long as their clocks agree to within the time between one
 * visitor's `joined` and another's `join` (Lambda's clocks are synchronised far below the
 * network round trip that separates them).
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Arrival, ArrivalQueue, Clock, ReceivedArrival } from '../../core/ports.ts';
import { systemClock } from '../local/system-clock.ts';
import { isConditionFailed } from './aws-errors.ts';
import { defaultDocumentClient } from './clients.ts';
import { roomPk, shardOf } from './dynamo-items.ts';

/** Partitions of the arrival log. */
export const ARRIVAL_SHARDS = 8;
/** How old a logged arrival must be before the processor reads it. */
export const DEFAULT_SETTLE_MS = 1000;
/** How many times a join logs its arrival again after writes too slow to be sure of. */
export const MAX_LOG_ATTEMPTS = 3;
/** Items read from each partition per Query (the processor numbers 100 at a time). */
export const PAGE_SIZE = 100;
/** The log is read within seconds; items are kept a day in case a processor is long gone. */
const LOG_TTL_SECONDS = 24 * 3600;
const CURSOR_SK = 'ARRIVALS';
/** Sorts after every key of the same millisecond. */
const AFTER_MS = '~';

export const arrivalShardPk = (roomId: string, shard: number) => `R#${roomId}#ARR#${shard}`;

/** An arrival's key and `order`: time (13 digits), this container's counter, session id. */
export const arrivalOrder = (at: number, counter: number, sessionId: string) =>
  `${pad(at, 13)}#${pad(counter % 1e9, 9)}#${sessionId}`;

function pad(value: number, width: number): string {
  return String(Math.max(0, Math.floor(value))).padStart(width, '0');
}

export interface DynamoArrivalLogOptions {
  client?: DynamoDBDocumentClient;
  tableName: string;
  roomId: string;
  clock?: Clock;
  /**
   * How old an item must be before it is read (tests on a manual clock pass 0). A write that
   * takes longer than three quarters of this to confirm is logged again.
   */
  settleMs?: number;
}

export interface DynamoArrivalLog extends ArrivalQueue {
  /** Items logged after the cursor: the sessions still arriving (for operators: it reads them). */
  approximateDepth(): Promise<number>;
}

export function createDynamoArrivalLog(options: DynamoArrivalLogOptions): DynamoArrivalLog {
  const { tableName: TableName, roomId } = options;
  const client = options.client ?? defaultDocumentClient();
  const clock = options.clock ?? systemClock;
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const confirmWithinMs = (settleMs * 3) / 4;
  const cursorKey = { pk: roomPk(roomId), sk: CURSOR_SK };
  let counter = Math.floor(Math.random() * 1e6);
  /** The last key numbered (null: not read yet; '' none ever). */
  let cursor: string | null = null;
  /** Arrivals after the cursor, in order, known complete up to their last. */
  let buffered: ReceivedArrival[] = [];

  async function storedCursor(): Promise<string> {
    const { Item } = await client.send(
      new GetCommand({ TableName, Key: cursorKey, ConsistentRead: true }),
    );
    return typeof Item?.cursor === 'string' ? Item.cursor : '';
  }

  async function readPartition(shard: number, after: string, upTo: string) {
    const result = await client.send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :after AND :upTo',
        ExpressionAttributeValues: {
          ':pk': arrivalShardPk(roomId, shard),
          ':after': after,
          ':upTo': upTo,
        },
        ConsistentRead: true,
        Limit: PAGE_SIZE + 1,
      }),
    );
    // BETWEEN includes its bounds: the cursor itself was numbered already.
    const items = (result.Items ?? []).filter((item) => item.sk !== after);
    const full = items.length >= PAGE_SIZE || result.LastEvaluatedKey !== undefined;
    return { items: items.slice(0, PAGE_SIZE), full };
  }

  /** Reads the next settled arrivals after the cursor into the buffer. */
  async function fill(): Promise<void> {
    cursor ??= await storedCursor();
    const after = cursor;
    const upTo = `${pad(clock.now() - settleMs, 13)}${AFTER_MS}`;
    if (after >= upTo) return;
    const pages = await Promise.all(
      Array.from({ length: ARRIVAL_SHARDS }, (_, shard) => readPartition(shard, after, upTo)),
    );
    // A partition that had more than a page is known only up to its last item: nothing past
    // the earliest such item is sure to be complete across partitions.
    let complete = upTo;
    for (const page of pages) {
      const last = page.items.at(-1)?.sk as string | undefined;
      if (page.full && last !== undefined && last < complete) complete = last;
    }
    buffered = pages
      .flatMap((page) => page.items)
      .filter((item) => (item.sk as string) <= complete)
      .sort((a, b) => ((a.sk as string) < (b.sk as string) ? -1 : 1))
      .map((item) => ({
        sessionId: String(item.sessionId),
        joinedAt: Number(item.joinedAt),
        order: item.sk as string,
        receipt: item.sk as string,
      }));
  }

  return {
    async enqueue(arrival: Arrival) {
      for (let attempt = 1; attempt <= MAX_LOG_ATTEMPTS; attempt++) {
        const at = clock.now();
        counter += 1;
        await client.send(
          new PutCommand({
            TableName,
            Item: {
              pk: arrivalShardPk(roomId, shardOf(arrival.sessionId, ARRIVAL_SHARDS)),
              sk: arrivalOrder(at, counter, arrival.sessionId),
              sessionId: arrival.sessionId,
              joinedAt: arrival.joinedAt,
              ttl: Math.floor(at / 1000) + LOG_TTL_SECONDS,
            },
          }),
        );
        // Confirmed in time: no reader can have passed over it.
        if (clock.now() - at <= confirmWithinMs) return;
      }
    },

    async receive(max) {
      if (max <= 0) return [];
      if (buffered.length === 0) await fill();
      return buffered.slice(0, max);
    },

    async acknowledge(arrivals) {
      if (arrivals.length === 0) return;
      const last = arrivals.reduce((a, b) => (a.order > b.order ? a : b)).order;
      buffered = buffered.filter((arrival) => arrival.order > last);
      if (cursor !== null && last <= cursor) return;
      cursor = last;
      try {
        await client.send(
          new UpdateCommand({
            TableName,
            Key: cursorKey,
            UpdateExpression: 'SET #cursor = :cursor',
            ConditionExpression: 'attribute_not_exists(#cursor) OR #cursor < :cursor',
            ExpressionAttributeNames: { '#cursor': 'cursor' },
            ExpressionAttributeValues: { ':cursor': last },
          }),
        );
      } catch (error) {
        // Another processor numbered further: its cursor stands.
        if (!isConditionFailed(error)) throw error;
      }
    },

    async approximateDepth() {
      const after = await storedCursor();
      const counts = await Promise.all(
        Array.from({ length: ARRIVAL_SHARDS }, async (_, shard) => {
          let count = 0;
          let start: Record<string, unknown> | undefined;
          do {
            const result = await client.send(
              new QueryCommand({
                TableName,
                KeyConditionExpression: 'pk = :pk AND sk > :after',
                ExpressionAttributeValues: {
                  ':pk': arrivalShardPk(roomId, shard),
                  ':after': after,
                },
                Select: 'COUNT',
                ...(start ? { ExclusiveStartKey: start } : {}),
              }),
            );
            count += result.Count ?? 0;
            start = result.LastEvaluatedKey;
          } while (start);
          return count;
        }),
      );
      return counts.reduce((a, b) => a + b, 0);
    },
  };
}
