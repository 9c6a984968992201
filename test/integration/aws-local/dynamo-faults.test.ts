/**
 * The DynamoDB faults of `WR_AWS_FAULTS` (`local/aws-local/dynamo-faults.ts`): a proxy in front of
 * a real dynalite, called through the real SDK. Limits are scaled down to a few units a second.
 * Where a test says what is refused or lags, the proxy runs on a clock the test moves (buckets
 * refill and lags pass only when it does), so nothing depends on how busy the machine is; the
 * tests of the SDK's retries run on the real clock and only wait for everything to get in.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type DynamoFaultProxy,
  startDynamoFaultProxy,
} from '../../../local/aws-local/dynamo-faults.ts';
import type { AwsFaults, FaultCounters } from '../../../local/aws-local/faults.ts';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';

let db: Dynalite | undefined;
let proxy: DynamoFaultProxy | undefined;
const clients: DynamoDBClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy?.close();
  proxy = undefined;
  await db?.close();
  db = undefined;
});

/** A clock the test moves by hand. */
function manualClock() {
  let at = 1_000_000;
  return {
    now: () => at,
    advance(ms: number) {
      at += ms;
    },
  };
}

async function setUp(faults: AwsFaults, clock?: { now: () => number }) {
  db = await startDynalite();
  const table = await db.createTable();
  const counters: FaultCounters = {};
  proxy = await startDynamoFaultProxy({
    target: db.endpoint,
    faults,
    counters,
    ...(clock ? { now: clock.now, random: () => 1 } : {}),
  });
  const endpoint = proxy.endpoint;
  /** A document client through the proxy; `maxAttempts: 1` shows every throttle. */
  const client = (maxAttempts: number) => {
    const base = new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts,
    });
    clients.push(base);
    return DynamoDBDocumentClient.from(base, {
      marshallOptions: { removeUndefinedValues: true },
    });
  };
  return { table, counters, client, direct: (db as Dynalite).documentClient };
}

/** A waiting session as the store writes it: in the `line` index under `line` and `seq`. */
function waiting(id: string, seq: number, extra: Record<string, unknown> = {}) {
  return {
    pk: `S#${id}`,
    sk: 'S',
    id,
    state: 'waiting',
    line: 'room#0',
    seq: String(seq).padStart(10, '0'),
    ...extra,
  };
}

/** Every page of the `line` index's `room#0` partition, `limit` items a page. */
async function readLine(client: DynamoDBDocumentClient, TableName: string, limit?: number) {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName,
        IndexName: 'line',
        KeyConditionExpression: '#line = :line',
        ExpressionAttributeNames: { '#line': 'line' },
        ExpressionAttributeValues: { ':line': 'room#0' },
        ...(limit ? { Limit: limit } : {}),
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const proxyEndpoint = () => (proxy as DynamoFaultProxy).endpoint;

/** One call in DynamoDB's JSON protocol, signed with a signature dynalite does not check. */
async function rawCall(endpoint: string, action: string, input: unknown) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${action}`,
      'x-amz-date': '20260101T000000Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
    },
    body: JSON.stringify(input),
  });
  return {
    status: response.status,
    crc32: response.headers.get('x-amz-crc32'),
    body: await response.text(),
  };
}

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: Error & { $metadata?: { httpStatusCode?: number } }) => error,
  );

describe('the DynamoDB fault proxy', () => {
  describe('dynamo-partition', () => {
    it('refuses writes beyond a partition key’s limit with ProvisionedThroughputExceededException', async () => {
      // Prepare: one write unit a second on each partition key.
      const { table, counters, client } = await setUp({ 'dynamo-partition': 1 }, manualClock());
      const once = client(1);

      // Act: ten writes to one partition at once.
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          errorOf(once.send(new PutCommand({ TableName: table, Item: { pk: 'hot', sk: `${i}` } }))),
        ),
      );

      // Assess: the first fits, the rest are refused as DynamoDB refuses them.
      const refused = results.filter((e) => e !== undefined);
      expect(refused).toHaveLength(9);
      for (const error of refused) {
        expect(error?.name).toBe('ProvisionedThroughputExceededException');
        expect(error?.$metadata?.httpStatusCode).toBe(400);
      }
      expect(counters['dynamodb.partition-throttled']).toBe(refused.length);
    });

    it('lets other partition keys write while one is over its limit', async () => {
      // Prepare
      const { table, client } = await setUp({ 'dynamo-partition': 1 }, manualClock());
      const once = client(1);
      await once.send(new PutCommand({ TableName: table, Item: { pk: 'hot', sk: 'a' } }));

      // Act
      const hot = await errorOf(
        once.send(new PutCommand({ TableName: table, Item: { pk: 'hot', sk: 'b' } })),
      );
      const others = await Promise.all(
        ['x', 'y', 'z'].map((pk) =>
          errorOf(once.send(new PutCommand({ TableName: table, Item: { pk, sk: 'a' } }))),
        ),
      );

      // Assess
      expect(hot?.name).toBe('ProvisionedThroughputExceededException');
      expect(others).toEqual([undefined, undefined, undefined]);
    });

    it('gets every write in through the SDK’s retries, a second’s worth at a time', async () => {
      // Prepare: three write units a second; the SDK's standard retry strategy, more attempts.
      const { table, counters, client, direct } = await setUp({ 'dynamo-partition': 3 });
      const retrying = client(12);

      // Act
      const results = await Promise.all(
        Array.from({ length: 9 }, (_, i) =>
          retrying.send(new PutCommand({ TableName: table, Item: { pk: 'hot', sk: `${i}` } })),
        ),
      );

      // Assess: all written, some after a retry.
      expect(Math.max(...results.map((r) => r.$metadata.attempts ?? 1))).toBeGreaterThan(1);
      expect(counters['dynamodb.partition-throttled']).toBeGreaterThan(0);
      const written = await direct.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'hot' },
        }),
      );
      expect(written.Count).toBe(9);
    }, 60_000);

    it('hands back a batch’s items over the limit as unprocessed, the rest written', async () => {
      // Prepare: two write units a second on each partition key.
      const { table, counters, client, direct } = await setUp(
        { 'dynamo-partition': 2 },
        manualClock(),
      );

      // Act: five items of one partition and one of another in one batch.
      const result = await client(1).send(
        new BatchWriteCommand({
          RequestItems: {
            [table]: [
              ...Array.from({ length: 5 }, (_, i) => ({
                PutRequest: { Item: { pk: 'hot', sk: `${i}` } },
              })),
              { PutRequest: { Item: { pk: 'cool', sk: '0' } } },
            ],
          },
        }),
      );

      // Assess
      const unprocessed = result.UnprocessedItems?.[table] ?? [];
      expect(unprocessed.map((r) => r.PutRequest?.Item?.sk)).toEqual(['2', '3', '4']);
      expect(counters['dynamodb.partition-throttled']).toBe(3);
      const cool = await direct.send(
        new GetCommand({ TableName: table, Key: { pk: 'cool', sk: '0' } }),
      );
      expect(cool.Item).toBeDefined();
    });

    it('bills a Query by the size of its answer, so the next read of that partition waits', async () => {
      // Prepare: one write unit (three read units) a second; 40 KB in one partition, written
      // around the proxy.
      const { table, counters, client, direct } = await setUp(
        { 'dynamo-partition': 1 },
        manualClock(),
      );
      for (let i = 0; i < 10; i++) {
        await direct.send(
          new PutCommand({
            TableName: table,
            Item: { pk: 'big', sk: `${i}`, data: 'x'.repeat(4000) },
          }),
        );
      }
      const once = client(1);
      const query = () =>
        once.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': 'big' },
            ConsistentRead: true,
          }),
        );

      // Act: the Query is answered (ten read units, owed), the read after it is not.
      const answered = await query();
      const after = await errorOf(query());

      // Assess
      expect(answered.Count).toBe(10);
      expect(after?.name).toBe('ProvisionedThroughputExceededException');
      expect(counters['dynamodb.partition-throttled']).toBe(1);
    });
  });

  describe('dynamo-table', () => {
    it('refuses writes beyond the table’s limit with ThrottlingException, whatever their partition', async () => {
      // Prepare: one write unit a second for the whole table.
      const { table, counters, client } = await setUp({ 'dynamo-table': 1 }, manualClock());
      const once = client(1);

      // Act: ten writes, each to its own partition key.
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          errorOf(once.send(new PutCommand({ TableName: table, Item: { pk: `p${i}`, sk: 'a' } }))),
        ),
      );

      // Assess
      const refused = results.filter((e) => e !== undefined);
      expect(refused).toHaveLength(9);
      for (const error of refused) {
        expect(error?.name).toBe('ThrottlingException');
        expect(error?.$metadata?.httpStatusCode).toBe(400);
      }
      expect(counters['dynamodb.table-throttled']).toBe(refused.length);
      expect(counters['dynamodb.partition-throttled']).toBeUndefined();
    });

    it('gets every write in through the SDK’s retries', async () => {
      // Prepare
      const { table, counters, client } = await setUp({ 'dynamo-table': 3 });
      const retrying = client(12);

      // Act
      const results = await Promise.all(
        Array.from({ length: 9 }, (_, i) =>
          retrying.send(new PutCommand({ TableName: table, Item: { pk: `p${i}`, sk: 'a' } })),
        ),
      );

      // Assess
      expect(results).toHaveLength(9);
      expect(counters['dynamodb.table-throttled']).toBeGreaterThan(0);
    }, 60_000);
  });

  describe('index-lag', () => {
    it('leaves a fresh write out of the line index within its lag, and shows it after', async () => {
      // Prepare: every write lags the whole second.
      const clock = manualClock();
      const { table, counters, client } = await setUp({ 'index-lag': 1000 }, clock);
      const c = client(1);
      await c.send(new PutCommand({ TableName: table, Item: waiting('s1', 1) }));

      // Act
      clock.advance(999);
      const within = await readLine(c, table);
      clock.advance(2);
      const after = await readLine(c, table);

      // Assess
      expect(within).toEqual([]);
      expect(after.map((item) => item.id)).toEqual(['s1']);
      expect(counters['dynamodb.index-lagged']).toBe(1);
    });

    it('shows a changed item as it was before the change within its lag', async () => {
      // Prepare: the index has shown s1 on its first connection.
      const clock = manualClock();
      const { table, counters, client } = await setUp({ 'index-lag': 1000 }, clock);
      const c = client(1);
      await c.send(
        new PutCommand({ TableName: table, Item: waiting('s1', 1, { connectionId: 'c1' }) }),
      );
      clock.advance(1001);
      expect((await readLine(c, table))[0]?.connectionId).toBe('c1');

      // Act: an update that asks for nothing back.
      const updated = await c.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: 'S#s1', sk: 'S' },
          UpdateExpression: 'SET connectionId = :c',
          ExpressionAttributeValues: { ':c': 'c2' },
        }),
      );
      const within = await readLine(c, table);
      clock.advance(1001);
      const after = await readLine(c, table);

      // Assess: the caller gets what it asked for (no attributes); the index lags.
      expect(updated.Attributes).toBeUndefined();
      expect(within.map((item) => item.connectionId)).toEqual(['c1']);
      expect(after.map((item) => item.connectionId)).toEqual(['c2']);
      expect(counters['dynamodb.index-lagged']).toBe(1);
    });

    it('still shows an item taken out of the index or deleted until its lag has passed', async () => {
      // Prepare
      const clock = manualClock();
      const { table, client } = await setUp({ 'index-lag': 1000 }, clock);
      const c = client(1);
      await c.send(new PutCommand({ TableName: table, Item: waiting('s1', 1) }));
      await c.send(new PutCommand({ TableName: table, Item: waiting('s2', 2) }));
      clock.advance(1001);

      // Act: s1 admitted (no longer in the line), s2 deleted.
      await c.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: 'S#s1', sk: 'S' },
          UpdateExpression: 'SET #state = :admitted REMOVE #line',
          ExpressionAttributeNames: { '#state': 'state', '#line': 'line' },
          ExpressionAttributeValues: { ':admitted': 'admitted' },
        }),
      );
      await c.send(new DeleteCommand({ TableName: table, Key: { pk: 'S#s2', sk: 'S' } }));
      const within = await readLine(c, table);
      clock.advance(1001);
      const after = await readLine(c, table);

      // Assess
      expect(within.map((item) => [item.id, item.state])).toEqual([
        ['s1', 'waiting'],
        ['s2', 'waiting'],
      ]);
      expect(after).toEqual([]);
    });

    it('keeps pages whole: every item the lagging index shows comes once, in order', async () => {
      // Prepare: ten sessions in the index; then s3 and s7 leave it, s11 joins.
      const clock = manualClock();
      const { table, client } = await setUp({ 'index-lag': 1000 }, clock);
      const c = client(1);
      for (let i = 1; i <= 10; i++) {
        await c.send(new PutCommand({ TableName: table, Item: waiting(`s${i}`, i) }));
      }
      clock.advance(1001);
      await readLine(c, table);
      for (const id of ['s3', 's7']) {
        await c.send(new DeleteCommand({ TableName: table, Key: { pk: `S#${id}`, sk: 'S' } }));
      }
      await c.send(new PutCommand({ TableName: table, Item: waiting('s11', 11) }));

      // Act: three items a page.
      const within = await readLine(c, table, 3);
      clock.advance(1001);
      const after = await readLine(c, table, 3);

      // Assess
      const ten = Array.from({ length: 10 }, (_, i) => `s${i + 1}`);
      expect(within.map((item) => item.id)).toEqual(ten);
      expect(after.map((item) => item.id)).toEqual([
        ...ten.filter((id) => id !== 's3' && id !== 's7'),
        's11',
      ]);
    });

    it('shows a write in the index once its lag has passed, on the real clock', async () => {
      // Prepare: a real clock, a lag of a fifth of a second at most.
      const { table, client } = await setUp({ 'index-lag': 200 });
      const c = client(1);

      // Act
      await c.send(new PutCommand({ TableName: table, Item: waiting('s1', 1) }));

      // Assess
      await vi.waitFor(async () => expect(await readLine(c, table)).toHaveLength(1), {
        timeout: 20_000,
        interval: 100,
      });
    });
  });

  describe('what no fault touches', () => {
    it('answers a GetItem with dynalite’s own bytes', async () => {
      // Prepare: every fault on, at figures nothing here reaches.
      const { table } = await setUp({
        'index-lag': 1000,
        'dynamo-partition': 1000,
        'dynamo-table': 4000,
      });
      await (db as Dynalite).documentClient.send(
        new PutCommand({ TableName: table, Item: { pk: 'a', sk: 'b', n: 1, s: 'é' } }),
      );
      const key = { TableName: table, Key: { pk: { S: 'a' }, sk: { S: 'b' } } };

      // Act
      const direct = await rawCall((db as Dynalite).endpoint, 'GetItem', key);
      const proxied = await rawCall(proxyEndpoint(), 'GetItem', key);

      // Assess
      expect(proxied.status).toBe(200);
      expect(proxied.crc32).toBe(direct.crc32);
      expect(proxied.body).toBe(direct.body);
      expect(JSON.parse(proxied.body).Item.s).toEqual({ S: 'é' });
    });

    it('bills a transaction twice per item and passes it on as sent (dynalite has no transactions)', async () => {
      // Prepare: one write unit a second on each partition key; two items on one key.
      const { table, counters } = await setUp(
        { 'index-lag': 1000, 'dynamo-partition': 1 },
        manualClock(),
      );
      const transaction = {
        TransactItems: [
          { Put: { TableName: table, Item: { pk: { S: 'a' }, sk: { S: '1' } } } },
          { Put: { TableName: table, Item: { pk: { S: 'a' }, sk: { S: '2' } } } },
        ],
      };

      // Act: the same transaction straight to dynalite, then twice through the proxy.
      const direct = await rawCall((db as Dynalite).endpoint, 'TransactWriteItems', transaction);
      const first = await rawCall(proxyEndpoint(), 'TransactWriteItems', transaction);
      const second = await rawCall(proxyEndpoint(), 'TransactWriteItems', transaction);

      // Assess: the first comes back as dynalite answered it; its four units leave the
      // partition owing, so the second is refused.
      expect(first.status).toBe(direct.status);
      expect(first.body).toBe(direct.body);
      expect(first.crc32).toBe(direct.crc32);
      expect(second.status).toBe(400);
      expect(JSON.parse(second.body).__type).toMatch(/#ProvisionedThroughputExceededException$/);
      expect(counters['dynamodb.partition-throttled']).toBe(1);
    });

    it('passes a failed condition through as DynamoDB answered it', async () => {
      // Prepare
      const { table, counters, client, direct } = await setUp({
        'index-lag': 1000,
        'dynamo-partition': 1000,
        'dynamo-table': 4000,
      });
      await direct.send(new PutCommand({ TableName: table, Item: { pk: 'a', sk: '1', v: 1 } }));
      const update = new UpdateCommand({
        TableName: table,
        Key: { pk: 'a', sk: '1' },
        UpdateExpression: 'SET v = :two',
        ConditionExpression: 'v = :zero',
        ExpressionAttributeValues: { ':two': 2, ':zero': 0 },
      });

      // Act
      const straight = await errorOf(direct.send(update));
      const proxied = await errorOf(client(1).send(update));

      // Assess
      expect(proxied?.name).toBe('ConditionalCheckFailedException');
      expect(proxied?.message).toBe(straight?.message);
      expect(proxied?.$metadata?.httpStatusCode).toBe(400);
      expect(counters).toEqual({});
    });
  });
});
