/**
 * One place per person. A site that knows its users hands a visitor a short-lived token it
 * signs (a JWT, ES256 or RS256: `sub` names the user, `aud` is the room id, `exp` is required),
 * and the page sends it with `join`. The room verifies it with the site's public key (a PEM, or
 * a JWKS URL) and keeps one place per `sub`: a second join of the same person, from any socket
 * or browser, is answered for the same place, which then continues on the new connection.
 *
 * The room never keeps the user's id: the place is bound to a key derived from it and the room
 * id (a SHA-256, so one site's ids are never readable in the room's data).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { errors, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { MAX_TOKEN_LENGTH } from './tokens.ts';

/** Algorithms a site may sign identity tokens with. */
export const IDENTITY_ALGORITHMS = ['ES256', 'RS256'] as const;
/** Clock drift between the site that signs and the room that checks. */
export const IDENTITY_CLOCK_TOLERANCE_SECONDS = 60;
/** Longest `sub` taken (the site's user id). */
const MAX_SUB_LENGTH = 256;

/** Checks the identity tokens of one room. */
export interface IdentityVerifier {
  /** Whether a `join` without a valid identity token is refused. */
  readonly required: boolean;
  /** The person's key for a valid token, or null for any bad, expired or foreign one. */
  verify(token: string, now: number): Promise<string | null>;
}

export interface IdentityVerifierOptions {
  roomId: string;
  /** The site's public key, or a key set looked up by the token's header (a remote JWKS). */
  key: KeyObject | CryptoKey | JWTVerifyGetKey;
  required: boolean;
  /** Told about a key set that could not be read (the token is then refused). */
  onKeyError?: (error: unknown) => void;
}

/**
 * The site's public key from its PEM (SPKI): an EC P-256 key (ES256) or an RSA key of at least
 * 2048 bits (RS256). Throws an error saying what is wrong with it (never echoing it).
 */
export function parseIdentityPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return key;
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return key;
  throw new Error('must be an EC P-256 (ES256) or an RSA key of at least 2048 bits (RS256)');
}

/** The key a person's places are bound to: never the user's id itself. */
export function identityKey(roomId: string, sub: string): string {
  return createHash('sha256').update(`${roomId}\n${sub}`).digest('base64url').slice(0, 32);
}

export function createIdentityVerifier(options: IdentityVerifierOptions): IdentityVerifier {
  const { roomId, key } = options;
  return {
    required: options.required,
    async verify(token, now) {
      if (token.length > MAX_TOKEN_LENGTH * 2) return null;
      try {
        const { payload } = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], {
          audience: roomId,
          algorithms: [...IDENTITY_ALGORITHMS],
          requiredClaims: ['sub', 'exp'],
          currentDate: new Date(now),
          clockTolerance: IDENTITY_CLOCK_TOLERANCE_SECONDS,
        });
        const sub = payload.sub;
        if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_LENGTH) return null;
        return identityKey(roomId, sub);
      } catch (error) {
        // A key set that cannot be read is the site's problem, not the visitor's: say so.
        if (
          error instanceof errors.JWKSTimeout ||
          (error instanceof errors.JOSEError && error.code === 'ERR_JWKS_INVALID')
        ) {
          options.onKeyError?.(error);
        }
        return null;
      }
    },
  };
}
