/** A Node solver of the room's proof-of-work challenges, for tests: altcha-lib's own. */
import { type Challenge, solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import type { Proof } from '../../functions/core/proof-of-work.ts';

/** Solves a challenge as the page would, and returns the proof a `join` carries. */
export async function solve(challenge: Record<string, unknown>): Promise<Proof> {
  const solution = await solveChallenge({
    challenge: challenge as unknown as Challenge,
    deriveKey,
  });
  if (!solution) throw new Error('the challenge was not solved in time');
  return { challenge, solution: { ...solution } };
}
