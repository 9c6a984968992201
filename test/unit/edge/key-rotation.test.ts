/**
 * A key rotation as the edge gate sees it: the gate holds the JWKS it read for five minutes, so
 * the rotation must not depend on when it reads again. The ring publishes the next key before it
 * signs, so a pass signed by it right after a rotation opens a gate still holding the set from
 * before, and a pass of the old key opens a gate holding the set from after.
 */
import { describe, expect, it } from 'vitest';
import { createPassCheck } from '../../../edge/gate.ts';
import { createKeySetCache, JWKS_TTL_MS } from '../../../edge/key-set.ts';
import {
  liveKeys,
  MIN_NEXT_AGE_SECONDS,
  newKeyRing,
  rotateKeyRing,
} from '../../../functions/core/key-ring.ts';
import { generateSigningKey, jwksOf, type SigningKey } from '../../../functions/core/tokens.ts';
import { gateConfig, NOW, passFor } from './fixtures.ts';

const KEEP = 48 * 3600 + 300;

describe('the edge gate through a key rotation', () => {
  it('lets the pass of before and the pass signed right after the rotation through, whichever key set it holds', async () => {
    // Prepare: a ring published 20 minutes ago, read by the gate; a visitor admitted (P1).
    const createdAt = NOW - 20 * 60;
    const before = newKeyRing(await generateSigningKey(), await generateSigningKey(), createdAt);
    const outcome = await rotateKeyRing(before, NOW, generateSigningKey, { keepSeconds: KEEP });
    if (outcome.kind !== 'rotated') throw new Error(outcome.kind);
    const after = outcome.ring;
    const published = { jwks: jwksOf(liveKeys(before, NOW - 1, KEEP)) };
    let now = NOW * 1000 - 1000;
    const cache = createKeySetCache({
      read: async () => structuredClone(published.jwks),
      clock: { now: () => now },
    });
    const p1 = await passFor(before.current.key as SigningKey, { issuedAt: NOW - 60 });
    const held = await cache.get();

    // Act: the rotation publishes the new set; the next visitor's pass (P2) is signed by the
    // new current key at once; the gate still holds the old set, then reads the new one.
    published.jwks = jwksOf(liveKeys(after, NOW, KEEP));
    const p2 = await passFor(after.current.key as SigningKey, { issuedAt: NOW, jti: 'pass-2' });
    now = NOW * 1000 + 1000;
    const stillHeld = await cache.get();
    now += JWKS_TTL_MS;
    const reread = await cache.get();

    // Assess
    expect(MIN_NEXT_AGE_SECONDS).toBeLessThanOrEqual(20 * 60);
    expect(stillHeld).toBe(held);
    expect(reread).not.toBe(held);
    for (const keySet of [stillHeld, reread]) {
      const check = createPassCheck(keySet?.keys as never, gateConfig());
      expect(await check(p1, NOW + 2)).not.toBeNull();
      expect(await check(p2, NOW + 2)).not.toBeNull();
    }
  });
});
