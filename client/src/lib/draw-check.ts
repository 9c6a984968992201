/**
 * The page's own check of a fair draw: the seed published at the opening must hash to the
 * commitment published before it (`functions/core/draw.ts`: SHA-256 of the seed's hex text,
 * hex). The page keeps the commitment it saw in the pre-queue, so the room cannot swap it for
 * the hash of a seed it picked later without the page noticing.
 */
import type { DrawRecord } from '../../../functions/core/protocol.ts';

/**
 * What the check found:
 * - `matches`: the seed hashes to the commitment this browser saw before the opening;
 * - `matches-unseen`: the seed hashes to the draw's commitment, but this browser saw none before
 *   the opening (it came after a reload, say), so only the visitor can compare it with the
 *   published one;
 * - `mismatch`: the seed does not hash to the commitment (or the commitment is not the one seen
 *   before the opening): the draw cannot be trusted;
 * - `unavailable`: this browser cannot hash here (no WebCrypto outside a secure context).
 */
export type DrawCheckResult = 'matches' | 'matches-unseen' | 'mismatch' | 'unavailable';

/** SHA-256 of a text (UTF-8), hex-encoded. */
export type Sha256Hex = (text: string) => Promise<string>;

/** The part of WebCrypto's `SubtleCrypto` the check uses. */
export interface Digester {
  digest(algorithm: 'SHA-256', data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
}

/**
 * SHA-256 through WebCrypto, or null where the browser has none (`crypto.subtle` exists only in
 * secure contexts: https, or http on loopback).
 */
export function webCryptoSha256(
  crypto: { subtle?: Digester } | undefined = globalThis.crypto,
): Sha256Hex | null {
  const subtle = crypto?.subtle;
  if (!subtle) return null;
  return async (text) => {
    const digest = await subtle.digest('SHA-256', new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join(
      '',
    );
  };
}

/**
 * Checks `draw` against the commitment seen before the opening (`seenBefore`, null if none was
 * seen). Hex is compared without regard to case; a hash that fails counts as `unavailable`.
 */
export async function checkDraw(
  draw: DrawRecord,
  seenBefore: string | null,
  sha256: Sha256Hex | null,
): Promise<DrawCheckResult> {
  const published = draw.commitment.toLowerCase();
  if (seenBefore !== null && seenBefore.toLowerCase() !== published) return 'mismatch';
  if (sha256 === null) return 'unavailable';
  let hash: string;
  try {
    hash = (await sha256(draw.seed)).toLowerCase();
  } catch {
    return 'unavailable';
  }
  if (hash !== published) return 'mismatch';
  return seenBefore === null ? 'matches-unseen' : 'matches';
}
