import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkDraw, webCryptoSha256 } from '../../../client/src/lib/draw-check.ts';
import { commitmentOf } from '../../../functions/core/draw.ts';

const SEED = '5eed'.repeat(16);
const COMMITMENT = createHash('sha256').update(SEED, 'utf8').digest('hex');
const OTHER_SEED = 'beef'.repeat(16);
const sha256 = webCryptoSha256();

describe('webCryptoSha256', () => {
  it("hashes a seed's hex text as the room's commitment does", async () => {
    // Prepare
    const seed = 'a1'.repeat(32);

    // Act
    const hash = await sha256?.(seed);

    // Assess
    expect(hash).toBe(commitmentOf(seed));
  });

  it('is not there where the browser has no WebCrypto (outside a secure context)', () => {
    // Prepare, Act
    const missing = webCryptoSha256({});

    // Assess
    expect(missing).toBeNull();
  });
});

describe('checkDraw', () => {
  it('finds a seed that hashes to the commitment seen before the opening', async () => {
    // Prepare, Act
    const result = await checkDraw({ commitment: COMMITMENT, seed: SEED }, COMMITMENT, sha256);

    // Assess
    expect(result).toBe('matches');
  });

  it('compares the hex without regard to case', async () => {
    // Prepare, Act
    const result = await checkDraw(
      { commitment: COMMITMENT.toUpperCase(), seed: SEED },
      COMMITMENT,
      sha256,
    );

    // Assess
    expect(result).toBe('matches');
  });

  it('warns of a seed that does not hash to the commitment', async () => {
    // Prepare, Act
    const result = await checkDraw(
      { commitment: COMMITMENT, seed: OTHER_SEED },
      COMMITMENT,
      sha256,
    );

    // Assess
    expect(result).toBe('mismatch');
  });

  it('warns of a commitment swapped since the opening, even when the new seed matches it', async () => {
    // Prepare
    const swapped = { commitment: commitmentOf(OTHER_SEED), seed: OTHER_SEED };

    // Act
    const result = await checkDraw(swapped, COMMITMENT, sha256);

    // Assess
    expect(result).toBe('mismatch');
  });

  it('says only that the seed matches the draw when no commitment was seen before the opening', async () => {
    // Prepare, Act
    const result = await checkDraw({ commitment: COMMITMENT, seed: SEED }, null, sha256);

    // Assess
    expect(result).toBe('matches-unseen');
  });

  it('cannot check without a hash function, or when hashing fails', async () => {
    // Prepare
    const draw = { commitment: COMMITMENT, seed: SEED };

    // Act
    const results = [
      await checkDraw(draw, COMMITMENT, null),
      await checkDraw(draw, COMMITMENT, () => Promise.reject(new Error('no digest'))),
    ];

    // Assess
    expect(results).toEqual(['unavailable', 'unavailable']);
  });
});
