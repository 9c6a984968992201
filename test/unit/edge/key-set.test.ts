import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createKeySetCache,
  JWKS_RETRY_AFTER_ERROR_MS,
  JWKS_TTL_MS,
} from '../../../edge/key-set.ts';
import { jwksOf } from '../../../functions/core/tokens.ts';
import { type RoomKeys, roomKeys } from './fixtures.ts';

function fakeClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

let room: RoomKeys;

beforeAll(async () => {
  room = await roomKeys();
});

describe('createKeySetCache', () => {
  it('has no key set before the first successful read, so nothing can verify', async () => {
    // Prepare
    const read = vi.fn().mockRejectedValue(new Error('404'));
    const cache = createKeySetCache({ read, clock: fakeClock() });

    // Act
    const keySet = await cache.get();

    // Assess
    expect(keySet).toBeUndefined();
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('serves a key set read for the TTL, about five minutes, without reading again', async () => {
    const clock = fakeClock();
    const read = vi.fn().mockResolvedValue(jwksOf([room.key]));
    const cache = createKeySetCache({ read, clock });
    const first = await cache.get();

    clock.advance(JWKS_TTL_MS - 1);
    const second = await cache.get();

    expect(JWKS_TTL_MS).toBe(5 * 60_000);
    expect(second).toBe(first);
    expect(first?.jwks.keys[0]?.kid).toBe(room.key.kid);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('reads again once the TTL has passed', async () => {
    const clock = fakeClock();
    const read = vi.fn().mockResolvedValue(jwksOf([room.key]));
    const cache = createKeySetCache({ read, clock });
    await cache.get();

    clock.advance(JWKS_TTL_MS);
    await cache.get();

    expect(read).toHaveBeenCalledTimes(2);
  });

  it('keeps the last key set read when a later read fails', async () => {
    const clock = fakeClock();
    const read = vi
      .fn()
      .mockResolvedValueOnce(jwksOf([room.key]))
      .mockRejectedValueOnce(new Error('timeout'));
    const cache = createKeySetCache({ read, clock });
    const good = await cache.get();

    clock.advance(JWKS_TTL_MS);
    const afterFailure = await cache.get();

    expect(afterFailure).toBe(good);
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('tries again sooner after a failed read than after a good one', async () => {
    const clock = fakeClock();
    const read = vi
      .fn()
      .mockRejectedValueOnce(new Error('not there yet'))
      .mockResolvedValueOnce(jwksOf([room.key]));
    const cache = createKeySetCache({ read, clock });
    await cache.get();

    clock.advance(JWKS_RETRY_AFTER_ERROR_MS - 1);
    const tooSoon = await cache.get();
    clock.advance(1);
    const retried = await cache.get();

    expect(JWKS_RETRY_AFTER_ERROR_MS).toBeLessThan(JWKS_TTL_MS);
    expect(tooSoon).toBeUndefined();
    expect(retried?.jwks.keys).toHaveLength(1);
  });

  it('returns the same key set object when a new read returns the same keys', async () => {
    const clock = fakeClock();
    const read = vi.fn(async () => structuredClone(jwksOf([room.key])));
    const cache = createKeySetCache({ read, clock });
    const first = await cache.get();

    clock.advance(JWKS_TTL_MS);
    const second = await cache.get();

    expect(read).toHaveBeenCalledTimes(2);
    expect(second).toBe(first);
  });

  it('builds a new key set when the keys change', async () => {
    const clock = fakeClock();
    const read = vi
      .fn()
      .mockResolvedValueOnce(jwksOf([room.key]))
      .mockResolvedValueOnce(jwksOf([room.otherKey]));
    const cache = createKeySetCache({ read, clock });
    const first = await cache.get();

    clock.advance(JWKS_TTL_MS);
    const second = await cache.get();

    expect(second).not.toBe(first);
    expect(second?.jwks.keys[0]?.kid).toBe(room.otherKey.kid);
  });

  it('refuses a key set that holds a private key, and keeps none', async () => {
    // Prepare
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaked = { keys: [privateKey.export({ format: 'jwk' })] };
    const onReadError = vi.fn();
    const cache = createKeySetCache({
      read: async () => leaked,
      clock: fakeClock(),
      onReadError,
    });

    // Act
    const keySet = await cache.get();

    // Assess
    expect(keySet).toBeUndefined();
    expect(onReadError).toHaveBeenCalledWith(
      expect.objectContaining({ message: expect.stringMatching(/holds a private key/) }),
    );
  });

  it('refuses a key set of anything but EC P-256 keys', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cache = createKeySetCache({
      read: async () => ({ keys: [publicKey.export({ format: 'jwk' })] }),
      clock: fakeClock(),
    });

    expect(await cache.get()).toBeUndefined();
  });

  it('shares one read among concurrent callers', async () => {
    let resolve: (value: unknown) => void = () => {};
    const read = vi.fn(
      () =>
        new Promise<unknown>((r) => {
          resolve = r;
        }),
    );
    const cache = createKeySetCache({ read, clock: fakeClock() });

    const gets = Array.from({ length: 20 }, () => cache.get());
    resolve(jwksOf([room.key]));
    const keySets = await Promise.all(gets);

    expect(read).toHaveBeenCalledTimes(1);
    expect(new Set(keySets).size).toBe(1);
  });
});
