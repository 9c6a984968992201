/**
 * The gate in front of the main site: one pure decision per request, shared by the Lambda@Edge
 * viewer-request function ({@link ./cloudfront.ts}) and the local runtime's middleware
 * ({@link ./node-gate.ts}). It does no I/O of its own: the caller reads the on/off flag and hands
 * in a pass verifier, so the rules below can be tested without a network or a clock.
 */
import { decodeJwt } from 'jose';
import * as v from 'valibot';
import { mainSiteUrl, safeReturnPath } from '../functions/core/return-path.ts';
import {
  isCompactToken,
  type VerifiedPass,
  type VerifyKeys,
  verifyPass,
} from '../functions/core/tokens.ts';
import { cachePassChecks, DEFAULT_PASS_CACHE_SIZE, type PassCheck } from './pass-cache.ts';
import { cookieValues, takeQueryParam } from './request-parts.ts';

/** Name of the pass cookie and of the query parameter the waiting room sends the pass in. */
export const PASS_PARAM = 'wr_pass';

/** The query parameter of the waiting-room page that carries the path to go back to. */
export const RETURN_PARAM = 'return';

/** Seconds a refused non-GET request is told to wait before retrying (`Retry-After`). */
export const DENY_RETRY_AFTER_SECONDS = 30;

/**
 * How many `wr_pass` values are checked at most in the cookie, and again in the query. Browsers
 * send one; a few cover stale duplicates under other paths, and the cap keeps a header stuffed
 * with thousands of them from costing thousands of signature checks.
 */
export const MAX_PASS_CANDIDATES = 4;

// Dot segments (also `..;` that Java servers read as `..`), encoded dots and slashes, backslashes
// and double slashes: a path holding any of them might name something else at the origin than it
// seems to here, so it is never matched against the ungated prefixes (nor is one with a control
// character, see hasControlCharacter).
const AMBIGUOUS_PATH = /\\|\/\/|%2e|%2f|%5c|(^|\/)\.\.?(\/|;|$)/i;

/** A non-empty string setting. */
export const nonEmpty = v.pipe(v.string(), v.minLength(1));

/**
 * The longest pass lifetime a gate config takes: a week, the most `WR_PASS_TTL_SECONDS` allows
 * (the CDK app allows 20 minutes). A bound at all so that milliseconds given for seconds fail.
 */
export const MAX_PASS_TTL_SECONDS = 7 * 24 * 3600;

/** The lifetime of the room's passes, in whole seconds. Shared with the edge config. */
export const PassTtlSchema = v.pipe(
  v.number(),
  v.integer(),
  v.minValue(1),
  v.maxValue(MAX_PASS_TTL_SECONDS),
);

/** Exactly an origin: scheme, host and optional port. Shared with the edge config. */
export const OriginSchema = v.pipe(
  v.string(),
  v.check(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol) && new URL(s).origin === s,
    'must be an origin such as https://shop.example.com (scheme, host, optional port, no path)',
  ),
);

const HttpUrlSchema = v.pipe(
  v.string(),
  v.check(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol),
    'must be an absolute http(s) URL',
  ),
);

/** valibot schema of {@link GateConfig}; see {@link parseGateConfig}. */
export const GateConfigSchema = v.pipe(
  v.object({
    roomId: nonEmpty,
    mainOrigin: OriginSchema,
    waitingRoomUrl: HttpUrlSchema,
    ungatedPaths: v.array(v.pipe(v.string(), v.startsWith('/', 'must start with /'))),
    defaultEnabled: v.boolean(),
    flagTtlMs: v.pipe(v.number(), v.integer(), v.minValue(0)),
    passTtlSeconds: PassTtlSchema,
  }),
  v.check(
    (c) => !waitingRoomIsGated(c),
    'waitingRoomUrl is on mainOrigin but its path is not in ungatedPaths: every visitor would loop',
  ),
);

/** Everything the gate needs to know about the room; fixed for the life of a process. */
export interface GateConfig {
  /** The room id: the `iss` of its passes. */
  roomId: string;
  /** The main site's origin (`https://shop.example.com`): the `aud` of passes, and the origin of every redirect back to the main site. */
  mainOrigin: string;
  /** Absolute URL of the waiting-room page (`https://wr.example.com/`, `http://localhost:8080/waiting-room/`). */
  waitingRoomUrl: string;
  /**
   * Path prefixes never gated (`/waiting-room/`, `/ws`, `/.well-known/`, `/__room/`). A prefix
   * ending in `/` also matches the path without that slash; one that does not matches itself and
   * what lies under it (`/ws` matches `/ws` and `/ws/x`, not `/wshop`).
   */
  ungatedPaths: readonly string[];
  /** The flag's value until it has been read once (the build-time default: on). */
  defaultEnabled: boolean;
  /** How long a flag read is trusted before the next one, in milliseconds. */
  flagTtlMs: number;
  /**
   * The lifetime of the room's passes, in seconds: the one the room signs them with
   * (`WR_PASS_TTL_SECONDS` locally; on AWS the CDK setting `passTtlSeconds`, which both the
   * functions and the baked edge config get). A pass whose `exp - iat` is longer is refused.
   */
  passTtlSeconds: number;
}

/** Validates a gate config; throws an Error naming the first bad field. */
export function parseGateConfig(raw: unknown): GateConfig {
  const result = v.safeParse(GateConfigSchema, raw);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const where = issue ? v.getDotPath(issue) : null;
  throw new Error(`invalid gate config${where ? ` at ${where}` : ''}: ${issue?.message}`);
}

function waitingRoomIsGated(c: {
  mainOrigin: string;
  waitingRoomUrl: string;
  ungatedPaths: readonly string[];
}): boolean {
  if (!URL.canParse(c.waitingRoomUrl)) return false;
  const url = new URL(c.waitingRoomUrl);
  return url.origin === c.mainOrigin && !isUngatedPath(url.pathname, c.ungatedPaths);
}

/** The parts of an HTTP request that the gate looks at. */
export interface GateRequest {
  /** The HTTP method, in any case. */
  method: string;
  /** The path as the viewer sent it (not decoded), starting with `/`. */
  path: string;
  /** The raw query string without the leading `?`; empty when there is none. */
  query: string;
  /** The `Cookie` header, several of them joined with `; `; undefined when there is none. */
  cookieHeader: string | undefined;
}

export interface GateContext {
  /** Whether the room is on, as the (cached) flag says right now. */
  enabled: boolean;
  config: GateConfig;
  /** Checks a pass for this room and main site; null for anything that is not a valid pass. */
  verify: (token: string) => Promise<VerifiedPass | null>;
  /** Current time, epoch seconds. */
  now: number;
}

/** Let the request go on to the main site. */
export interface PassDecision {
  kind: 'pass';
}

/**
 * Headers of every response the gate answers itself (a redirect, a 503), added by each adapter:
 * nothing in such a response may be sniffed into something runnable, framed, or load anything.
 */
export const GENERATED_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
};

/** Answer with a redirect; `headers` are the headers besides `Location` and `Set-Cookie`. */
export interface RedirectDecision {
  kind: 'redirect';
  status: 302;
  location: string;
  setCookie?: string;
  headers: Record<string, string>;
}

/** Refuse a request that a redirect cannot serve (see {@link decideGate}). */
export interface DenyDecision {
  kind: 'deny';
  status: 503;
  headers: Record<string, string>;
  body: string;
}

export type GateDecision = PassDecision | RedirectDecision | DenyDecision;

const PASS: PassDecision = { kind: 'pass' };

/**
 * Decides what happens to one request to the main site. With the room on:
 *
 * 1. a path under one of `config.ungatedPaths` passes (checked first, whatever the flag says);
 * 2. a valid pass in cookie `wr_pass` passes; invalid ones are ignored (the first valid wins);
 * 3. a valid pass in query parameter `wr_pass` on a GET or HEAD: 302 to the same URL on the main
 *    origin without that parameter (other parameters kept, in order) and the pass set as an
 *    HttpOnly, SameSite=Lax cookie (`Secure` when the main origin is https) that lives exactly as
 *    long as the pass; `Cache-Control: no-store` and `Referrer-Policy: no-referrer` because that
 *    URL held a bearer token;
 * 4. any other GET or HEAD: 302 to the waiting-room page with `return` set to the original path
 *    and query (minus any `wr_pass`), passed through `safeReturnPath` so it can only ever name a
 *    path on the main origin;
 * 5. any other method (POST, PUT, PATCH, DELETE, OPTIONS, ...) without a valid pass: `deny`,
 *    503 Service Unavailable with `Retry-After` and `Cache-Control: no-store`.
 *
 * Both 4 and 5 add `Referrer-Policy: no-referrer` when the URL held a `wr_pass` that did not
 * verify (an expired pass is still somebody's token).
 *
 * With the room off everything passes.
 *
 * Why 5 is not a redirect: browsers follow a 302 on a POST as a GET and drop the body, so a form
 * submission would silently turn into a page load with the data lost, and a `fetch()` would
 * follow it into an HTML page it cannot read. Why 503: the condition is exactly "the origin is at
 * capacity right now, come back later" (RFC 9110 §15.6.4), `Retry-After` says when, and caches,
 * crawlers and HTTP clients all treat it as temporary; 429 would blame this client's own rate,
 * and 403 would say "never", when a pass fixes it. Hosted rooms also tell API traffic apart from
 * page navigations (Cloudflare's can answer it with JSON and a chosen status code rather than the
 * queue page). A non-GET
 * request that holds a valid pass only in its query passes (no cookie is set: only a redirect
 * could strip the pass from the URL, and a redirect would drop the body).
 */
export async function decideGate(request: GateRequest, ctx: GateContext): Promise<GateDecision> {
  const path = request.path.length > 0 ? request.path : '/';
  if (isUngatedPath(path, ctx.config.ungatedPaths) || !ctx.enabled) return PASS;

  for (const token of cookieValues(request.cookieHeader, PASS_PARAM, MAX_PASS_CANDIDATES)) {
    if (await checkPass(token, ctx)) return PASS;
  }

  const { values: queryTokens, rest } = takeQueryParam(
    request.query,
    PASS_PARAM,
    MAX_PASS_CANDIDATES,
  );
  const pathAndQuery = rest.length > 0 ? `${path}?${rest}` : path;
  const navigational = isNavigation(request.method);

  for (const token of queryTokens) {
    const pass = await checkPass(token, ctx);
    if (!pass) continue;
    if (!navigational) return PASS;
    return {
      kind: 'redirect',
      status: 302,
      location: mainSiteUrl(ctx.config.mainOrigin, pathAndQuery),
      setCookie: passCookie(token, pass.expiresAt - ctx.now, ctx.config.mainOrigin),
      headers: { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' },
    };
  }

  // The URL held something offered as a pass (expired, forged, or a good one at the wrong
  // time): whatever it is, the address it sat in must not leak through `Referer`.
  const noReferrer: Record<string, string> =
    queryTokens.length > 0 ? { 'Referrer-Policy': 'no-referrer' } : {};

  if (!navigational) {
    return {
      kind: 'deny',
      status: 503,
      headers: {
        'Cache-Control': 'no-store',
        'Retry-After': String(DENY_RETRY_AFTER_SECONDS),
        'Content-Type': 'text/plain; charset=utf-8',
        ...noReferrer,
      },
      body: `The site is busy. Open ${ctx.config.waitingRoomUrl} to wait for your turn, then retry.\n`,
    };
  }

  return {
    kind: 'redirect',
    status: 302,
    location: waitingRoomLocation(ctx.config, pathAndQuery),
    headers: { 'Cache-Control': 'no-store', ...noReferrer },
  };
}

/**
 * True when `path` is under one of the ungated prefixes. A path with dot segments, encoded dots
 * or slashes, backslashes or `//` never matches: the origin might resolve
 * `/waiting-room/../checkout` to `/checkout`, and the gate must not be walked around that way.
 */
export function isUngatedPath(path: string, prefixes: readonly string[]): boolean {
  if (!path.startsWith('/') || AMBIGUOUS_PATH.test(path) || hasControlCharacter(path)) {
    return false;
  }
  return prefixes.some((prefix) =>
    prefix.endsWith('/')
      ? path.startsWith(prefix) || path === prefix.slice(0, -1)
      : path === prefix || path.startsWith(`${prefix}/`),
  );
}

/**
 * Checks a pass as the gate takes it: everything the core's `verifyPass` checks (signature by a
 * room key, `iss`, `aud`, `exp`, `nbf`, `iat` at most the allowed clock skew ahead, `kid`, `typ`;
 * `iat` required), and a lifetime `exp - iat` of at most `passTtlSeconds`. The room signs every
 * pass with `exp = iat + passTtlSeconds` from one reading of its clock, so a longer one did not
 * come from the room as configured (a copy of its key, a signer set up wrong); taken, a pass
 * signed for ten years would open the gate for ten years. No clock-skew slack here: two claims
 * the same signer wrote differ by the same amount on every clock. Null for anything else.
 */
export async function verifyGatePass(
  keys: VerifyKeys,
  token: string,
  expected: { roomId: string; mainOrigin: string; passTtlSeconds: number; now: number },
): Promise<VerifiedPass | null> {
  const pass = await verifyPass(keys, token, expected);
  if (!pass) return null;
  try {
    // The same bytes the signature was just checked over.
    const { iat } = decodeJwt(token);
    if (typeof iat !== 'number' || !Number.isFinite(iat)) return null;
    return pass.expiresAt - iat <= expected.passTtlSeconds ? pass : null;
  } catch {
    return null;
  }
}

/**
 * The gate's pass check for one room: {@link verifyGatePass} against the room's keys, its id as
 * `iss`, the main origin as `aud` and its pass lifetime, behind a bounded cache of passes already
 * verified (see pass-cache.ts; only passes that verified, lifetime included, are kept). Create it
 * once per process or container, not per request.
 */
export function createPassCheck(
  keys: VerifyKeys,
  config: Pick<GateConfig, 'roomId' | 'mainOrigin' | 'passTtlSeconds'>,
  cacheSize = DEFAULT_PASS_CACHE_SIZE,
): PassCheck {
  const { roomId, mainOrigin, passTtlSeconds } = config;
  return cachePassChecks(
    (token, now) => verifyGatePass(keys, token, { roomId, mainOrigin, passTtlSeconds, now }),
    cacheSize,
  );
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function isNavigation(method: string): boolean {
  const upper = method.toUpperCase();
  return upper === 'GET' || upper === 'HEAD';
}

async function checkPass(token: string, ctx: GateContext): Promise<VerifiedPass | null> {
  // The gate copies a query pass into `Set-Cookie`: whatever verifier it is handed, only the
  // exact compact-JWS shape is safe to reflect into a header.
  if (!isCompactToken(token)) return null;
  try {
    const pass = await ctx.verify(token);
    // The verifier already checks `exp`; checking again keeps Max-Age positive whatever it does.
    return pass && pass.expiresAt > ctx.now ? pass : null;
  } catch {
    // A verifier that throws is treated like one that says no: the gate itself never throws.
    return null;
  }
}

function passCookie(token: string, secondsLeft: number, mainOrigin: string): string {
  const secure = mainOrigin.startsWith('https:') ? '; Secure' : '';
  return `${PASS_PARAM}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, secondsLeft)}${secure}`;
}

function waitingRoomLocation(config: GateConfig, pathAndQuery: string): string {
  const url = new URL(config.waitingRoomUrl);
  url.searchParams.set(RETURN_PARAM, safeReturnPath(pathAndQuery, config.mainOrigin));
  return url.toString();
}
