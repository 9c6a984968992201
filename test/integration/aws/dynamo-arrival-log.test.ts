/**
 * The arrival log on dynalite: order across its partitions, the settle time, the cursor a
 * processor that takes over starts from, and the one race it closes by logging again (a write
 * that commits after a reader passed its time).
 */
import { type DynamoDBDocumentClient, type PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARRIVAL_SHARDS,
  arrivalShardPk,
  createDynamoArrivalLog,
  type DynamoArrivalLogOptions,
  PAGE_SIZE,
} from '../../../functions/adapters/aws/dynamo-arrival-log.ts';
import type { ReceivedArrival } from '../../../functions/core/ports.ts';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

const ROOM = 'test-room';
const SETTLE_MS = 1000;

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.close();
});

async function createLog(options: Partial<DynamoArrivalLogOptions> = {}) {
  const clock = new ManualClock();
  const tableName = await db.createTable();
  const open = (more: Partial<DynamoArrivalLogOptions> = {}) =>
    createDynamoArrivalLog({
      client: db.documentClient,
      tableName,
      roomId: ROOM,
      clock,
      settleMs: SETTLE_MS,
      ...options,
      ...more,
    });
  const logItems = async () => {
    const items: Record<string, unknown>[] = [];
    for (let shard = 0; shard < ARRIVAL_SHARDS; shard++) {
      const { Items = [] } = await db.documentClient.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': arrivalShardPk(ROOM, shard) },
        }),
      );
      items.push(...Items);
    }
    return items;
  };
  return { log: open(), open, clock, tableName, logItems };
}

type Log = ReturnType<typeof createDynamoArrivalLog>;

/** Receives and acknowledges everything the log hands out now, in the order handed out. */
async function drain(log: Log, batch = PAGE_SIZE): Promise<ReceivedArrival[]> {
  const all: ReceivedArrival[] = [];
  for (;;) {
    const arrivals = await log.receive(batch);
    if (arrivals.length === 0) return all;
    all.push(...arrivals);
    await log.acknowledge(arrivals);
  }
}

describe('the arrival log on DynamoDB', () => {
  it('hands arrivals out in the order they were logged, across its partitions, once they settled', async () => {
    // Prepare: 40 arrivals, several in each millisecond (one container's counter orders those).
    const { log, clock } = await createLog();
    const ids = Array.from({ length: 40 }, (_, i) => `session-${String(i).padStart(2, '0')}`);
    for (const [i, sessionId] of ids.entries()) {
      if (i % 3 === 0) clock.advance(1);
      await log.enqueue({ sessionId, joinedAt: clock.now() });
    }

    // Act
    const early = await log.receive(100);
    clock.advance(SETTLE_MS);
    const settled = await drain(log, 7);

    // Assess
    expect(early).toEqual([]);
    expect(settled.map((a) => a.sessionId)).toEqual(ids);
    const orders = settled.map((a) => a.order);
    expect(orders).toEqual([...orders].sort());
    expect(new Set(orders).size).toBe(ids.length);
  });

  it('gives back a batch that was not acknowledged, and nothing that was', async () => {
    // Prepare
    const { log, clock } = await createLog();
    for (const sessionId of ['a', 'b', 'c']) await log.enqueue({ sessionId, joinedAt: 0 });
    clock.advance(SETTLE_MS);

    // Act
    const first = await log.receive(2);
    const again = await log.receive(2);
    await log.acknowledge(again);
    const rest = await log.receive(2);
    await log.acknowledge(rest);
    const none = await log.receive(2);

    // Assess
    expect(again).toEqual(first);
    expect(rest.map((a) => a.sessionId)).toEqual(['c']);
    expect(none).toEqual([]);
  });

  it('reads past a page in every partition without losing or reordering one', async () => {
    // Prepare: more arrivals than a page in each partition, one a millisecond.
    const { log, clock } = await createLog();
    const count = ARRIVAL_SHARDS * (PAGE_SIZE + 20);
    const ids = Array.from({ length: count }, (_, i) => `s${i}`);
    for (const sessionId of ids) {
      clock.advance(1);
      await log.enqueue({ sessionId, joinedAt: clock.now() });
    }
    clock.advance(SETTLE_MS);

    // Act
    const all = await drain(log);

    // Assess
    expect(all.map((a) => a.sessionId)).toEqual(ids);
  });

  it('starts a processor that takes over at the cursor the last one saved, which only moves forward', async () => {
    // Prepare: the first processor numbers two arrivals of three.
    const { log, open, clock } = await createLog();
    for (const sessionId of ['a', 'b', 'c']) {
      clock.advance(1);
      await log.enqueue({ sessionId, joinedAt: clock.now() });
    }
    clock.advance(SETTLE_MS);
    const firstTwo = await log.receive(2);
    await log.acknowledge(firstTwo);

    // Act: the next processor takes over; then the old one, late, acknowledges its first again.
    const next = open();
    const taken = await next.receive(10);
    await log.acknowledge(firstTwo.slice(0, 1));
    const third = open();

    // Assess
    expect(taken.map((a) => a.sessionId)).toEqual(['c']);
    expect((await third.receive(10)).map((a) => a.sessionId)).toEqual(['c']);
    expect(await third.approximateDepth()).toBe(1);
  });

  it('logs an arrival again when its write committed after a reader passed its time', async () => {
    // Prepare: a handler's write of "late" stalls; meanwhile a later arrival settles and the
    // processor numbers it, moving the cursor past the stalled write's time.
    const { open, clock, tableName, logItems } = await createLog();
    const processor = open();
    const other = open();
    const numbered: string[] = [];
    let stalled = false;
    const stallingClient = {
      async send(command: PutCommand) {
        if (!stalled) {
          stalled = true;
          clock.advance(5);
          await other.enqueue({ sessionId: 'early-bird', joinedAt: clock.now() });
          clock.advance(SETTLE_MS + 100);
          const arrivals = await processor.receive(10);
          numbered.push(...arrivals.map((a) => a.sessionId));
          await processor.acknowledge(arrivals);
        }
        return db.documentClient.send(command);
      },
    } as unknown as DynamoDBDocumentClient;
    const handler = createDynamoArrivalLog({
      client: stallingClient,
      tableName,
      roomId: ROOM,
      clock,
      settleMs: SETTLE_MS,
    });

    // Act
    await handler.enqueue({ sessionId: 'late', joinedAt: clock.now() });
    clock.advance(SETTLE_MS);
    numbered.push(...(await drain(processor)).map((a) => a.sessionId));

    // Assess: the stalled item sits behind the cursor; its second logging was read.
    expect(numbered).toEqual(['early-bird', 'late']);
    const late = (await logItems()).filter((item) => item.sessionId === 'late');
    expect(late).toHaveLength(2);
  });

  it('counts what is logged after the cursor as still arriving', async () => {
    // Prepare
    const { log, clock } = await createLog();
    for (const sessionId of ['a', 'b', 'c', 'd']) await log.enqueue({ sessionId, joinedAt: 0 });
    clock.advance(SETTLE_MS);
    await log.acknowledge(await log.receive(1));

    // Act
    const depth = await log.approximateDepth();

    // Assess
    expect(depth).toBe(3);
  });
});
