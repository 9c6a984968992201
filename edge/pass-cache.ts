/**
 * A bounded cache of verified passes. A browser sends the same `wr_pass` cookie with every page
 * and asset, and an ES256 signature check costs far more than a map lookup, so the gate keeps
 * what it verified, keyed by the whole token (any change to a token is a different key, checked
 * afresh) and honouring `exp` on every hit. Only successes are kept: a flood of bad tokens can
 * neither fill the cache with them nor make a good one fail, and a token the check refuses (the
 * gate's refuses one that claims a longer life than the room's passes have) is never served
 * from here.
 */
import type { VerifiedPass } from '../functions/core/tokens.ts';

/** Verifies a token as of `now` (epoch seconds). */
export type PassCheck = (token: string, now: number) => Promise<VerifiedPass | null>;

/** Default entries kept: about 10,000 live visitors a container, a few MB at most. */
export const DEFAULT_PASS_CACHE_SIZE = 10_000;

export function cachePassChecks(check: PassCheck, maxEntries = DEFAULT_PASS_CACHE_SIZE): PassCheck {
  const verified = new Map<string, VerifiedPass>();
  return async (token, now) => {
    const hit = verified.get(token);
    if (hit) {
      verified.delete(token);
      if (hit.expiresAt <= now) return null;
      // Re-inserted so the map's order is least recently used first.
      verified.set(token, hit);
      return hit;
    }
    const pass = await check(token, now);
    if (pass && maxEntries > 0) {
      if (verified.size >= maxEntries) {
        const oldest = verified.keys().next();
        if (!oldest.done) verified.delete(oldest.value);
      }
      verified.set(token, pass);
    }
    return pass;
  };
}
