import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoSessionStore } from '../../../functions/adapters/aws/dynamo-session-store.ts';
import { createMirroredConfigSource } from '../../../functions/adapters/aws/mirrored-config.ts';
import { EMPTY_ROOM_STATE } from '../../../functions/core/admission.ts';
import type { RoomConfig } from '../../../functions/core/ports.ts';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

const ROOM = 'mirror-room';
let db: Dynalite;
beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => {
  await db.close();
});

/** A store (to mirror as a tick does) and the handlers' source over one fresh table. */
async function setup() {
  const clock = new ManualClock();
  const tableName = await db.createTable();
  const store = createDynamoSessionStore({
    client: db.documentClient,
    tableName,
    roomId: ROOM,
    clock,
  });
  const fallbackReads: number[] = [];
  const fallbackConfig: RoomConfig = { enabled: true, admitPerMinute: 0 };
  const source = createMirroredConfigSource({
    client: db.documentClient,
    tableName,
    roomId: ROOM,
    clock,
    fallback: {
      get: async () => {
        fallbackReads.push(clock.now());
        return fallbackConfig;
      },
    },
  });
  const mirror = (config: RoomConfig) =>
    store.putRoomState({ ...EMPTY_ROOM_STATE, refilledAt: clock.now(), config });
  return { clock, source, mirror, fallbackReads };
}

describe('the config the handlers read (mirrored by each tick)', () => {
  it('reads the config the last tick mirrored, without asking SSM', async () => {
    // Prepare
    const { source, mirror, fallbackReads } = await setup();
    await mirror({ enabled: false, admitPerMinute: 120 });

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: false, admitPerMinute: 120 });
    expect(fallbackReads).toEqual([]);
  });

  it('carries the fair-launch settings the tick mirrored: schedule, pow cost, message, closing words', async () => {
    // Prepare
    const { source, mirror } = await setup();
    const mirrored: RoomConfig = {
      enabled: true,
      admitPerMinute: 60,
      opensAt: Date.parse('2030-06-01T09:00:00Z'),
      powCost: 5000,
      message: 'Doors open at nine',
      closed: null,
    };
    await mirror(mirrored);

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual(mirrored);
  });

  it('reads a malformed fair-launch setting in the mirror as its default, keeping the rest', async () => {
    // Prepare
    const { source, mirror } = await setup();
    await mirror({
      enabled: true,
      admitPerMinute: 60,
      opensAt: -1,
      powCost: 2.5,
      message: 'two\nlines',
      closed: 'Sold out',
    });

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({
      enabled: true,
      admitPerMinute: 60,
      opensAt: null,
      powCost: 0,
      message: null,
      closed: 'Sold out',
    });
  });

  it('asks SSM until a tick has mirrored a config (a fresh deploy)', async () => {
    // Prepare
    const { source, fallbackReads } = await setup();

    // Act
    const config = await source.get();

    // Assess
    expect(config).toEqual({ enabled: true, admitPerMinute: 0 });
    expect(fallbackReads).toHaveLength(1);
  });

  it('trusts one read for a second, then follows the mirror', async () => {
    // Prepare
    const { clock, source, mirror } = await setup();
    await mirror({ enabled: true, admitPerMinute: 60 });
    await source.get();
    await mirror({ enabled: false, admitPerMinute: 60 });

    // Act
    clock.advance(999);
    const within = await source.get();
    clock.advance(1);
    const after = await source.get();

    // Assess
    expect(within.enabled).toBe(true);
    expect(after.enabled).toBe(false);
  });
});
