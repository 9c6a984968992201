/**
 * A {@link Signer} whose keys are read on first use (the key ring in SSM on AWS) and read again
 * after {@link KEY_RELOAD_MS}, so that a container picks up a key rotation without a redeploy.
 *
 * A failed first read fails the call and is tried again on the next; a failed later read keeps
 * the last good keys (the rotation keeps them valid for days) and is tried again after
 * {@link KEY_RETRY_AFTER_ERROR_MS}. A later read holds up no call beyond
 * {@link KEY_RELOAD_WAIT_MS} (SSM throttled, the SDK backs off for seconds): the call that
 * started it, and any other while it goes on, sign with the keys there are. A ticket naming a
 * `kid` the keys do not hold reads the ring once early (at most every
 * {@link KEY_REFRESH_MIN_MS}): another container may already sign with a key this one has not
 * seen. Forged kids cannot make it read more often than that.
 */
import { valueWithin } from '../adapters/aws/concurrency.ts';
import type { Clock, Signer } from '../core/ports.ts';
import {
  createSigner,
  type SignerKeySource,
  type SignerKeys,
  type SignerOptions,
} from '../core/tokens.ts';

/** How long a container signs with the ring it read before reading it again. */
export const KEY_RELOAD_MS = 60_000;
/** After a failed read, the next one waits this long. */
export const KEY_RETRY_AFTER_ERROR_MS = 10_000;
/** Early reads for unknown kids are at least this far apart. */
export const KEY_REFRESH_MIN_MS = 10_000;
/** How long a call waits for a scheduled read before it goes on with the keys it has. */
export const KEY_RELOAD_WAIT_MS = 250;

export interface ReloadingKeysOptions<K extends SignerKeys = SignerKeys> {
  load: () => Promise<K>;
  /** @default KEY_RELOAD_MS */
  reloadMs?: number;
  /** @default KEY_REFRESH_MIN_MS */
  refreshMinMs?: number;
  clock?: Clock;
  /** Told of a failed read while older keys are kept. */
  onReloadError?: (error: unknown) => void;
}

/**
 * A {@link SignerKeySource} that reads its keys again from time to time; see the module doc.
 * `K` may carry more than a signer needs (the proof-of-work secrets of the same ring read).
 */
export function createReloadingKeySource<K extends SignerKeys = SignerKeys>(
  options: ReloadingKeysOptions<K>,
): { get(): K | Promise<K>; refresh(): Promise<K> } {
  const reloadMs = options.reloadMs ?? KEY_RELOAD_MS;
  const refreshMinMs = options.refreshMinMs ?? KEY_REFRESH_MIN_MS;
  const now = () => (options.clock ? options.clock.now() : Date.now());
  let last: K | undefined;
  /** When the last good read was, and when the next scheduled read is due. */
  let dueAt = 0;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<K> | undefined;

  const read = (): Promise<K> => {
    reading ??= (async () => {
      lastAttemptAt = now();
      try {
        last = await options.load();
        dueAt = now() + reloadMs;
        return last;
      } catch (error) {
        if (!last) throw error;
        options.onReloadError?.(error);
        dueAt = now() + KEY_RETRY_AFTER_ERROR_MS;
        return last;
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };

  return {
    get: () => {
      if (!last) return read();
      if (now() < dueAt || reading) return last;
      return valueWithin(read(), KEY_RELOAD_WAIT_MS, last);
    },
    refresh: async () => {
      if (last && now() - lastAttemptAt < refreshMinMs) return last;
      return read();
    },
  };
}

/** The Lambda functions' signer over keys read by `load` (the ring in SSM). */
export function createLazySigner(
  load: () => Promise<SignerKeys>,
  options: Omit<SignerOptions, 'key' | 'keys'> &
    Pick<ReloadingKeysOptions, 'onReloadError' | 'clock'>,
): Signer {
  const { onReloadError, clock, ...settings } = options;
  return createSigner({
    ...settings,
    keys: createReloadingKeySource({
      load,
      ...(clock ? { clock } : {}),
      ...(onReloadError ? { onReloadError } : {}),
    }),
  });
}
