import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoLease } from '../../../functions/adapters/aws/dynamo-lease.ts';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';

const ROOM = 'test-room';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.close();
});

async function twoProcessors() {
  const tableName = await db.createTable();
  const lease = (owner: string) =>
    createDynamoLease({ client: db.documentClient, tableName, roomId: ROOM, owner });
  return { first: lease('run-1'), second: lease('run-2') };
}

describe('DynamoDB processor lease', () => {
  it('is taken by the first processor that asks', async () => {
    // Prepare
    const { first } = await twoProcessors();

    // Act
    const taken = await first.acquire(T0, 15_000);

    // Assess
    expect(taken).toBe('taken');
  });

  it('cannot be taken by a second processor while the first holds it', async () => {
    // Prepare
    const { first, second } = await twoProcessors();
    await first.acquire(T0, 15_000);

    // Act
    const taken = await second.acquire(T0 + 14_000, 15_000);

    // Assess
    expect(taken).toBe(false);
  });

  it('is renewed by its holder, which pushes the expiry back', async () => {
    // Prepare
    const { first, second } = await twoProcessors();
    await first.acquire(T0, 15_000);

    // Act
    const renewed = await first.acquire(T0 + 10_000, 15_000);
    const takenAfterFirstExpiry = await second.acquire(T0 + 20_000, 15_000);

    // Assess
    expect(renewed).toBe('renewed');
    expect(takenAfterFirstExpiry).toBe(false);
  });

  it('is taken over once its holder let it expire', async () => {
    // Prepare
    const { first, second } = await twoProcessors();
    await first.acquire(T0, 15_000);

    // Act
    const taken = await second.acquire(T0 + 15_001, 15_000);
    const firstAgain = await first.acquire(T0 + 16_000, 15_000);

    // Assess
    expect(taken).toBe('taken');
    expect(firstAgain).toBe(false);
  });

  it('is free for another processor at once after its holder releases it', async () => {
    // Prepare
    const { first, second } = await twoProcessors();
    await first.acquire(T0, 15_000);

    // Act
    await first.release();
    const taken = await second.acquire(T0 + 1, 15_000);

    // Assess
    expect(taken).toBe('taken');
  });

  it('is renewed, not taken, when its holder takes it back after its own release with nobody between', async () => {
    // Prepare: what the holder remembers of the room is current only if nobody else held it.
    const { first, second } = await twoProcessors();
    await first.acquire(T0, 15_000);
    await first.release();

    // Act
    const back = await first.acquire(T0 + 60_000, 15_000);
    await first.release();
    await second.acquire(T0 + 61_000, 15_000);
    await second.release();
    const afterAnother = await first.acquire(T0 + 62_000, 15_000);

    // Assess
    expect(back).toBe('renewed');
    expect(afterAnother).toBe('taken');
  });

  it('is not freed by a processor that does not hold it', async () => {
    // Prepare
    const { first, second } = await twoProcessors();
    await first.acquire(T0, 15_000);

    // Act
    await second.release();
    const taken = await second.acquire(T0 + 1, 15_000);

    // Assess
    expect(taken).toBe(false);
  });

  it('keeps the time the room went to sleep while it sleeps on, and forgets it once awake', async () => {
    // Prepare
    const { first, second } = await twoProcessors();
    await first.acquire(T0, 15_000);

    // Act: asleep at T0; a watchdog run later marks it again; then it is woken and sleeps anew.
    const fresh = await first.setAsleep(true, T0);
    await first.release();
    await second.acquire(T0 + 60_000, 15_000);
    const again = await second.setAsleep(true, T0 + 60_000);
    await second.setAsleep(false, T0 + 61_000);
    const anew = await second.setAsleep(true, T0 + 62_000);
    const notHolder = await first.setAsleep(true, T0 + 63_000);

    // Assess
    expect(fresh).toBe(T0);
    expect(again).toBe(T0);
    expect(anew).toBe(T0 + 62_000);
    expect(notHolder).toBeNull();
  });
});
