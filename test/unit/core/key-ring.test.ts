import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GATE_JWKS_CACHE_SECONDS,
  JWKS_MAX_AGE_SECONDS,
  type KeyRing,
  liveKeys,
  MAX_RETIRED_KEYS,
  MIN_NEXT_AGE_SECONDS,
  newKeyRing,
  parseKeyRing,
  retiredKeepSeconds,
  rotateKeyRing,
  serializeKeyRing,
} from '../../../functions/core/key-ring.ts';
import { generateSigningKey, TICKET_TTL_SECONDS } from '../../../functions/core/tokens.ts';

const T0 = 1_800_000_000;
const KEEP = retiredKeepSeconds({ passTtlSeconds: 1200, ticketTtlSeconds: TICKET_TTL_SECONDS });

/** Fake keys: names handed out in order. */
function keyMaker() {
  let n = 0;
  return () => `k${++n}`;
}

async function rotated(ring: KeyRing<string>, at: number, make: () => string, force = false) {
  const outcome = await rotateKeyRing(ring, at, make, { keepSeconds: KEEP, force });
  if (outcome.kind !== 'rotated') throw new Error(`expected a rotation, got ${outcome.kind}`);
  return outcome;
}

describe('key ring', () => {
  it('keeps a retired key published for the longest token lifetime plus the margin', () => {
    expect(KEEP).toBe(TICKET_TTL_SECONDS + 300);
    expect(retiredKeepSeconds({ passTtlSeconds: 3 * 86_400, ticketTtlSeconds: 3600 })).toBe(
      3 * 86_400 + 300,
    );
  });

  it('waits for the next key to be in every cache: CDN, then gate or origin, then a margin', () => {
    expect(MIN_NEXT_AGE_SECONDS).toBe(15 * 60);
    expect(MIN_NEXT_AGE_SECONDS).toBeGreaterThan(JWKS_MAX_AGE_SECONDS + GATE_JWKS_CACHE_SECONDS);
  });

  it('rotates: current retires now, next signs, a new next is published', async () => {
    // Prepare
    const make = keyMaker();
    const ring = newKeyRing(make(), make(), T0);

    // Act
    const { ring: after, warning } = await rotated(ring, T0 + MIN_NEXT_AGE_SECONDS, make);

    // Assess
    expect(warning).toBeUndefined();
    expect(after.current).toEqual({ key: 'k2', since: T0 + MIN_NEXT_AGE_SECONDS });
    expect(after.next).toEqual({ key: 'k3', since: T0 + MIN_NEXT_AGE_SECONDS });
    expect(after.retired).toEqual([{ key: 'k1', retiredAt: T0 + MIN_NEXT_AGE_SECONDS }]);
    expect(liveKeys(after, T0 + MIN_NEXT_AGE_SECONDS, KEEP)).toEqual(['k2', 'k3', 'k1']);
  });

  it('refuses a rotation while the next key is younger than the caches allow, and says when', async () => {
    // Prepare
    const make = keyMaker();
    const ring = newKeyRing(make(), make(), T0);

    // Act
    const outcome = await rotateKeyRing(ring, T0 + 60, make, { keepSeconds: KEEP });

    // Assess
    expect(outcome).toMatchObject({ kind: 'refused', rotateAfter: T0 + MIN_NEXT_AGE_SECONDS });
    expect(outcome.kind === 'refused' && outcome.reason).toContain('14 min');
  });

  it('rotates anyway when forced, with a warning that fresh passes may be refused', async () => {
    // Prepare
    const make = keyMaker();
    const ring = newKeyRing(make(), make(), T0);

    // Act
    const { ring: after, warning } = await rotated(ring, T0 + 60, make, true);

    // Assess
    expect(after.current.key).toBe('k2');
    expect(warning).toContain('may be refused');
  });

  it('publishes a next key first when the ring was a single bare key, and rotates nothing', async () => {
    // Prepare
    const make = keyMaker();
    const ring: KeyRing<string> = { current: { key: 'old', since: 0 }, next: null, retired: [] };

    // Act
    const outcome = await rotateKeyRing(ring, T0, make, { keepSeconds: KEEP });

    // Assess
    expect(outcome).toMatchObject({
      kind: 'next-published',
      rotateAfter: T0 + MIN_NEXT_AGE_SECONDS,
      ring: { current: { key: 'old' }, next: { key: 'k1', since: T0 } },
    });
  });

  it('drops retired keys once everything they signed has expired', async () => {
    // Prepare
    const make = keyMaker();
    const first = await rotated(newKeyRing(make(), make(), T0), T0 + 1000, make);

    // Act
    const later = await rotated(first.ring, T0 + 1000 + KEEP, make);

    // Assess
    expect(later.ring.retired.map((r) => r.key)).toEqual(['k2']);
    expect(liveKeys(first.ring, T0 + 1000 + KEEP - 1, KEEP)).toContain('k1');
    expect(liveKeys(first.ring, T0 + 1000 + KEEP, KEEP)).not.toContain('k1');
  });

  it('refuses a rotation that would retire more keys than a parameter holds, unless forced', async () => {
    // Prepare
    const make = keyMaker();
    let ring = newKeyRing(make(), make(), T0);
    let at = T0;
    for (let i = 0; i < MAX_RETIRED_KEYS; i++) {
      at += MIN_NEXT_AGE_SECONDS;
      ring = (await rotated(ring, at, make)).ring;
    }
    at += MIN_NEXT_AGE_SECONDS;

    // Act
    const refused = await rotateKeyRing(ring, at, make, { keepSeconds: KEEP });
    const forced = await rotated(ring, at, make, true);

    // Assess
    expect(refused).toMatchObject({
      kind: 'refused',
      rotateAfter: T0 + MIN_NEXT_AGE_SECONDS + KEEP,
    });
    expect(forced.ring.retired).toHaveLength(MAX_RETIRED_KEYS);
    expect(forced.warning).toContain('cannot resume');
  });

  it('stores a full ring of real keys within an SSM standard parameter (4 KB)', async () => {
    // Prepare
    const pem = async () => (await generateSigningKey()).pkcs8;
    let ring = newKeyRing(await pem(), await pem(), T0);
    let at = T0;
    for (let i = 0; i < MAX_RETIRED_KEYS; i++) {
      at += MIN_NEXT_AGE_SECONDS;
      const outcome = await rotateKeyRing(ring, at, pem, { keepSeconds: KEEP });
      if (outcome.kind !== 'rotated') throw new Error(outcome.kind);
      ring = outcome.ring;
    }

    // Act
    const stored = serializeKeyRing(ring);

    // Assess
    expect(ring.retired).toHaveLength(MAX_RETIRED_KEYS);
    expect(stored.length).toBeLessThanOrEqual(4096);
    expect(parseKeyRing(stored)).toEqual(ring);
  });

  it('reads a bare PEM as a ring of one current key, and refuses anything else', async () => {
    const { pkcs8 } = await generateSigningKey();

    expect(parseKeyRing(pkcs8)).toEqual({
      current: { key: pkcs8.trim().concat('\n'), since: 0 },
      next: null,
      retired: [],
    });
    expect(() => parseKeyRing('{"format":"other"}')).toThrow('not a key ring');
    expect(() => parseKeyRing('secret-junk')).toThrow('neither a PEM nor JSON');
  });

  it('keeps every token valid through any rotations: what signs was published in every cache, and stays published until its tokens expire', async () => {
    // A model of the world: at each rotation the JWKS published then is what a cache holds for
    // up to 10 minutes (CloudFront, then a gate or origin). A token signed at `s` by the key
    // current at `s`, with a lifetime up to the ticket's, must verify at any `t` in its
    // lifetime with the JWKS a cache fetched at any `u` in [t - 10 min, t].
    const cacheSeconds = JWKS_MAX_AGE_SECONDS + GATE_JWKS_CACHE_SECONDS;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: MIN_NEXT_AGE_SECONDS, max: 3 * 86_400 }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.integer({ min: 0, max: 3 * 86_400 }),
        fc.integer({ min: 1, max: TICKET_TTL_SECONDS }),
        fc.integer({ min: 0, max: cacheSeconds }),
        fc.integer({ min: 0, max: TICKET_TTL_SECONDS }),
        async (gaps, signOffset, lifetime, cacheAge, verifyOffset) => {
          const make = keyMaker();
          // The ring's history: the state after creation and after each rotation.
          const history: { at: number; ring: KeyRing<string> }[] = [
            { at: T0, ring: newKeyRing(make(), make(), T0) },
          ];
          for (const gap of gaps) {
            const last = history[history.length - 1] as { at: number; ring: KeyRing<string> };
            const outcome = await rotateKeyRing(last.ring, last.at + gap, make, {
              keepSeconds: KEEP,
            });
            if (outcome.kind === 'refused') return; // the ring was full: nothing rotated
            history.push({ at: last.at + gap, ring: outcome.ring });
          }
          const ringAt = (time: number) =>
            [...history].reverse().find((h) => h.at <= time)?.ring ?? null;
          const signedAt = T0 + signOffset;
          const signer = ringAt(signedAt)?.current.key as string;
          const checkedAt = signedAt + Math.min(verifyOffset, lifetime);
          const fetchedAt = Math.max(T0, checkedAt - cacheAge);
          const cached = ringAt(fetchedAt) as KeyRing<string>;
          expect(liveKeys(cached, fetchedAt, KEEP)).toContain(signer);
        },
      ),
      { numRuns: 300 },
    );
  });
});
