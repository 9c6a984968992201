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

/** What jose throws about a token itself (as opposed to the key set it was checked with). */
const TOKEN_ERRORS = [
  errors.JWTInvalid,
  errors.JWTExpired,
  errors.JWTClaimValidationFailed,
  errors.JWSInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JWKInvalid,
];

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
 * The site's public key for identity tokens from its PEM text (SPKI `BEGIN PUBLIC KEY`; a `\n`
 * written as two characters, as an environment variable may hold it, is a line break), checked
 * to be one it may sign ES256 or RS256 with: EC P-256, or RSA of at least 2048 bits. Only the
 * public key's own form is taken (`createPublicKey` would also derive one from a private key or
 * a certificate: a private key has no business in a setting). Throws an error saying what is
 * wrong, never echoing the text.
 */
export function parseIdentityPublicKey(pem: string): KeyObject {
  const text = pem.replaceAll('\\n', '\n').trim();
  if (!/^-----BEGIN PUBLIC KEY-----\s[\s\S]+\s-----END PUBLIC KEY-----$/.test(text)) {
    throw new Error('must be a PEM public key (-----BEGIN PUBLIC KEY-----, SPKI)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new Error('is not a readable PEM public key');
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return key;
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) return key;
  throw new Error('must be an EC P-256 or an RSA (2048 bits or more) public key');
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
        // A key set that cannot be read (down, not JSON, not a key set, too slow) is the site's
        // problem, not the visitor's: say so. A bad token is just refused.
        if (!TOKEN_ERRORS.some((kind) => error instanceof kind)) options.onKeyError?.(error);
        return null;
      }
    },
  };
}
