/**
 * Values the gate reads from somewhere else (the room's on/off flag, its public key set): read
 * rarely, shared by all requests of a process (a Lambda@Edge container, or the local runtime),
 * and never allowed to take the gate down.
 */

/** Wall-clock time in milliseconds since the epoch (`Date.now` semantics). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface CachedReadingOptions<T> {
  /** Reads the current value; may reject (network error, timeout, bad document) or throw. */
  read: () => Promise<T>;
  /** How long a successful read is trusted. */
  ttlMs: number;
  /** How long to wait after a failed read before trying again; @default ttlMs */
  retryAfterErrorMs?: number;
  /** The value until a read has succeeded once; `undefined` when there is no safe default. */
  defaultValue: T | undefined;
  clock?: Clock;
  /** Told about each failed read (for a log line); anything it throws is ignored. */
  onReadError?: (error: unknown) => void;
}

export interface CachedReading<T> {
  /** The current value: the last one read, else the default (which may be `undefined`). */
  get(): Promise<T | undefined>;
}

/**
 * Caches a value read from elsewhere, after each read attempt, successful or not:
 *
 * - a successful read is served for `ttlMs`;
 * - a failed read keeps the last value read (last-known-good), or `defaultValue` when no read has
 *   succeeded yet, and is not tried again for `retryAfterErrorMs` either, so an unreachable
 *   source costs one timeout per interval per process instead of one per request;
 * - concurrent `get()`s while a read is under way share it, so a burst on a cold container makes
 *   one request to the source, not hundreds.
 *
 * A read is awaited rather than refreshed in the background on purpose: Lambda freezes a container
 * between invocations, so a background read would often be cut off by its own timeout.
 */
export function createCachedReading<T>(options: CachedReadingOptions<T>): CachedReading<T> {
  const { read, ttlMs, defaultValue, onReadError } = options;
  const retryAfterErrorMs = options.retryAfterErrorMs ?? ttlMs;
  const clock = options.clock ?? systemClock;
  let lastGood: { value: T } | undefined;
  // When the next read is due (epoch ms); undefined until the first attempt.
  let nextReadAt: number | undefined;
  let inFlight: Promise<T | undefined> | undefined;

  const current = (): T | undefined => (lastGood ? lastGood.value : defaultValue);

  const refresh = async (): Promise<T | undefined> => {
    let waitMs = retryAfterErrorMs;
    try {
      lastGood = { value: await read() };
      waitMs = ttlMs;
    } catch (error) {
      reportQuietly(onReadError, error);
    } finally {
      // Counted from the end of the attempt, so a read that timed out still waits a full interval.
      nextReadAt = clock.now() + waitMs;
    }
    return current();
  };

  return {
    get(): Promise<T | undefined> {
      if (inFlight) return inFlight;
      if (nextReadAt !== undefined && clock.now() < nextReadAt) {
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
 * The room's on/off flag as the gate sees it: a {@link createCachedReading} of a boolean, with the
 * same interval after a success and after a failure, and the build-time default until the first
 * successful read. A read that resolves to anything but a boolean counts as a failed read.
 */
export function createFlagCache(options: FlagCacheOptions): FlagCache {
  const { read, defaultValue } = options;
  const reading = createCachedReading<boolean>({
    read: async () => {
      const value: unknown = await read();
      if (typeof value !== 'boolean') throw new TypeError('flag read returned a non-boolean');
      return value;
    },
    ttlMs: options.ttlMs,
    defaultValue,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.onReadError ? { onReadError: options.onReadError } : {}),
  });
  return { get: async () => (await reading.get()) ?? defaultValue };
}

function reportQuietly(report: ((error: unknown) => void) | undefined, error: unknown): void {
  try {
    report?.(error);
  } catch {
    // A broken logger must not turn a failed read into a failed request.
  }
}
