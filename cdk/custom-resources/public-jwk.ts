/**
 * The room key's public half as published in the JWKS, derived with node:crypto only so that the
 * signing-key custom resource bundles small. Same shape and `kid` (the RFC 7638 thumbprint) as
 * `describeKey` in functions/core/tokens.ts, so the passes the functions sign name a key that the
 * JWKS and the gate hold.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/** A P-256 public key as a JWK, as published in `/.well-known/jwks.json`. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  use: 'sig';
  alg: 'ES256';
}

/** RFC 7638 thumbprint (SHA-256, base64url) of a P-256 public key given by its coordinates. */
export function jwkThumbprint(x: string, y: string): string {
  // RFC 7638: the required members only, in lexicographic order, no whitespace.
  const canonical = JSON.stringify({ crv: 'P-256', kty: 'EC', x, y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The public JWK of a P-256 key (private or public `KeyObject`, or a PEM of either). */
export function publicJwkOf(key: KeyObject | string): PublicJwk {
  const publicKey = createPublicKey(key);
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) {
    throw new Error('the key is not a P-256 (ES256) key');
  }
  return {
    kty: 'EC',
    crv: 'P-256',
    x: jwk.x,
    y: jwk.y,
    kid: jwkThumbprint(jwk.x, jwk.y),
    use: 'sig',
    alg: 'ES256',
  };
}
