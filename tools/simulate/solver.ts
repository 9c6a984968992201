/**
 * Solves the room's proof-of-work challenges (ALTCHA v2) in a simulator process with
 * altcha-lib's own solver, as a browser would, a few at a time: each solve's key derivations run
 * on libuv's thread pool, so more solves at once than it has threads would only make every one of
 * them look slower. The time a visitor waits for a free solver is measured apart from the solve.
 */
import { availableParallelism } from 'node:os';
import { type Challenge, type DeriveKeyFunction, solveChallenge } from 'altcha-lib';
import type { SolveOutcome } from './visitor.ts';

/** How long one solve may run before it counts as failed. */
export const SOLVE_TIMEOUT_MS = 120_000;

const derivers: Record<string, () => Promise<DeriveKeyFunction>> = {
  'PBKDF2/SHA-256': async () => (await import('altcha-lib/algorithms/pbkdf2')).deriveKey,
  'PBKDF2/SHA-384': async () => (await import('altcha-lib/algorithms/pbkdf2')).deriveKey,
  'PBKDF2/SHA-512': async () => (await import('altcha-lib/algorithms/pbkdf2')).deriveKey,
  'SHA-256': async () => (await import('altcha-lib/algorithms/sha')).deriveKey,
  'SHA-384': async () => (await import('altcha-lib/algorithms/sha')).deriveKey,
  'SHA-512': async () => (await import('altcha-lib/algorithms/sha')).deriveKey,
  SCRYPT: async () => (await import('altcha-lib/algorithms/scrypt')).deriveKey,
  ARGON2ID: async () => (await import('altcha-lib/algorithms/argon2id')).deriveKey,
};

/**
 * A solver for a process: at most `concurrency` solves at once (default: the thread pool's size,
 * `UV_THREADPOOL_SIZE` or 4, capped by the CPUs), the rest queued in arrival order.
 */
export function createSolver(
  concurrency = Math.min(
    Number(process.env.UV_THREADPOOL_SIZE) || 4,
    Math.max(1, availableParallelism()),
  ),
  now: () => number = () => performance.now(),
): (challenge: Record<string, unknown>) => Promise<SolveOutcome> {
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = () =>
    new Promise<void>((resolve) => {
      if (running < concurrency) {
        running += 1;
        resolve();
      } else {
        queue.push(() => {
          running += 1;
          resolve();
        });
      }
    });
  const release = () => {
    running -= 1;
    queue.shift()?.();
  };
  return async (challenge) => {
    const asked = now();
    await slot();
    const started = now();
    try {
      const algorithm = (challenge as { parameters?: { algorithm?: unknown } }).parameters
        ?.algorithm;
      const derive = typeof algorithm === 'string' ? derivers[algorithm] : undefined;
      if (!derive) return { solution: null, ms: 0, queuedMs: started - asked };
      const solution = await solveChallenge({
        challenge: challenge as unknown as Challenge,
        deriveKey: await derive(),
        timeout: SOLVE_TIMEOUT_MS,
      });
      return {
        solution: solution as unknown as Record<string, unknown> | null,
        ms: now() - started,
        queuedMs: started - asked,
      };
    } catch {
      return { solution: null, ms: now() - started, queuedMs: started - asked };
    } finally {
      release();
    }
  };
}
