/**
 * The counts per source address on AWS (`dynamo-source-limits.ts`) against dynalite: places taken
 * up to the most and given back, never below zero; new sockets counted per 5-second window.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourcePk } from '../../../functions/adapters/aws/dynamo-items.ts';
import {
  createDynamoSourceLimits,
  PLACES_SK,
  SOCKET_WINDOW_MS,
} from '../../../functions/adapters/aws/dynamo-source-limits.ts';
import { sourceLimitsFor } from '../../../functions/core/sources.ts';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';

const ROOM = 'test-room';
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.close();
});

async function limits(maxPlaces: number, clock = { now: () => T0 }) {
  const tableName = await db.createTable();
  const errors: unknown[] = [];
  const counts = createDynamoSourceLimits({
    tableName,
    roomId: ROOM,
    limits: sourceLimitsFor(maxPlaces),
    client: db.documentClient,
    clock,
    onError: (error) => errors.push(error),
  });
  const held = async (source: string) => {
    const { Item } = await db.documentClient.send(
      new GetCommand({ TableName: tableName, Key: { pk: sourcePk(ROOM, source), sk: PLACES_SK } }),
    );
    return Item;
  };
  return { counts, held, errors };
}

describe('DynamoDB counts per source address', () => {
  it('lets a source take places up to the most, each source on its own, and expires the count a day after its first', async () => {
    // Prepare
    let now = T0;
    const { counts, held, errors } = await limits(3, { now: () => now });

    // Act
    const taken = [];
    for (let i = 0; i < 5; i++) {
      taken.push(await counts.places.take('203.0.113.7'));
      now += 60_000;
    }
    const other = await counts.places.take('2001:db8:1:2::/64');

    // Assess
    expect(taken).toEqual([true, true, true, false, false]);
    expect(other).toBe(true);
    expect(await held('203.0.113.7')).toMatchObject({
      places: 3,
      ttl: Math.floor(T0 / 1000) + 24 * 3600,
    });
    expect(errors).toEqual([]);
  });

  it('gives places back, one update per source, and lets the source take them again', async () => {
    // Prepare
    const { counts, held } = await limits(3);
    for (let i = 0; i < 3; i++) await counts.places.take('a');
    await counts.places.take('b');

    // Act
    await counts.places.release(['a', 'b', 'a']);
    const again = [await counts.places.take('a'), await counts.places.take('a')];
    const full = await counts.places.take('a');

    // Assess
    expect(again).toEqual([true, true]);
    expect(full).toBe(false);
    expect((await held('b'))?.places).toBe(0);
  });

  it('never counts below zero, and gives nothing back to a count that has expired', async () => {
    // Prepare
    const { counts, held, errors } = await limits(3);
    await counts.places.take('a');

    // Act
    await counts.places.release(['a', 'a', 'a']);
    await counts.places.release(['gone']);

    // Assess
    expect((await held('a'))?.places).toBe(0);
    expect(await held('gone')).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('counts new sockets per source in 5-second windows, and refuses the rest of a window from memory', async () => {
    // Prepare: 5 places: a window of max(10, 10 a second x 5 s) = 50 sockets.
    let now = T0 - (T0 % SOCKET_WINDOW_MS);
    const { counts } = await limits(5, { now: () => now });

    // Act
    const first = [];
    for (let i = 0; i < 52; i++) first.push(await counts.takeSocket('a'));
    const otherSource = await counts.takeSocket('b');
    now += SOCKET_WINDOW_MS;
    const nextWindow = await counts.takeSocket('a');

    // Assess
    expect(first.filter(Boolean)).toHaveLength(50);
    expect(first.slice(50)).toEqual([false, false]);
    expect(otherSource).toBe(true);
    expect(nextWindow).toBe(true);
  });

  it('lets the visitor through when the table fails, and says so', async () => {
    // Prepare
    const errors: unknown[] = [];
    const counts = createDynamoSourceLimits({
      tableName: 'no-such-table',
      roomId: ROOM,
      limits: sourceLimitsFor(1),
      client: db.documentClient,
      onError: (error) => errors.push(error),
    });

    // Act
    const place = await counts.places.take('a');
    const socket = await counts.takeSocket('a');
    await counts.places.release(['a']);

    // Assess
    expect([place, socket]).toEqual([true, true]);
    expect(errors).toHaveLength(3);
  });
});
