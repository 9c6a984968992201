/**
 * One solver of a proof-of-work challenge, in a Web Worker (`proof-of-work.ts` starts one per
 * core). It runs altcha-lib's own solver with its WebCrypto key derivation (the default
 * `altcha-lib/algorithms/pbkdf2` needs `node:crypto`; the `web/` one is the same PBKDF2 through
 * `crypto.subtle`), on every `step`-th counter from `start`, and reports how many it tried.
 */
import { type Challenge, type DeriveKeyFunction, solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/web/pbkdf2';

/** What the page asks of a worker. */
export interface SolveRequest {
  challenge: Challenge;
  start: number;
  step: number;
}

/** What a worker tells the page: progress now and then, then a solution or an error. */
export type SolverMessage =
  | { type: 'progress'; tried: number }
  | { type: 'solved'; solution: { counter: number; derivedKey: string; time?: number } }
  | { type: 'failed'; message: string };

/** How often a worker reports how many it tried. */
const PROGRESS_EVERY_MS = 200;

const post = (message: SolverMessage) => self.postMessage(message);

self.onmessage = async (event: MessageEvent<SolveRequest>) => {
  const { challenge, start, step } = event.data;
  let tried = 0;
  let reportedAt = performance.now();
  // Every attempt derives one key: counting them here keeps altcha-lib's loop as it is.
  const counting: DeriveKeyFunction = async (parameters, salt, password) => {
    tried += 1;
    const now = performance.now();
    if (now - reportedAt >= PROGRESS_EVERY_MS) {
      reportedAt = now;
      post({ type: 'progress', tried });
    }
    return deriveKey(parameters, salt, password);
  };
  try {
    // No timeout: the page stops the workers when it no longer wants the answer.
    const solution = await solveChallenge({
      challenge,
      deriveKey: counting,
      counterStart: start,
      counterStep: step,
      timeout: 0,
    });
    post({ type: 'progress', tried });
    if (solution) post({ type: 'solved', solution: { ...solution } });
    else post({ type: 'failed', message: 'the challenge was not solved' });
  } catch (error) {
    post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
};
