import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDynamoSessionStore,
  type DynamoSessionStoreOptions,
} from '../../../functions/adapters/aws/dynamo-session-store.ts';
import { EMPTY_ROOM_STATE } from '../../../functions/core/admission.ts';
import { newSession, type Session } from '../../../functions/core/session.ts';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

const ROOM = 'test-room';
const PASS = { token: 'header.payload.signature', expiresAt: 1_800_000_000 };

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.close();
});

async function createStore(options: Partial<DynamoSessionStoreOptions> = {}) {
  const clock = new ManualClock();
  const tableName = await db.createTable();
  const store = createDynamoSessionStore({
    client: db.documentClient,
    tableName,
    roomId: ROOM,
    clock,
    ...options,
  });
  const rawItem = async (pk: string, sk: string) =>
    (await db.documentClient.send(new GetCommand({ TableName: tableName, Key: { pk, sk } }))).Item;
  return { store, clock, tableName, rawItem };
}

type Store = Awaited<ReturnType<typeof createStore>>['store'];

/** Creates sessions s1..sN on connections c1..cN. */
async function join(store: Store, count: number, at = 1000): Promise<Session[]> {
  const sessions: Session[] = [];
  for (let i = 1; i <= count; i++) {
    const session = newSession(`s${i}`, `c${i}`, '/', at + i);
    await store.create(session);
    sessions.push(session);
  }
  return sessions;
}

const order = (n: number) => String(n).padStart(40, '0');

/** Joins and numbers N sessions, s1 first. */
async function line(store: Store, count: number): Promise<void> {
  await join(store, count);
  await store.numberArrivals(
    Array.from({ length: count }, (_, i) => ({ sessionId: `s${i + 1}`, order: order(i + 1) })),
  );
}

async function readWholeLine(store: Store): Promise<string[]> {
  return (await store.readLine()).map((s) => s.id);
}

describe('DynamoSessionStore: sessions and connections', () => {
  it('stores a new session and reads it back as it was', async () => {
    // Prepare
    const { store } = await createStore();
    const session = newSession('s1', 'c1', '/tickets?show=evening', 1234);

    // Act
    await store.create(session);

    // Assess
    expect(await store.get('s1')).toEqual(session);
    expect(await store.get('nobody')).toBeUndefined();
  });

  it('refuses to create a session that already exists', async () => {
    // Prepare
    const { store } = await createStore();
    await store.create(newSession('s1', 'c1', '/', 1));

    // Act
    const again = store.create(newSession('s1', 'c9', '/', 2));

    // Assess
    await expect(again).rejects.toThrow('session s1 exists');
  });

  it('maps the connection that joined to its session, with a TTL of a few hours', async () => {
    // Prepare
    const { store, clock, rawItem } = await createStore();

    // Act
    await store.create(newSession('s1', 'c1', '/', 1));

    // Assess
    expect(await store.sessionOfConnection('c1')).toBe('s1');
    expect(await store.sessionOfConnection('c2')).toBeUndefined();
    const mapping = await rawItem('C#c1', 'C');
    expect(mapping?.ttl).toBe(Math.floor(clock.now() / 1000) + 3 * 3600);
  });

  it('binds a new connection, clearing the disconnect mark and counting the change', async () => {
    // Prepare
    const { store } = await createStore();
    await line(store, 1);
    await store.detachConnection('c1', 6000);
    const before = (await store.get('s1'))?.connectionVersion as number;

    // Act
    await store.attachConnection('s1', 'c1-again', 6500);

    // Assess
    expect(await store.get('s1')).toMatchObject({
      connectionId: 'c1-again',
      disconnectedAt: null,
      connectionVersion: before + 1,
    });
    expect(await store.sessionOfConnection('c1-again')).toBe('s1');
  });

  it('marks the session disconnected when its current connection goes', async () => {
    // Prepare
    const { store } = await createStore();
    await join(store, 1);

    // Act
    const sessionId = await store.detachConnection('c1', 7000);

    // Assess
    expect(sessionId).toBe('s1');
    expect((await store.get('s1'))?.disconnectedAt).toBe(7000);
    expect(await store.sessionOfConnection('c1')).toBeUndefined();
  });

  it('keeps the first disconnect time when the connection is reported gone twice', async () => {
    // Prepare
    const { store } = await createStore();
    await join(store, 1);
    await store.attachConnection('s1', 'c1', 6500);
    await store.detachConnection('c1', 7000);
    await store.attachConnection('s1', 'c2', 7500);
    await store.detachConnection('c2', 8000);

    // Act
    await store.detachConnection('c2', 9000);

    // Assess
    expect((await store.get('s1'))?.disconnectedAt).toBe(8000);
  });

  it('leaves the session alone when a connection it no longer uses goes', async () => {
    // Prepare
    const { store } = await createStore();
    await join(store, 1);
    await store.attachConnection('s1', 'c1-new', 6500);

    // Act
    const sessionId = await store.detachConnection('c1', 7000);

    // Assess
    expect(sessionId).toBe('s1');
    expect(await store.get('s1')).toMatchObject({ connectionId: 'c1-new', disconnectedAt: null });
  });

  it('answers nothing for a connection it never saw', async () => {
    // Prepare
    const { store } = await createStore();

    // Act
    const sessionId = await store.detachConnection('ghost', 1);

    // Assess
    expect(sessionId).toBeUndefined();
  });
});

/**
 * A client that holds back the update binding session `sessionId` to a connection (the second
 * step of its attach) until `release` is called; `reached` resolves when it is held.
 */
function holdingAttachOf(sessionId: string) {
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let reach = () => {};
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  let holding = true;
  const client = {
    async send(command: { input: object }) {
      const input = command.input as UpdateCommand['input'];
      if (
        holding &&
        command instanceof UpdateCommand &&
        input.Key?.pk === `S#${sessionId}` &&
        String(input.UpdateExpression).startsWith('SET #connectionId')
      ) {
        holding = false;
        reach();
        await held;
      }
      return db.documentClient.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, reached, release };
}

describe('DynamoSessionStore: one place per connection', () => {
  it('lets go of the place a connection held when it is bound to another, and logs it', async () => {
    // Prepare: s1 holds c1; s2's visitor is away.
    const { store } = await createStore();
    await line(store, 2);
    await store.detachConnection('c2', 5000);
    const { cursor } = await store.readChanges(null);
    const version = (await store.get('s1'))?.connectionVersion as number;

    // Act
    await store.attachConnection('s2', 'c1', 6000);
    const changes = (await store.readChanges(cursor)).changes.filter((c) => c.sessionId === 's1');
    await store.detachConnection('c1', 9000);

    // Assess
    expect(await store.get('s1')).toMatchObject({
      connectionId: 'c1',
      disconnectedAt: 6000,
      connectionVersion: version + 1,
    });
    expect(changes).toMatchObject([{ disconnectedAt: 6000, version: version + 1 }]);
    expect(await store.get('s2')).toMatchObject({ connectionId: 'c1', disconnectedAt: 9000 });
  });

  it('leaves no session connected to a connection another resume on it took meanwhile', async () => {
    // Prepare: s1 holds c1; s2 and s3 are away. Two resumes on c1 at once: s2's binding is
    // taken first, then s3's whole resume runs before s2's session update.
    const { client, reached, release } = holdingAttachOf('s2');
    const { store } = await createStore({ client });
    await line(store, 3);
    await store.detachConnection('c2', 5000);
    await store.detachConnection('c3', 5000);

    // Act
    const first = store.attachConnection('s2', 'c1', 6000);
    await reached;
    await store.attachConnection('s3', 'c1', 6001);
    release();
    await first;

    // Assess
    expect(await store.sessionOfConnection('c1')).toBe('s3');
    expect(await store.get('s3')).toMatchObject({ connectionId: 'c1', disconnectedAt: null });
    expect((await store.get('s1'))?.disconnectedAt).toBe(6000);
    expect((await store.get('s2'))?.disconnectedAt).toBe(6000);
  });

  it('leaves no session connected to a connection that closed while it was bound', async () => {
    // Prepare: s1 holds c1; s2 is away. c1 resumes s2 and closes before s2's session update.
    const { client, reached, release } = holdingAttachOf('s2');
    const { store } = await createStore({ client });
    await line(store, 2);
    await store.detachConnection('c2', 5000);

    // Act
    const resume = store.attachConnection('s2', 'c1', 6000);
    await reached;
    await store.detachConnection('c1', 6500);
    release();
    await resume;

    // Assess
    expect(await store.sessionOfConnection('c1')).toBeUndefined();
    expect((await store.get('s1'))?.disconnectedAt).toBe(6000);
    expect(await store.get('s2')).toMatchObject({ connectionId: 'c1', disconnectedAt: 6000 });
  });
});

const PERSON = 'k3y0fAPers0nW1thExactly32Chars_-';

describe('DynamoSessionStore: one place per person', () => {
  it('binds a free identity to a session, with a TTL of a few days, and reads it back', async () => {
    // Prepare
    const { store, clock, rawItem } = await createStore();

    // Act
    const claimed = await store.claimIdentity(PERSON, 's1', null);

    // Assess
    expect(claimed).toBe(true);
    expect(await store.sessionOfIdentity(PERSON)).toBe('s1');
    expect(await store.sessionOfIdentity('someone-else')).toBeUndefined();
    const binding = await rawItem(`R#${ROOM}#ID#${PERSON}`, 'ID');
    expect(binding?.ttl).toBe(Math.floor(clock.now() / 1000) + 3 * 24 * 3600);
  });

  it('refuses to bind an identity another session already holds', async () => {
    // Prepare
    const { store } = await createStore();
    await store.claimIdentity(PERSON, 's1', null);

    // Act
    const claimed = await store.claimIdentity(PERSON, 's2', null);

    // Assess
    expect(claimed).toBe(false);
    expect(await store.sessionOfIdentity(PERSON)).toBe('s1');
  });

  it('moves an identity on from the session it still names', async () => {
    // Prepare
    const { store } = await createStore();
    await store.claimIdentity(PERSON, 's1', null);

    // Act
    const claimed = await store.claimIdentity(PERSON, 's2', 's1');

    // Assess
    expect(claimed).toBe(true);
    expect(await store.sessionOfIdentity(PERSON)).toBe('s2');
  });

  it('refuses to move an identity on from a session it no longer names', async () => {
    // Prepare: s2 took the identity from s1 meanwhile.
    const { store } = await createStore();
    await store.claimIdentity(PERSON, 's1', null);
    await store.claimIdentity(PERSON, 's2', 's1');

    // Act
    const claimed = await store.claimIdentity(PERSON, 's3', 's1');

    // Assess
    expect(claimed).toBe(false);
    expect(await store.sessionOfIdentity(PERSON)).toBe('s2');
  });

  it('refuses to move on an identity that is bound to nothing', async () => {
    // Prepare
    const { store } = await createStore();

    // Act
    const claimed = await store.claimIdentity(PERSON, 's2', 's1');

    // Assess
    expect(claimed).toBe(false);
    expect(await store.sessionOfIdentity(PERSON)).toBeUndefined();
  });

  it('lets one of two joins racing for a free identity bind it', async () => {
    // Prepare
    const { store } = await createStore();

    // Act
    const results = await Promise.all([
      store.claimIdentity(PERSON, 's1', null),
      store.claimIdentity(PERSON, 's2', null),
    ]);

    // Assess
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.sessionOfIdentity(PERSON)).toBe(results[0] ? 's1' : 's2');
  });

  it('keeps the identity a session was made for through its life', async () => {
    // Prepare
    const { store } = await createStore();
    const session: Session = { ...newSession('s1', 'c1', '/', 1000), identity: PERSON };

    // Act
    await store.create(session);
    const created = await store.get('s1');
    await store.numberArrivals([{ sessionId: 's1', order: order(1) }]);
    await store.admit('s1', PASS, 2000);
    const admitted = await store.get('s1');

    // Assess
    expect(created).toEqual(session);
    expect(admitted).toMatchObject({ state: 'admitted', identity: PERSON });
  });

  it('stores no identity for a session made without one', async () => {
    // Prepare
    const { store, rawItem } = await createStore();

    // Act
    await store.create(newSession('s1', 'c1', '/', 1000));

    // Assess
    expect(await store.get('s1')).not.toHaveProperty('identity');
    expect(await rawItem('S#s1', 'S')).not.toHaveProperty('identity');
  });
});

describe('DynamoSessionStore: spent proofs of work', () => {
  it('spends a proof once, in an item of its own under the room with a TTL at its expiry', async () => {
    // Prepare
    const { store, rawItem } = await createStore();
    const expiresAt = 1_800_000_360_500;

    // Act
    const first = await store.spendProof('0123456789abcdef0123456789abcdef', expiresAt);
    const replay = await store.spendProof('0123456789abcdef0123456789abcdef', expiresAt);

    // Assess
    expect([first, replay]).toEqual([true, false]);
    const item = await rawItem(`R#${ROOM}#POW#0123456789abcdef0123456789abcdef`, 'POW');
    expect(item?.ttl).toBe(1_800_000_361);
  });

  it('lets one of several joins racing with one proof spend it', async () => {
    // Prepare
    const { store } = await createStore();

    // Act
    const spent = await Promise.all(
      Array.from({ length: 5 }, () => store.spendProof('fedcba9876543210fedcba9876543210', 1e12)),
    );

    // Assess
    expect(spent.filter(Boolean)).toHaveLength(1);
  });

  it("keeps one room's spent proofs apart from another's on the same table", async () => {
    // Prepare
    const { store, tableName } = await createStore();
    const other = createDynamoSessionStore({
      client: db.documentClient,
      tableName,
      roomId: 'other-room',
    });
    await store.spendProof('00112233445566778899aabbccddeeff', 1e12);

    // Act
    const elsewhere = await other.spendProof('00112233445566778899aabbccddeeff', 1e12);

    // Assess
    expect(elsewhere).toBe(true);
  });
});

describe('DynamoSessionStore: the line', () => {
  it('numbers an arriving session with its order and puts it in the line', async () => {
    // Prepare
    const { store, rawItem } = await createStore();
    await join(store, 1);

    // Act
    const numbered = await store.numberArrivals([{ sessionId: 's1', order: order(42) }]);

    // Assess
    expect(numbered.map((n) => n.id)).toEqual(['s1']);
    expect(await store.get('s1')).toMatchObject({ state: 'waiting', seq: order(42) });
    expect(await readWholeLine(store)).toEqual(['s1']);
    const item = await rawItem('S#s1', 'S');
    expect(item).toMatchObject({
      line: expect.stringMatching(new RegExp(`^${ROOM}#\\d+$`)),
      seq: order(42),
    });
    expect(item?.ttl).toBeUndefined();
  });

  it('numbers a session once however often its arrival is delivered', async () => {
    // Prepare
    const { store } = await createStore();
    await join(store, 1);
    await store.numberArrivals([{ sessionId: 's1', order: order(1) }]);

    // Act
    const again = await store.numberArrivals([{ sessionId: 's1', order: order(9) }]);

    // Assess
    expect(again).toEqual([]);
    expect((await store.get('s1'))?.seq).toBe(order(1));
  });

  it('skips arrivals of sessions it does not know', async () => {
    // Prepare
    const { store } = await createStore();
    await join(store, 1);

    // Act
    const numbered = await store.numberArrivals([
      { sessionId: 'ghost', order: order(1) },
      { sessionId: 's1', order: order(2) },
    ]);

    // Assess
    expect(numbered.map((n) => n.id)).toEqual(['s1']);
    expect(await store.get('ghost')).toBeUndefined();
  });

  it('reads the line page by page in arrival order whatever order it was numbered in', async () => {
    // Prepare
    const { store } = await createStore();
    await join(store, 7);
    const orders = [5, 2, 7, 1, 6, 3, 4];
    await store.numberArrivals(
      orders.map((n, i) => ({ sessionId: `s${i + 1}`, order: order(n * 1000) })),
    );

    // Act
    const ids = await readWholeLine(store);

    // Assess
    expect(ids).toEqual(['s4', 's2', 's6', 's7', 's1', 's5', 's3']);
  });

  it('spreads the line over the index partitions, and reads a line numbered before they were', async () => {
    // Prepare: 64 numbered now; one waiting session as an unsharded index held it.
    const { store, tableName } = await createStore();
    await join(store, 65);
    await store.numberArrivals(
      Array.from({ length: 64 }, (_, i) => ({ sessionId: `s${i + 1}`, order: order(i + 2) })),
    );
    await db.documentClient.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: 'S#s65', sk: 'S' },
        UpdateExpression: 'SET seq = :seq, #state = :waiting, line = :room',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':seq': order(1), ':waiting': 'waiting', ':room': ROOM },
      }),
    );

    // Act
    const ids = await readWholeLine(store);
    const { Items = [] } = await db.documentClient.send(
      new ScanCommand({ TableName: tableName, ProjectionExpression: 'line' }),
    );

    // Assess
    expect(ids).toEqual(['s65', ...Array.from({ length: 64 }, (_, i) => `s${i + 1}`)]);
    const partitions = new Set(Items.map((item) => item.line).filter(Boolean));
    expect(partitions.size).toBeGreaterThanOrEqual(12);
  });

  it('shows a waiting session without its connection until its joined was delivered there', async () => {
    // Prepare: s1 joined through the message handler, s2 resumed on a new connection.
    const { store } = await createStore();
    await line(store, 2);
    await store.markAnnounced('s1', 'c1');
    await store.markAnnounced('s2', 'c2');
    await store.attachConnection('s2', 'c2-new', 6500);

    // Act
    const before = await store.readLine();
    await store.markAnnounced('s2', 'c2-new');
    const after = await store.readLine();

    // Assess
    expect(before.map((s) => s.connectionId)).toEqual(['c1', null]);
    expect(after.map((s) => s.connectionId)).toEqual(['c1', 'c2-new']);
    expect((await store.get('s2'))?.connectionId).toBe('c2-new');
  });

  it('does not mark a delivery on a connection the session has left', async () => {
    // Prepare
    const { store } = await createStore();
    await line(store, 1);
    await store.attachConnection('s1', 'c1-new', 6500);

    // Act
    await store.markAnnounced('s1', 'c1');

    // Assess
    expect((await store.readLine())[0]?.connectionId).toBeNull();
  });
});

describe('DynamoSessionStore: admission and abandonment', () => {
  it('admits a waiting session once, with its pass, and takes it out of the line', async () => {
    // Prepare
    const { store, rawItem } = await createStore();
    await line(store, 2);

    // Act
    const first = await store.admit('s1', PASS, 9000);
    const second = await store.admit('s1', { ...PASS, token: 'other' }, 9500);

    // Assess
    expect([first, second]).toEqual([true, false]);
    expect(await store.get('s1')).toMatchObject({
      state: 'admitted',
      pass: PASS,
      admittedAt: 9000,
      admissionNotified: false,
    });
    expect(await readWholeLine(store)).toEqual(['s2']);
    const item = await rawItem('S#s1', 'S');
    expect(item?.line).toBeUndefined();
    expect(item?.ttl).toBe(PASS.expiresAt + 24 * 3600);
  });

  it('does not admit a session that is still arriving', async () => {
    // Prepare
    const { store } = await createStore();
    await join(store, 1);

    // Act
    const admitted = await store.admit('s1', PASS, 9000);

    // Assess
    expect(admitted).toBe(false);
    expect((await store.get('s1'))?.state).toBe('arriving');
    expect(await store.pendingAdmissionNotices(10)).toEqual([]);
  });

  it('abandons a session gone since the same moment and takes it out of the line', async () => {
    // Prepare
    const { store, rawItem } = await createStore();
    await line(store, 2);
    await store.detachConnection('c1', 5000);

    // Act
    const abandoned = await store.abandon('s1', 5000, 200_000);

    // Assess
    expect(abandoned).toBe(true);
    expect((await store.get('s1'))?.state).toBe('abandoned');
    expect(await readWholeLine(store)).toEqual(['s2']);
    expect((await rawItem('S#s1', 'S'))?.ttl).toBe(200 + 24 * 3600);
  });

  it('keeps the place of a visitor who came back before the abandonment', async () => {
    // Prepare
    const { store } = await createStore();
    await line(store, 1);
    await store.detachConnection('c1', 5000);
    await store.attachConnection('s1', 'c1-back', 6000);

    // Act
    const abandoned = await store.abandon('s1', 5000, 200_000);

    // Assess
    expect(abandoned).toBe(false);
    expect(await readWholeLine(store)).toEqual(['s1']);
  });

  it('does not abandon a session that was gone again since a later moment', async () => {
    // Prepare
    const { store } = await createStore();
    await line(store, 1);
    await store.detachConnection('c1', 5000);
    await store.attachConnection('s1', 'c1-back', 6000);
    await store.detachConnection('c1-back', 8000);

    // Act
    const abandoned = await store.abandon('s1', 5000, 200_000);

    // Assess
    expect(abandoned).toBe(false);
    expect((await store.get('s1'))?.state).toBe('waiting');
  });

  it('abandons an arriving session that never got its number', async () => {
    // Prepare
    const { store } = await createStore();
    await join(store, 1);
    await store.detachConnection('c1', 5000);

    // Act
    const abandoned = await store.abandon('s1', 5000, 200_000);

    // Assess
    expect(abandoned).toBe(true);
    expect(await store.numberArrivals([{ sessionId: 's1', order: order(1) }])).toEqual([]);
  });

  it('does not abandon an admitted session', async () => {
    // Prepare
    const { store } = await createStore();
    await line(store, 1);
    await store.detachConnection('c1', 5000);
    await store.admit('s1', PASS, 6000);

    // Act
    const abandoned = await store.abandon('s1', 5000, 200_000);

    // Assess
    expect(abandoned).toBe(false);
    expect((await store.get('s1'))?.state).toBe('admitted');
  });
});

describe('DynamoSessionStore: admission notices', () => {
  it('lists admitted sessions not yet told until they are marked told', async () => {
    // Prepare
    const { store, tableName } = await createStore();
    await line(store, 3);
    await store.admit('s1', PASS, 9000);
    await store.admit('s2', PASS, 9000);

    // Act
    const pending = await store.pendingAdmissionNotices(10);
    await store.markAdmissionNotified(['s1']);
    const after = await store.pendingAdmissionNotices(10);

    // Assess
    expect(pending.map((s) => s.id).sort()).toEqual(['s1', 's2']);
    expect(after.map((s) => s.id)).toEqual(['s2']);
    expect((await store.get('s1'))?.admissionNotified).toBe(true);
    const outbox = await db.documentClient.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `R#${ROOM}` },
      }),
    );
    expect(outbox.Items?.map((item) => item.sk)).toEqual(['OUTBOX#s2']);
  });

  it('returns at most the number of notices asked for', async () => {
    // Prepare
    const { store } = await createStore();
    await line(store, 3);
    for (const id of ['s1', 's2', 's3']) await store.admit(id, PASS, 9000);

    // Act
    const pending = await store.pendingAdmissionNotices(2);

    // Assess
    expect(pending).toHaveLength(2);
  });

  it('keeps a notice written just before an admission that did not happen, until it is moot', async () => {
    // Prepare: a processor crashed between writing the notice and admitting s1.
    const { store, tableName, rawItem } = await createStore();
    await line(store, 1);
    await db.documentClient.send(
      new PutCommand({
        TableName: tableName,
        Item: { pk: `R#${ROOM}`, sk: 'OUTBOX#s1', sessionId: 's1', at: 1 },
      }),
    );

    // Act
    const whileWaiting = await store.pendingAdmissionNotices(10);
    const keptWhileWaiting = await rawItem(`R#${ROOM}`, 'OUTBOX#s1');
    await store.detachConnection('c1', 5000);
    await store.abandon('s1', 5000, 9000);
    const afterAbandon = await store.pendingAdmissionNotices(10);

    // Assess
    expect(whileWaiting).toEqual([]);
    expect(keptWhileWaiting).toBeDefined();
    expect(afterAbandon).toEqual([]);
    expect(await rawItem(`R#${ROOM}`, 'OUTBOX#s1')).toBeUndefined();
  });
});

describe('DynamoSessionStore: positions, room state and counts', () => {
  it('logs the connection changes of waiting sessions for the processor, and only theirs', async () => {
    // Prepare
    const { store } = await createStore();
    await line(store, 2);
    await store.create(newSession('s9', 'c9', '/', 1));
    const { cursor } = await store.readChanges(null);

    // Act
    await store.detachConnection('c1', 6000);
    await store.attachConnection('s1', 'c1-again', 6500);
    await store.markAnnounced('s1', 'c1-again');
    await store.askForPosition('s2');
    await store.detachConnection('c9', 6000);
    const page = await store.readChanges(cursor);
    const again = await store.readChanges(page.cursor);

    // Assess
    const s1 = page.changes
      .filter((c) => c.sessionId === 's1')
      .sort((a, b) => a.version - b.version);
    expect(
      s1.map(({ connectionId, disconnectedAt }) => ({ connectionId, disconnectedAt })),
    ).toEqual([
      // c1 never had `joined` delivered on it: the processor was never to push there.
      { connectionId: null, disconnectedAt: 6000 },
      { connectionId: 'c1-again', disconnectedAt: null },
    ]);
    expect(s1[1]?.version).toBe((await store.get('s1'))?.connectionVersion);
    expect(page.changes.filter((c) => c.sessionId === 's2')).toMatchObject([
      { asked: true, version: 0 },
    ]);
    expect(page.changes.some((c) => c.sessionId === 's9')).toBe(false);
    // Read again from a little before the cursor: a late write is not missed, and applying a
    // change twice changes nothing.
    expect(again.changes.length).toBe(page.changes.length);
  });

  it('returns the sessions it numbers, as they are now, and skips the rest', async () => {
    // Prepare
    const { store } = await createStore();
    await store.create(newSession('s1', 'c1', '/', 1));
    await store.markAnnounced('s1', 'c1');
    await store.create(newSession('s2', 'c2', '/', 2));

    // Act
    const numbered = await store.numberArrivals([
      { sessionId: 's1', order: '001' },
      { sessionId: 's2', order: '002' },
      { sessionId: 'ghost', order: '003' },
    ]);
    const again = await store.numberArrivals([{ sessionId: 's1', order: '001' }]);

    // Assess
    expect(
      numbered.map(({ id, seq, state, connectionId }) => ({ id, seq, state, connectionId })),
    ).toEqual([
      { id: 's1', seq: '001', state: 'waiting', connectionId: 'c1' },
      // Not yet told `joined` on c2: the processor pushes nothing to it yet.
      { id: 's2', seq: '002', state: 'waiting', connectionId: null },
    ]);
    expect(again).toEqual([]);
  });

  it('starts from an empty room state', async () => {
    // Prepare
    const { store } = await createStore();

    // Act
    const state = await store.getRoomState();

    // Assess
    expect(state).toEqual({
      tokens: 0,
      refilledAt: null,
      recentAdmissions: [],
      waiting: 0,
      tickedAt: null,
      activeAt: null,
      config: null,
    });
  });

  it('takes a refilled bucket after a state from before any refill (the config mirrored first)', async () => {
    // Prepare: a fresh room's first write carries no refill; an older version stored a NULL.
    const { store } = await createStore();
    await store.putRoomState({
      ...EMPTY_ROOM_STATE,
      config: { enabled: true, admitPerMinute: 60 },
    });
    const legacy = await createStore();
    await db.documentClient.send(
      new PutCommand({
        TableName: legacy.tableName,
        Item: { pk: `R#${ROOM}`, sk: 'STATE', tokens: 0, refilledAt: null },
      }),
    );

    // Act
    const saved = await store.putRoomState({ ...EMPTY_ROOM_STATE, tokens: 0.5, refilledAt: 5000 });
    const savedOverNull = await legacy.store.putRoomState({
      ...EMPTY_ROOM_STATE,
      tokens: 0.5,
      refilledAt: 5000,
    });

    // Assess: saved, and said so (a tick admits only on a bucket it saved).
    expect(await store.getRoomState()).toMatchObject({ tokens: 0.5, refilledAt: 5000 });
    expect(await legacy.store.getRoomState()).toMatchObject({ tokens: 0.5, refilledAt: 5000 });
    expect([saved, savedOverNull]).toEqual([true, true]);
  });

  it('keeps the room state as written, fractional tokens included', async () => {
    // Prepare
    const { store } = await createStore();
    const state = {
      tokens: 1 / 3 + 1.1102230246251565e-16,
      refilledAt: 1_764_072_000_123,
      recentAdmissions: [
        { at: 1_764_072_000_000, count: 2 },
        { at: 1_764_072_001_000, count: 1 },
      ],
      waiting: 12,
      tickedAt: 1_764_072_000_200,
      activeAt: 1_764_072_000_100,
      config: { enabled: true, admitPerMinute: 90 },
    };

    // Act
    await store.putRoomState(state);
    await store.putRoomState({ ...state, tokens: 2.5e-7 });

    // Assess
    expect(await store.getRoomState()).toEqual({ ...state, tokens: 2.5e-7 });
  });

  it('counts the line as of the last tick, and the admissions and abandonments saved with the room state', async () => {
    // Prepare
    const { store } = await createStore({ countArriving: async () => 7 });
    await line(store, 4);
    await store.admit('s1', PASS, 9000);
    await store.detachConnection('c2', 5000);
    await store.abandon('s2', 5000, 9000);
    await store.putRoomState({
      tokens: 0,
      refilledAt: 9000,
      recentAdmissions: [],
      waiting: 1,
      tickedAt: 9000,
      activeAt: null,
      config: null,
    });
    await store.admit('s3', PASS, 9500);

    // Act
    const counts = await store.counts();

    // Assess
    expect(counts).toEqual({ waiting: 1, arriving: 7, admitted: 2, abandoned: 1 });
  });

  it('adds to the saved totals across store instances', async () => {
    // Prepare: a processor that saved its tick, then a fresh container.
    const { store, tableName } = await createStore();
    await line(store, 2);
    await store.admit('s1', PASS, 9000);
    await store.putRoomState(await store.getRoomState());
    const another = createDynamoSessionStore({
      client: db.documentClient,
      tableName,
      roomId: ROOM,
    });

    // Act
    await another.admit('s2', PASS, 9500);
    await another.putRoomState(await another.getRoomState());

    // Assess
    expect((await store.counts()).admitted).toBe(2);
  });
});
