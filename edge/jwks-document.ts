/**
 * The room's public key set (JWKS) as the gate accepts it: EC P-256 public keys only, never a
 * private one. Used to check a key set baked into the gate at build time, and one the gate reads
 * at run time from the room's `/.well-known/jwks.json`.
 */
import type { JSONWebKeySet } from 'jose';
import * as v from 'valibot';
import { fetchSmallJson } from './small-document.ts';

/** How long one read may take; a viewer request has 5 s in all, and the gate must stay fast. */
export const JWKS_READ_TIMEOUT_MS = 1500;

/** The most keys a set may hold: a room has one, two while its key is being replaced. */
export const MAX_JWKS_KEYS = 8;

// A few public keys are well under 2 KB; anything much larger is not the room's key set.
const MAX_JWKS_DOCUMENT_BYTES = 16 * 1024;

// A P-256 coordinate is 32 bytes: 43 base64url characters without padding.
const COORDINATE = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_-]{43}$/, 'must be 43 base64url characters'),
);

/** One public key; anything but the members a verifier needs is dropped. */
const PublicJwkSchema = v.pipe(
  v.looseObject({
    kty: v.literal('EC', 'must be an EC key'),
    crv: v.literal('P-256', 'must be a P-256 key'),
    x: COORDINATE,
    y: COORDINATE,
    kid: v.optional(v.pipe(v.string(), v.maxLength(128))),
    use: v.optional(v.literal('sig', 'must be a signing key')),
    alg: v.optional(v.literal('ES256', 'must be an ES256 key')),
  }),
  v.check(
    (jwk) => !('d' in jwk),
    'holds a private key ("d"): only public keys may ever reach the gate',
  ),
  v.transform(({ kty, crv, x, y, kid, use, alg }) => ({
    kty,
    crv,
    x,
    y,
    ...(kid === undefined ? {} : { kid }),
    ...(use === undefined ? {} : { use }),
    ...(alg === undefined ? {} : { alg }),
  })),
);

/** valibot schema of a key set the gate verifies passes with; see {@link parsePublicJwks}. */
export const PublicJwksSchema = v.object({
  keys: v.pipe(
    v.array(PublicJwkSchema),
    v.minLength(1, 'needs at least one public key'),
    v.maxLength(MAX_JWKS_KEYS, `holds more than ${MAX_JWKS_KEYS} keys`),
  ),
});

/** Checks a key set; throws an Error naming the first bad member. */
export function parsePublicJwks(raw: unknown, what = 'key set'): JSONWebKeySet {
  const result = v.safeParse(PublicJwksSchema, raw);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const where = issue ? v.getDotPath(issue) : null;
  throw new Error(
    `${what} is not a set of EC P-256 public keys${where ? ` at ${where}` : ''}: ${issue?.message}`,
  );
}

/**
 * Fetches the key set at `url` with global `fetch`. Rejects on a timeout, a redirect, a non-2xx
 * status, an oversized body, invalid JSON, or anything but one to {@link MAX_JWKS_KEYS} EC P-256
 * public keys (a key with a private `d` is refused outright); the key-set cache turns a rejection
 * into last-known-good.
 */
export async function readJwksDocument(
  url: string,
  timeoutMs: number = JWKS_READ_TIMEOUT_MS,
): Promise<JSONWebKeySet> {
  const document = await fetchSmallJson(url, {
    what: 'key set',
    timeoutMs,
    maxBytes: MAX_JWKS_DOCUMENT_BYTES,
  });
  return parsePublicJwks(document, `key set ${url}`);
}
