/**
 * The one list of tokens that must never open the gate, built for a given room key, room id,
 * main-site origin and time. The unit tests run it through `decideGate` and the CloudFront
 * adapter; the integration tests through the local runtime over HTTP, in the cookie and in the
 * query. A genuine pass is built the same way, so every run can show the gate does open for it.
 */
import { createHmac, createPublicKey } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';
import {
  generateSigningKey,
  MAX_CLOCK_SKEW_SECONDS,
  type SigningKey,
  signPass,
  signTicket,
} from '../../../functions/core/tokens.ts';

export interface PassTarget {
  /** The room's own key: what the gate trusts. */
  key: SigningKey;
  roomId: string;
  mainOrigin: string;
  /** The gate's "now", epoch seconds. */
  now: number;
  /** The lifetime of the room's passes (`WR_PASS_TTL_SECONDS`) the gate is configured with. */
  passTtlSeconds: number;
}

export interface HostilePass {
  name: string;
  token: string;
  /** Bytes of the token: the biggest ones are refused by the HTTP server before the gate. */
  size: number;
}

let foreignKey: Promise<SigningKey> | undefined;
/** A P-256 key that is not the room's: another room's, or an attacker's. */
export function foreignSigningKey(): Promise<SigningKey> {
  foreignKey ??= generateSigningKey();
  return foreignKey;
}

/** A pass exactly as the room issues it: the control that shows the gate can open. */
export function genuinePass(t: PassTarget, sessionId = 'genuine-visitor'): Promise<string> {
  return signPass(t.key, {
    roomId: t.roomId,
    mainOrigin: t.mainOrigin,
    sessionId,
    issuedAt: t.now - 10,
    ttlSeconds: t.passTtlSeconds,
    jti: 'genuine-jti',
  });
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token signed with `key` (the room's unless told) with any header and claims. */
function signWith(
  key: SigningKey,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: key.kid, ...header })
    .sign(key.privateKey);
}

/** An HS256 token whose HMAC secret is something public (the classic algorithm confusion). */
function hmacSigned(secret: string, header: Record<string, unknown>, claims: JWTPayload): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT', ...header })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Replaces the payload of a signed token and keeps its header and signature. */
function withPayload(token: string, change: (claims: JWTPayload) => JWTPayload): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as JWTPayload;
  return `${header}.${b64(change(claims))}.${signature}`;
}

interface BuildContext extends PassTarget {
  other: SigningKey;
  claims: JWTPayload;
  genuine: string;
  publicPem: string;
}

const padded = (c: BuildContext, bytes: number) => ({ ...c.claims, pad: 'x'.repeat(bytes) });

/** The latest `exp` the gate takes for the base claims: `iat` plus the pass lifetime. */
const lifetimeEnd = (c: BuildContext) => (c.claims.iat ?? c.now) + c.passTtlSeconds;

/** The cases, in a fixed order; names are known before any key exists (for `it.each`). */
const CASES: readonly { name: string; build: (c: BuildContext) => string | Promise<string> }[] = [
  { name: 'signed by another key', build: (c) => signWith(c.other, c.claims) },
  {
    name: "signed by another key under the room key's kid",
    build: (c) => signWith(c.other, c.claims, { kid: c.key.kid }),
  },
  {
    name: 'alg none without a signature',
    build: (c) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(c.claims)}.`,
  },
  {
    name: "alg none carrying a genuine pass's signature",
    build: (c) =>
      `${b64({ alg: 'none', typ: 'JWT', kid: c.key.kid })}.${b64(c.claims)}.${c.genuine.split('.')[2]}`,
  },
  {
    name: 'HS256 with the public key (PEM) as the HMAC secret',
    build: (c) => hmacSigned(c.publicPem, { kid: c.key.kid }, c.claims),
  },
  {
    name: 'HS256 with the published JWK as the HMAC secret',
    build: (c) => hmacSigned(JSON.stringify(c.key.publicJwk), { kid: c.key.kid }, c.claims),
  },
  {
    name: 'expired a second ago',
    build: (c) =>
      signWith(c.key, { ...c.claims, iat: c.now - 1 - c.passTtlSeconds, exp: c.now - 1 }),
  },
  {
    name: 'expiring this very second',
    build: (c) => signWith(c.key, { ...c.claims, iat: c.now - c.passTtlSeconds, exp: c.now }),
  },
  {
    name: 'not valid before an hour from now (nbf)',
    build: (c) => signWith(c.key, { ...c.claims, nbf: c.now + 3600 }),
  },
  {
    name: 'issued an hour from now (iat in the future)',
    build: (c) =>
      signWith(c.key, { ...c.claims, iat: c.now + 3600, exp: c.now + 3600 + c.passTtlSeconds }),
  },
  {
    // Two seconds, not one: a check against a real clock may fall in the next second.
    name: 'issued two seconds beyond the allowed clock skew',
    build: (c) => signWith(c.key, { ...c.claims, iat: c.now + MAX_CLOCK_SKEW_SECONDS + 2 }),
  },
  {
    name: 'for another main site (aud)',
    build: (c) => signWith(c.key, { ...c.claims, aud: 'https://evil.example' }),
  },
  {
    name: 'for the main origin with a trailing slash (aud)',
    build: (c) => signWith(c.key, { ...c.claims, aud: `${c.mainOrigin}/` }),
  },
  {
    name: 'of another room (iss)',
    build: (c) => signWith(c.key, { ...c.claims, iss: 'another-room' }),
  },
  {
    name: 'a resume ticket of this room',
    build: (c) =>
      signTicket(c.key, {
        roomId: c.roomId,
        sessionId: 'attacker',
        issuedAt: c.now,
        ttlSeconds: 60,
      }),
  },
  {
    name: "with a ticket's typ header",
    build: (c) => signWith(c.key, c.claims, { typ: 'wr-ticket+jwt' }),
  },
  { name: 'without a kid', build: (c) => signWith(c.key, c.claims, { kid: undefined }) },
  {
    name: 'without exp (would never expire)',
    build: (c) => {
      const { exp: _exp, ...neverExpiring } = c.claims;
      return signWith(c.key, neverExpiring);
    },
  },
  {
    name: 'without iat (its lifetime cannot be told)',
    build: (c) => {
      const { iat: _iat, ...undated } = c.claims;
      return signWith(c.key, undated);
    },
  },
  {
    name: 'lasting a minute longer than the pass lifetime (exp - iat)',
    build: (c) => signWith(c.key, { ...c.claims, exp: lifetimeEnd(c) + 60 }),
  },
  {
    name: 'lasting ten years, signed by the room key',
    build: (c) => signWith(c.key, { ...c.claims, exp: lifetimeEnd(c) + 10 * 365 * 86400 }),
  },
  {
    name: 'a genuine pass with its payload tampered (another session)',
    build: (c) => withPayload(c.genuine, (claims) => ({ ...claims, sub: 'attacker' })),
  },
  {
    name: 'a genuine pass with its payload tampered (exp a year later)',
    build: (c) =>
      withPayload(c.genuine, (claims) => ({ ...claims, exp: (claims.exp ?? 0) + 365 * 86400 })),
  },
  {
    name: 'a genuine pass with one signature character changed',
    build: (c) =>
      `${c.genuine.slice(0, -2)}${c.genuine.at(-2) === 'A' ? 'B' : 'A'}${c.genuine.at(-1)}`,
  },
  { name: 'a genuine pass truncated by ten characters', build: (c) => c.genuine.slice(0, -10) },
  {
    name: 'a genuine pass truncated to header and payload',
    build: (c) => c.genuine.split('.').slice(0, 2).join('.'),
  },
  { name: "a genuine pass's header alone", build: (c) => c.genuine.split('.')[0] as string },
  {
    name: 'a 4 KB pass signed by the room key',
    build: (c) => signWith(c.key, padded(c, 3 * 1024)),
  },
  {
    name: 'a 64 KB pass signed by the room key',
    build: (c) => signWith(c.key, padded(c, 48 * 1024)),
  },
];

/** The names of the cases, in the order {@link hostilePasses} returns them. */
export const HOSTILE_PASS_NAMES: readonly string[] = CASES.map((c) => c.name);

/** Every token of the list, for this room key, room, main origin and time. */
export async function hostilePasses(t: PassTarget): Promise<HostilePass[]> {
  const context: BuildContext = {
    ...t,
    other: await foreignSigningKey(),
    claims: baseClaims(t),
    genuine: await genuinePass(t),
    publicPem: createPublicKey({ key: t.key.publicJwk, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString(),
  };
  return Promise.all(
    CASES.map(async ({ name, build }) => {
      const token = await build(context);
      return { name, token, size: Buffer.byteLength(token) };
    }),
  );
}

/**
 * The claims every case starts from: a pass the room could have issued ten seconds ago, lasting
 * exactly the pass lifetime. Each case changes one thing in them (or in how they are signed).
 */
function baseClaims(t: PassTarget): JWTPayload {
  return {
    iss: t.roomId,
    aud: t.mainOrigin,
    sub: 'attacker',
    iat: t.now - 10,
    exp: t.now - 10 + t.passTtlSeconds,
    jti: 'attacker-jti',
  };
}

/**
 * The base claims signed by the room key as the cases sign them: the control that shows each
 * case is refused for its own change, not for something all of them share.
 */
export function baselinePass(t: PassTarget): Promise<string> {
  return signWith(t.key, baseClaims(t));
}

/** The hostile pass of that name, from a list {@link hostilePasses} built. */
export function hostilePass(list: readonly HostilePass[], name: string): HostilePass {
  const found = list.find((h) => h.name === name);
  if (!found) throw new Error(`no hostile pass named ${name}`);
  return found;
}
