/**
 * The room's on/off flag as the gate sees it: read rarely, shared by all requests of a process
 * (a Lambda@Edge container, or the local runtime), and never allowed to take the gate down.
 */

/** Wall-clock time in milliseconds since the epoch (`Date.now` semantics). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface FlagCacheOptions {
  /** Reads the current flag; may reject (network error, timeout, bad document). */
  read: () => Promise<boolean>;
  /** How long a read is trusted, and how long to wait after a failed read before trying again. */
  ttlMs: number;
  /** The value until a read has succeeded once: the build-time default (on). */
  defaultValue: boolean;
  clock?: Clock;
  /** Told about each failed read (for a log line); anything it throws is ignored. */
  onReadError?: (error: unknown) => void;
}

export interface FlagCache {
  get(): Promise<boolean>;
}

/**
 * Caches the flag for `ttlMs` after each read attempt, successful or not:
 *
 * - a successful read is served for `ttlMs`;
 * - a failed read keeps the last value read (last-known-good), or `defaultValue` when no read has
 *   succeeded yet, and is not tried again for `ttlMs` either, so an unreachable flag source costs
 *   one timeout per TTL per process instead of one per request;
 * - concurrent `get()`s while a read is under way share it, so a burst on a cold container makes
 *   one request to the flag source, not hundreds.
 *
 * A read is awaited rather than refreshed in the background on purpose: Lambda freezes a container
 * between invocations, so a background read would often be cut off by its own timeout.
 */
export function createFlagCache(options: FlagCacheOptions): FlagCache {
  const { read, ttlMs, defaultValue, onReadError } = options;
  const clock = options.clock ?? systemClock;
  let lastGood: boolean | undefined;
  let lastAttemptAt: number | undefined;
  let inFlight: Promise<boolean> | undefined;

  const current = (): boolean => lastGood ?? defaultValue;

  const refresh = async (): Promise<boolean> => {
    try {
      const value = await read();
      if (typeof value !== 'boolean') throw new TypeError('flag read returned a non-boolean');
      lastGood = value;
    } catch (error) {
      reportQuietly(onReadError, error);
    } finally {
      // Counted from the end of the attempt, so a read that timed out still waits a full TTL.
      lastAttemptAt = clock.now();
    }
    return current();
  };

  return {
    get(): Promise<boolean> {
      if (inFlight) return inFlight;
      if (lastAttemptAt !== undefined && clock.now() - lastAttemptAt < ttlMs) {
        return Promise.resolve(current());
      }
      // Cleared in a `.finally` callback, which always runs after this assignment, even when
      // `read` throws synchronously.
      inFlight = refresh().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}

function reportQuietly(report: ((error: unknown) => void) | undefined, error: unknown): void {
  try {
    report?.(error);
  } catch {
    // A broken logger must not turn a flag read failure into a failed request.
  }
}
