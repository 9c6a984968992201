/**
 * The room's public keys as the gate holds them: baked in at build time, or read at run time from
 * the room's JWKS and cached like the flag. Either way the gate gets a {@link KeySet} that stays
 * the same object for as long as the keys stay the same, so whatever it builds from one (its
 * verification keys, its cache of verified passes) is rebuilt only when the keys really change.
 */
import type { JSONWebKeySet } from 'jose';
import { type VerifyKeys, verifierFor } from '../functions/core/tokens.ts';
import { type Clock, createCachedReading } from './flag-cache.ts';
import { parsePublicJwks } from './jwks-document.ts';

/** How long a key set read is trusted: keys change on a key rotation, not from one minute to the next. */
export const JWKS_TTL_MS = 5 * 60_000;

/**
 * How long after a failed read the next one is tried. Shorter than the TTL: while no key set has
 * been read at all, no pass verifies, and every admitted visitor is sent back to the line.
 */
export const JWKS_RETRY_AFTER_ERROR_MS = 15_000;

/** Public keys ready to verify passes with. */
export interface KeySet {
  readonly jwks: JSONWebKeySet;
  readonly keys: VerifyKeys;
}

export interface KeySetSource {
  /** The current key set; undefined while none has ever been read (then no pass verifies). */
  get(): Promise<KeySet | undefined>;
}

/** A key set fixed at build time. */
export function staticKeySet(jwks: JSONWebKeySet): KeySetSource {
  const keySet: KeySet = { jwks, keys: verifierFor(jwks) };
  return { get: () => Promise.resolve(keySet) };
}

export interface KeySetCacheOptions {
  /** Reads the key set document; may reject. What it returns is checked here again. */
  read: () => Promise<unknown>;
  /** @default JWKS_TTL_MS */
  ttlMs?: number;
  /** @default JWKS_RETRY_AFTER_ERROR_MS */
  retryAfterErrorMs?: number;
  clock?: Clock;
  /** Told about each failed read, a refused key set included; anything it throws is ignored. */
  onReadError?: (error: unknown) => void;
}

/**
 * A key set read at run time: served for `ttlMs` after each successful read, the last good one
 * kept when a read fails or returns something that is not a set of EC P-256 public keys (one
 * holding a private `d` is refused), reads shared by concurrent callers, and no key set at all,
 * so no pass verifies, until a read has succeeded once: the gate fails closed, and visitors go to
 * the waiting room, which keeps working. A read that returns the same keys (compared as JSON)
 * returns the same {@link KeySet}.
 */
export function createKeySetCache(options: KeySetCacheOptions): KeySetSource {
  let last: { json: string; keySet: KeySet } | undefined;
  return createCachedReading<KeySet>({
    read: async () => {
      const jwks = parsePublicJwks(await options.read());
      const json = JSON.stringify(jwks);
      if (last?.json !== json) last = { json, keySet: { jwks, keys: verifierFor(jwks) } };
      return last.keySet;
    },
    ttlMs: options.ttlMs ?? JWKS_TTL_MS,
    retryAfterErrorMs: options.retryAfterErrorMs ?? JWKS_RETRY_AFTER_ERROR_MS,
    defaultValue: undefined,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.onReadError ? { onReadError: options.onReadError } : {}),
  });
}
