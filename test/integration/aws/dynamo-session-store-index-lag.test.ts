/**
 * The `line` index is eventually consistent on DynamoDB (dynalite's is not): these tests hand
 * the store a mocked client that answers the index Query with what a lagging index shows.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDynamoSessionStore } from '../../../functions/adapters/aws/dynamo-session-store.ts';
import '../../helpers/aws-sdk-env.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

const ddb = mockClient(DynamoDBDocumentClient);

function waitingItem(id: string, seq: number) {
  return {
    pk: `S#${id}`,
    sk: 'S',
    id,
    state: 'waiting',
    returnPath: '/',
    joinedAt: 1,
    seq: String(seq).padStart(40, '0'),
    line: 'test-room',
    connectionId: `c-${id}`,
    announced: `c-${id}`,
    admissionNotified: false,
  };
}

/** The line index answers with `items` for the partition they name, nothing for the others. */
function onePartition(items: ReturnType<typeof waitingItem>[]) {
  ddb
    .on(QueryCommand)
    .callsFake((input: { ExpressionAttributeValues?: Record<string, unknown> }) => ({
      Items: items.filter((item) => item.line === input.ExpressionAttributeValues?.[':key']),
    }));
}

function createStore(clock = new ManualClock()) {
  const waits: number[] = [];
  const store = createDynamoSessionStore({
    client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
    tableName: 'room',
    roomId: 'test-room',
    clock,
    departedMemoryMs: 60_000,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  return { store, clock, waits };
}

beforeEach(() => {
  ddb.reset();
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(GetCommand).resolves({});
  // The index still shows s1 as waiting after it was admitted (both in one partition).
  onePartition([waitingItem('s1', 1), waitingItem('s2', 2)]);
});

describe('DynamoSessionStore over a lagging line index', () => {
  it('lets the last tick settle into the index before a takeover reads the line', async () => {
    // Prepare: the previous holder's last tick ended half a second ago.
    const { store, clock, waits } = createStore();
    ddb.on(GetCommand).resolves({ Item: { tickedAt: clock.now() - 500 } });

    // Act
    await store.readLine();

    // Assess: one wait, for the rest of the two seconds.
    expect(waits).toEqual([1500]);
  });

  it('leaves out a session it admitted while the index still shows it waiting', async () => {
    // Prepare
    const { store } = createStore();
    await store.admit('s1', { token: 't', expiresAt: 2_000_000_000 }, 1000);

    // Act
    const page = await store.readLine();

    // Assess
    expect(page.map((s) => s.id)).toEqual(['s2']);
  });

  it('leaves out a session it abandoned while the index still shows it waiting', async () => {
    // Prepare
    const { store } = createStore();
    await store.abandon('s1', 500, 1000);

    // Act
    const page = await store.readLine();

    // Assess
    expect(page.map((s) => s.id)).toEqual(['s2']);
  });

  it('lists a session again once the memory of its departure has passed', async () => {
    // Prepare: long after, what the index shows is the truth again.
    const { store, clock } = createStore();
    await store.admit('s1', { token: 't', expiresAt: 2_000_000_000 }, 1000);
    clock.advance(60_001);

    // Act
    const page = await store.readLine();

    // Assess
    expect(page.map((s) => s.id)).toEqual(['s1', 's2']);
  });

  it('leaves out a session whose projected state is no longer waiting', async () => {
    // Prepare
    const { store } = createStore();
    onePartition([{ ...waitingItem('s1', 1), state: 'admitted' }, waitingItem('s2', 2)]);

    // Act
    const page = await store.readLine();

    // Assess
    expect(page.map((s) => s.id)).toEqual(['s2']);
  });
});
