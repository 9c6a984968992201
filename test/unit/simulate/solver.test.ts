/** The simulator's proof-of-work solver: altcha-lib's own, on a real (tiny) ALTCHA v2 challenge. */
import { createChallenge, verifySolution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import { describe, expect, it } from 'vitest';
import { createSolver } from '../../../tools/simulate/solver.ts';

const SECRET = 'test-secret';

describe('the proof-of-work solver', () => {
  it('solves a deterministic PBKDF2 challenge so that the maker verifies it', async () => {
    // Prepare
    const challenge = await createChallenge({
      algorithm: 'PBKDF2/SHA-256',
      cost: 10,
      counter: 12,
      deriveKey,
      hmacSignatureSecret: SECRET,
      hmacKeySignatureSecret: `${SECRET}-key`,
    });
    const solve = createSolver(2);

    // Act
    const outcome = await solve(challenge as unknown as Record<string, unknown>);

    // Assess
    expect(outcome.solution).toMatchObject({ counter: 12 });
    expect(outcome.ms).toBeGreaterThanOrEqual(0);
    const verified = await verifySolution({
      challenge,
      solution: outcome.solution as never,
      deriveKey,
      hmacSignatureSecret: SECRET,
      hmacKeySignatureSecret: `${SECRET}-key`,
    });
    expect(verified.verified).toBe(true);
  });

  it('gives no solution for an algorithm it does not know', async () => {
    // Act
    const outcome = await createSolver(1)({ parameters: { algorithm: 'MD5' } });

    // Assess
    expect(outcome.solution).toBeNull();
  });
});
