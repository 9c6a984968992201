/**
 * Solves the room's proof-of-work challenge (an ALTCHA v2 challenge, `functions/core/
 * proof-of-work.ts`) in the browser, on every core: one Web Worker per
 * `navigator.hardwareConcurrency` (at most {@link MAX_WORKERS}), each trying every n-th counter,
 * until one finds the counter the challenge asks for. The page sends the solution back with its
 * next `join` (`proof: { challenge, solution }`).
 *
 * The workers are the page's own script (`pow-worker.ts`, bundled by Vite as a file of the
 * page's origin: the Content-Security-Policy's `worker-src 'self'`). Where no worker can start,
 * the solving runs on the page itself, more slowly.
 */
import type { Challenge } from 'altcha-lib';
import type { SolveRequest, SolverMessage } from './pow-worker.ts';

export interface SolveProgress {
  /** Keys derived so far, all workers together. */
  tried: number;
  /**
   * Keys a solver derives on average for this challenge (the room's cost, from the challenge's
   * signed `data.attempts`; 0 when it does not say). The actual number is anywhere from 1 to
   * about twice this, so `tried` can pass it.
   */
  expected: number;
}

/** Workers at most, whatever the machine says: each costs memory, and 16 is plenty. */
export const MAX_WORKERS = 16;

/** How many workers a solve starts on this machine. */
export function workerCount(): number {
  const cores = typeof navigator === 'undefined' ? 0 : navigator.hardwareConcurrency;
  return Math.min(MAX_WORKERS, Math.max(1, Number.isInteger(cores) && cores > 0 ? cores : 4));
}

/** The mean number of attempts the challenge asks for, from its signed data. */
function expectedAttempts(challenge: Record<string, unknown>): number {
  const parameters = challenge.parameters as { data?: { attempts?: unknown } } | undefined;
  const attempts = parameters?.data?.attempts;
  return typeof attempts === 'number' && Number.isFinite(attempts) && attempts > 0 ? attempts : 0;
}

function abortError(): DOMException {
  return new DOMException('the proof of work was stopped', 'AbortError');
}

/**
 * Solves `challenge` and resolves to the `solution` to send. `onProgress` hears how far it got a
 * few times a second; `signal` stops it (the promise then rejects with an `AbortError`).
 */
export function solveChallenge(
  challenge: Record<string, unknown>,
  options: { onProgress?: (p: SolveProgress) => void; signal?: AbortSignal } = {},
): Promise<Record<string, unknown>> {
  const { onProgress, signal } = options;
  if (signal?.aborted) return Promise.reject(abortError());
  const expected = expectedAttempts(challenge);
  const count = workerCount();
  let workers: Worker[];
  try {
    workers = Array.from(
      { length: count },
      () => new Worker(new URL('./pow-worker.ts', import.meta.url), { type: 'module' }),
    );
  } catch {
    return solveOnPage(challenge, expected, options);
  }
  const tried = new Array<number>(count).fill(0);
  return new Promise((resolve, reject) => {
    const stop = () => {
      for (const worker of workers) worker.terminate();
      signal?.removeEventListener('abort', aborted);
    };
    const aborted = () => {
      stop();
      reject(abortError());
    };
    signal?.addEventListener('abort', aborted, { once: true });
    workers.forEach((worker, index) => {
      worker.onmessage = (event: MessageEvent<SolverMessage>) => {
        const message = event.data;
        if (message.type === 'progress') {
          tried[index] = message.tried;
          onProgress?.({ tried: tried.reduce((a, b) => a + b, 0), expected });
        } else if (message.type === 'solved') {
          stop();
          resolve({ ...message.solution });
        } else {
          stop();
          reject(new Error(message.message));
        }
      };
      worker.onerror = (event) => {
        event.preventDefault();
        stop();
        reject(new Error(event.message || 'a proof-of-work worker failed'));
      };
      const request: SolveRequest = {
        challenge: challenge as unknown as Challenge,
        start: index,
        step: count,
      };
      worker.postMessage(request);
    });
  });
}

/** The same solve on the page's own thread, for a browser that starts no worker. */
async function solveOnPage(
  challenge: Record<string, unknown>,
  expected: number,
  { onProgress, signal }: { onProgress?: (p: SolveProgress) => void; signal?: AbortSignal },
): Promise<Record<string, unknown>> {
  const [{ solveChallenge: solve }, { deriveKey }] = await Promise.all([
    import('altcha-lib'),
    import('altcha-lib/algorithms/web/pbkdf2'),
  ]);
  const controller = new AbortController();
  signal?.addEventListener('abort', () => controller.abort(), { once: true });
  let tried = 0;
  const solution = await solve({
    challenge: challenge as unknown as Challenge,
    controller,
    timeout: 0,
    deriveKey: async (parameters, salt, password) => {
      tried += 1;
      if (tried % 50 === 0) onProgress?.({ tried, expected });
      return deriveKey(parameters, salt, password);
    },
  });
  if (!solution) throw signal?.aborted ? abortError() : new Error('the challenge was not solved');
  return { ...solution };
}
