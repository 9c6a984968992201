import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemorySourcePlaces } from '../../../functions/adapters/local/memory-source-places.ts';
import type { ServerMessage } from '../../../functions/core/protocol.ts';
import {
  createKeyedBucket,
  DEFAULT_MAX_PLACES_PER_SOURCE,
  sourceKey,
  sourceLimitsFor,
} from '../../../functions/core/sources.ts';
import { handleFrame } from '../../../functions/router.ts';
import { createHarness } from '../../helpers/room-harness.ts';

describe('sourceKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    [' 203.0.113.7 ', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['[2001:db8:1:2::1]', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['64:ff9b::203.0.113.7', '64:ff9b:0:0::/64'],
  ])('counts %s under %s', (address, key) => {
    expect(sourceKey(address)).toBe(key);
  });

  it.each([
    undefined,
    null,
    '',
    'localhost',
    '2001:db8::1::2',
    '1:2:3:4:5:6:7:8:9',
    'gggg::1',
    '2001:db8:1:2:3:4:5',
  ])('has no key for %s', (address) => {
    expect(sourceKey(address)).toBeNull();
  });

  it('puts every address of one /64 under one key, and the next /64 under another', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }),
        (tail) => {
          const address = `2001:db8:aa:bb:${tail.map((g) => g.toString(16)).join(':')}`;
          expect(sourceKey(address)).toBe('2001:db8:aa:bb::/64');
          expect(sourceKey(`2001:db8:aa:bc:${tail.map((g) => g.toString(16)).join(':')}`)).toBe(
            '2001:db8:aa:bc::/64',
          );
        },
      ),
    );
  });
});

describe('sourceLimitsFor', () => {
  it('follows the places: twice as many sockets, a burst of that, a fifth of the places a second (at least 10)', () => {
    expect(sourceLimitsFor(DEFAULT_MAX_PLACES_PER_SOURCE)).toEqual({
      maxPlaces: 100,
      newSockets: { perSecond: 20, burst: 200 },
      maxSockets: 200,
    });
    expect(sourceLimitsFor(5).newSockets).toEqual({ perSecond: 10, burst: 10 });
  });
});

describe('createKeyedBucket', () => {
  it('lets a key spend its burst, then its rate, each key on its own', () => {
    // Prepare
    const bucket = createKeyedBucket({ perSecond: 2, burst: 3 });

    // Act
    const burst = [1, 2, 3, 4].map(() => bucket.take('a', 0));
    const other = bucket.take('b', 0);
    const halfSecond = bucket.take('a', 500);
    const tooSoon = bucket.take('a', 600);

    // Assess
    expect(burst).toEqual([true, true, true, false]);
    expect(other).toBe(true);
    expect(halfSecond).toBe(true);
    expect(tooSoon).toBe(false);
  });

  it('forgets the key used longest ago past its bound, which then finds a full bucket', () => {
    // Prepare
    const bucket = createKeyedBucket({ perSecond: 1, burst: 1, maxTracked: 2 });
    bucket.take('a', 0);
    bucket.take('b', 0);

    // Act
    bucket.take('c', 0);
    const a = bucket.take('a', 0);
    const c = bucket.take('c', 0);

    // Assess
    expect(a).toBe(true);
    expect(c).toBe(false);
  });
});

describe('MemorySourcePlaces', () => {
  it('never holds more than the most for a source, and holds what was taken less what was given back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a', 'b')), { maxLength: 60 }),
        async (steps) => {
          const places = new MemorySourcePlaces(4);
          const model = new Map<string, number>();
          for (const [take, source] of steps) {
            const held = model.get(source) ?? 0;
            if (take) {
              const taken = await places.take(source);
              expect(taken).toBe(held < 4);
              if (taken) model.set(source, held + 1);
            } else if (held > 0) {
              await places.release([source]);
              model.set(source, held - 1);
            }
            expect(places.held(source)).toBe(model.get(source) ?? 0);
            expect(places.held(source)).toBeLessThanOrEqual(4);
          }
        },
      ),
    );
  });

  it('starts from the places a restart found in line', async () => {
    const places = new MemorySourcePlaces(2, ['a', 'a', 'b']);
    expect([await places.take('a'), await places.take('b'), await places.take('b')]).toEqual([
      false,
      true,
      false,
    ]);
  });
});

describe('places per source in the core', () => {
  async function limitedRoom(max: number) {
    const room = await createHarness({ config: { admitPerMinute: 0 } });
    const places = new MemorySourcePlaces(max);
    room.router.sources = places;
    room.processor.sources = places;
    const join = async (connectionId: string, source: string): Promise<ServerMessage> =>
      (
        await handleFrame(room.router, connectionId, '{"action":"join"}', source)
      )[0] as ServerMessage;
    return { room, places, join };
  }

  it('counts a join under its source, refuses the one over the most, and gives back what is admitted or abandoned', async () => {
    // Prepare
    const { room, places, join } = await limitedRoom(2);

    // Act
    const answers = [await join('c1', 'a'), await join('c2', 'a'), await join('c3', 'a')];
    const other = await join('c4', 'b');
    await room.tick();
    await room.disconnect('c2');
    room.config.set({ admitPerMinute: 60 });
    room.clock.advance(200_000);
    await room.tick();

    // Assess
    expect(answers.map((a) => (a.type === 'error' ? a.code : a.type))).toEqual([
      'joined',
      'joined',
      'rate_limited',
    ]);
    expect(other.type).toBe('joined');
    // c1 admitted (one a tick), c2 abandoned: both of the source's places came back.
    expect(places.held('a')).toBe(0);
    expect(places.held('b')).toBe(1);
  });

  it('gives back the places of a tick that admitted some and then failed', async () => {
    // Prepare
    const { room, places, join } = await limitedRoom(5);
    for (const id of ['c1', 'c2', 'c3']) await join(id, 'a');
    await room.tick();
    const admit = room.store.admit.bind(room.store);
    let calls = 0;
    room.store.admit = async (...args) => {
      calls += 1;
      if (calls === 2) throw new Error('throttled');
      return admit(...args);
    };
    room.config.set({ admitPerMinute: 6000 });

    // Act
    const failed = await room.tick().then(
      () => false,
      () => true,
    );

    // Assess
    expect(failed).toBe(true);
    expect(places.held('a')).toBe(2);
  });
});
