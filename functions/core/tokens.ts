/**
 * Passes and resume tickets: ES256 JWTs signed with the current key of the room's key ring
 * (`key-ring.ts`); tickets verify with any key of the ring, by `kid`.
 *
 * A pass lets a visitor through the gate: `aud` is the main site's origin. A ticket lets a browser
 * take its place back: `aud` is {@link ticketAudience} of the room, and its header `typ` differs
 * too, so neither can ever stand in for the other.
 */

import { randomUUID } from 'node:crypto';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importPKCS8,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { type KeyRing, liveKeys, mapKeyRing } from './key-ring.ts';
import type { Signer } from './ports.ts';
import { checkTicketsOnBudget } from './ticket-checks.ts';

export const PASS_ALG = 'ES256';
const PASS_TYP = 'JWT';
const TICKET_TYP = 'wr-ticket+jwt';
/** Longest token the verifiers look at; a pass is about 400 bytes. */
export const MAX_TOKEN_LENGTH = 2048;
/**
 * How far in the future a token's `iat` may lie and still be taken: the clocks of the processor
 * that signs and of the gate that checks (another machine, an edge location) drift apart a
 * little, never by minutes. A token issued further ahead was not issued by a healthy room: it
 * would otherwise stay good for its whole lifetime counted from a time that has not come yet.
 */
export const MAX_CLOCK_SKEW_SECONDS = 60;

/** The private half of the room key, and its public half as published in the JWKS. */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** The audience of resume tickets: never a URL, so it can never equal a main-site origin. */
export function ticketAudience(roomId: string): string {
  return `urn:waiting-room:${roomId}:ticket`;
}

/** Creates a new P-256 key (extractable, so it can be saved as PKCS#8). */
export async function generateSigningKey(): Promise<SigningKey & { pkcs8: string }> {
  const { privateKey } = await generateKeyPair(PASS_ALG, { extractable: true });
  return { ...(await describeKey(privateKey)), pkcs8: await exportPKCS8(privateKey) };
}

/** Loads a PKCS#8 PEM P-256 private key. */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  return describeKey(await importPKCS8(pem, PASS_ALG, { extractable: true }));
}

/** Derives the public JWK and a stable `kid` (its RFC 7638 thumbprint) from a private key. */
async function describeKey(privateKey: CryptoKey): Promise<SigningKey> {
  const jwk = await exportJWK(privateKey);
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) {
    throw new Error('the key is not a P-256 (ES256) private key');
  }
  const bare: JWK = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  const kid = await calculateJwkThumbprint(bare, 'sha256');
  return { kid, privateKey, publicJwk: { ...bare, kid, use: 'sig', alg: PASS_ALG } };
}

/** A stored ring (PEMs) with every key imported; each keeps its PEM. */
export function importKeyRing(
  ring: KeyRing<string>,
): Promise<KeyRing<SigningKey & { pkcs8: string }>> {
  return mapKeyRing(ring, async (pem) => ({ ...(await importSigningKey(pem)), pkcs8: pem }));
}

/** The JWKS of a ring at `now`: current, next, and retired keys within their keep time. */
export function jwksOfRing(
  ring: KeyRing<SigningKey>,
  now: number,
  keepSeconds: number,
): JSONWebKeySet {
  return jwksOf(liveKeys(ring, now, keepSeconds));
}

/** The public JWKS that origins and the gate verify passes with. */
export function jwksOf(keys: readonly SigningKey[]): JSONWebKeySet {
  return { keys: keys.map((k) => k.publicJwk) };
}

export interface PassClaims {
  roomId: string;
  mainOrigin: string;
  sessionId: string;
  issuedAt: number;
  ttlSeconds: number;
  jti: string;
}

/** Signs a pass: `iss` room id, `aud` main-site origin, `sub` session, `exp` = `iat` + TTL. */
export function signPass(key: SigningKey, c: PassClaims): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: PASS_ALG, kid: key.kid, typ: PASS_TYP })
    .setIssuer(c.roomId)
    .setAudience(c.mainOrigin)
    .setSubject(c.sessionId)
    .setIssuedAt(c.issuedAt)
    .setExpirationTime(c.issuedAt + c.ttlSeconds)
    .setJti(c.jti)
    .sign(key.privateKey);
}

export interface TicketClaims {
  roomId: string;
  sessionId: string;
  issuedAt: number;
  ttlSeconds: number;
}

/** Signs a resume ticket for one session of one room. */
export function signTicket(key: SigningKey, c: TicketClaims): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: PASS_ALG, kid: key.kid, typ: TICKET_TYP })
    .setIssuer(c.roomId)
    .setAudience(ticketAudience(c.roomId))
    .setSubject(c.sessionId)
    .setIssuedAt(c.issuedAt)
    .setExpirationTime(c.issuedAt + c.ttlSeconds)
    .sign(key.privateKey);
}

// A compact JWS: three base64url segments. jose decodes with `atob`, which skips whitespace, so
// a token with spaces or CR/LF inside would otherwise still verify; only this exact shape is
// ever accepted (and so ever reflected into a header by the gate).
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Whether `token` has the exact shape of a compact JWS and is not longer than any of ours. */
export function isCompactToken(token: string): boolean {
  return token.length > 0 && token.length <= MAX_TOKEN_LENGTH && COMPACT_JWS.test(token);
}

export type VerifyKeys = ReturnType<typeof createLocalJWKSet>;

/** Builds the key lookup that {@link verifyPass} and {@link verifyTicket} take. */
export function verifierFor(jwks: JSONWebKeySet): VerifyKeys {
  return createLocalJWKSet(jwks);
}

/**
 * A key lookup over a JWKS that may change (a key rotation): `read` is asked at each
 * verification, and the lookup is rebuilt only when it returns another object.
 */
export function liveVerifierFor(read: () => { keys: object[] }): VerifyKeys {
  let last: { jwks: object; keys: VerifyKeys } | undefined;
  const keys = (): VerifyKeys => {
    const jwks = read();
    if (last?.jwks !== jwks) last = { jwks, keys: verifierFor(jwks as JSONWebKeySet) };
    return last.keys;
  };
  return Object.assign((...args: Parameters<VerifyKeys>) => keys()(...args), {
    jwks: () => keys().jwks(),
  });
}

export interface VerifiedPass {
  sessionId: string;
  expiresAt: number;
  jti: string;
}

/**
 * Checks a pass: signature by a room key (ES256 only), `iss`, `aud`, `exp`, `nbf` if present,
 * `iat` no more than {@link MAX_CLOCK_SKEW_SECONDS} ahead, a `kid`, and `typ`. Returns
 * null for anything else, whatever the reason: the gate treats every bad pass the same way.
 */
export async function verifyPass(
  keys: VerifyKeys,
  token: string,
  expected: { roomId: string; mainOrigin: string; now: number },
): Promise<VerifiedPass | null> {
  if (!isCompactToken(token)) return null;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      algorithms: [PASS_ALG],
      issuer: expected.roomId,
      audience: expected.mainOrigin,
      typ: PASS_TYP,
      currentDate: new Date(expected.now * 1000),
      requiredClaims: ['sub', 'exp', 'iat', 'jti'],
    });
    if (!protectedHeader.kid || issuedInFuture(payload, expected.now)) return null;
    return toVerified(payload);
  } catch {
    return null;
  }
}

/**
 * Whether `iat` lies beyond the allowed clock skew ahead of `now`. jose checks `exp` and `nbf`
 * but looks at `iat` only together with a maximum age, which a pass does not have.
 */
function issuedInFuture(payload: JWTPayload, now: number): boolean {
  return typeof payload.iat === 'number' && payload.iat > now + MAX_CLOCK_SKEW_SECONDS;
}

function toVerified(payload: JWTPayload): VerifiedPass | null {
  if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return null;
  return { sessionId: payload.sub, expiresAt: payload.exp, jti: String(payload.jti) };
}

/** Checks a resume ticket of this room and returns its session id, or null. */
export async function verifyTicket(
  keys: VerifyKeys,
  token: string,
  expected: { roomId: string; now: number },
): Promise<string | null> {
  if (!isCompactToken(token)) return null;
  try {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: [PASS_ALG],
      issuer: expected.roomId,
      audience: ticketAudience(expected.roomId),
      typ: TICKET_TYP,
      currentDate: new Date(expected.now * 1000),
      requiredClaims: ['sub', 'exp'],
    });
    if (issuedInFuture(payload, expected.now)) return null;
    return typeof payload.sub === 'string' ? payload.sub : null;
  } catch {
    return null;
  }
}

/** How long a resume ticket stays good: longer than any sensible wait in line. */
export const TICKET_TTL_SECONDS = 48 * 3600;

/** The keys a signer works with at one moment: one signs, all of them verify tickets. */
export interface SignerKeys {
  /** Signs every new pass and ticket. */
  current: SigningKey;
  /** Every key a ticket of this room may carry (current included), picked by `kid`. */
  verify: VerifyKeys;
  kids: ReadonlySet<string>;
}

/** {@link SignerKeys} of a ring: `current` signs, every key in `all` (and current) verifies. */
export function signerKeysOf(current: SigningKey, all: readonly SigningKey[] = []): SignerKeys {
  const keys = [current, ...all.filter((k) => k.kid !== current.kid)];
  return { current, verify: verifierFor(jwksOf(keys)), kids: new Set(keys.map((k) => k.kid)) };
}

/** A ring's {@link SignerKeys} at `now`: current signs, every live key verifies tickets. */
export function signerKeysOfRing(
  ring: KeyRing<SigningKey>,
  now: number,
  keepSeconds: number,
): SignerKeys {
  return signerKeysOf(ring.current.key, liveKeys(ring, now, keepSeconds));
}

/** Where a signer gets its keys: fixed, or a ring that rotates while the signer lives. */
export interface SignerKeySource {
  get(): SignerKeys | Promise<SignerKeys>;
  /**
   * Asked when a ticket names a `kid` the keys from {@link get} do not hold: the ring may have
   * rotated since they were read. Resolves the keys to check with (read again, or the same
   * when a read is not due); the source decides how often it really reads.
   */
  refresh?(): Promise<SignerKeys>;
}

interface SignerSettings {
  roomId: string;
  mainOrigin: string;
  passTtlSeconds: number;
  ticketTtlSeconds?: number;
}

export type SignerOptions = SignerSettings & ({ key: SigningKey } | { keys: SignerKeySource });

/**
 * The core's {@link Signer}: signs with the current key of its source, verifies tickets with
 * every key the source holds (by `kid`). One signer lives through rotations, so its memory of
 * checked tickets and its budget of failed checks ({@link checkTicketsOnBudget}) do too.
 */
export function createSigner(options: SignerOptions): Signer {
  const { roomId, mainOrigin, passTtlSeconds } = options;
  const ticketTtlSeconds = options.ticketTtlSeconds ?? TICKET_TTL_SECONDS;
  const source: SignerKeySource =
    'key' in options
      ? ((fixed) => ({ get: () => fixed }))(signerKeysOf(options.key))
      : options.keys;
  const seconds = (ms: number) => Math.floor(ms / 1000);
  return {
    async issuePass(sessionId, now) {
      const { current } = await source.get();
      const issuedAt = seconds(now);
      const token = await signPass(current, {
        roomId,
        mainOrigin,
        sessionId,
        issuedAt,
        ttlSeconds: passTtlSeconds,
        jti: randomUUID(),
      });
      return { token, expiresAt: issuedAt + passTtlSeconds };
    },
    async issueTicket(sessionId, now) {
      const { current } = await source.get();
      return signTicket(current, {
        roomId,
        sessionId,
        issuedAt: seconds(now),
        ttlSeconds: ticketTtlSeconds,
      });
    },
    readTicket: checkTicketsOnBudget(
      async (ticket, now) => {
        let keys = await source.get();
        if (source.refresh && !keys.kids.has(kidOf(ticket) ?? '')) keys = await source.refresh();
        return verifyTicket(keys.verify, ticket, { roomId, now: seconds(now) });
      },
      { roomId, audience: ticketAudience(roomId), typ: TICKET_TYP },
    ),
  };
}

/** The `kid` in a token's header, or null when it has none or is not a JWS. */
function kidOf(token: string): string | null {
  try {
    const { kid } = decodeProtectedHeader(token);
    return typeof kid === 'string' ? kid : null;
  } catch {
    return null;
  }
}
