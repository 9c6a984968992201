/**
 * Checks every pass the visitors got against the room's published keys, with the core's own
 * {@link verifyPass}: signature, `iss` (read from the first pass), `aud` (the origin of the
 * redirect it came with), `exp` (at the moment it was received), `typ` and `kid`.
 */
import { decodeJwt, type JSONWebKeySet } from 'jose';
import { verifierFor, verifyPass } from '../../functions/core/tokens.ts';
import type { PassCheck, VisitorSummary } from './invariants.ts';

/** Fetches a JWKS; throws with the address and the reason when it cannot. */
export async function fetchJwks(url: string, timeoutMs = 10_000): Promise<JSONWebKeySet> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const body = (await response.json()) as unknown;
  if (
    typeof body !== 'object' ||
    body === null ||
    !Array.isArray((body as { keys?: unknown }).keys)
  ) {
    throw new Error(`GET ${url} did not return a JWKS`);
  }
  return body as JSONWebKeySet;
}

/** The `iss` of the first pass seen, which every other pass must share. */
export function issuerOf(visitors: readonly VisitorSummary[]): string | null {
  for (const v of visitors) {
    for (const seen of v.passes) {
      try {
        const { iss } = decodeJwt(seen.pass);
        if (typeof iss === 'string') return iss;
      } catch {
        // An undecodable pass fails its own check.
      }
    }
  }
  return null;
}

/**
 * Verifies each distinct pass once. With no JWKS (it could not be fetched), every pass fails
 * with that reason: a pass that cannot be checked is not known to be good.
 */
export async function checkAllPasses(
  visitors: readonly VisitorSummary[],
  jwks: JSONWebKeySet | { error: string },
): Promise<Map<string, PassCheck>> {
  const checks = new Map<string, PassCheck>();
  const keys = 'keys' in jwks ? verifierFor(jwks) : null;
  const issuer = issuerOf(visitors);
  for (const v of visitors) {
    for (const seen of v.passes) {
      if (checks.has(seen.pass)) continue;
      if (keys === null) {
        checks.set(seen.pass, {
          valid: false,
          reason: `no JWKS (${(jwks as { error: string }).error})`,
        });
        continue;
      }
      if (issuer === null) {
        checks.set(seen.pass, { valid: false, reason: 'no pass carries an iss claim' });
        continue;
      }
      const mainOrigin = URL.canParse(seen.redirectUrl) ? new URL(seen.redirectUrl).origin : '';
      const verified = await verifyPass(keys, seen.pass, {
        roomId: issuer,
        mainOrigin,
        now: Math.floor(seen.t / 1000),
      });
      checks.set(
        seen.pass,
        verified
          ? { valid: true, reason: null }
          : {
              valid: false,
              reason: `signature, iss "${issuer}", aud "${mainOrigin}", exp or typ do not hold`,
            },
      );
    }
  }
  return checks;
}
