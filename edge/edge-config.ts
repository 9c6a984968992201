/**
 * What the Lambda@Edge gate is built with. Lambda@Edge has no environment variables, so this is
 * baked into the bundle at deploy time (see {@link ./build.ts}) and checked again at cold start.
 *
 * Two forms, and anything between them:
 *
 * - **same-origin** (what the CDK app bakes): no `mainOrigin`, and the waiting-room page, the flag
 *   and the key set given as paths (`/waiting-room/`, `/__room/flag.json`, `jwksUrl:
 *   "/.well-known/jwks.json"`). The gate takes the main site's origin from each request's `Host`
 *   and reads the flag and the keys from that origin at run time, so nothing in the bundle depends
 *   on a deploy: no distribution domain, no key.
 * - **fully baked**: `mainOrigin`, absolute URLs and the public keys themselves in `jwks`.
 *
 * Exactly one of `jwks` and `jwksUrl` is given. {@link resolveForOrigin} turns either form into
 * the {@link GateConfig} of one origin.
 */
import type { JSONWebKeySet } from 'jose';
import * as v from 'valibot';
import {
  type GateConfig,
  isUngatedPath,
  nonEmpty,
  OriginSchema,
  PassTtlSchema,
  parseGateConfig,
} from './gate.ts';
import { PublicJwksSchema } from './jwks-document.ts';

/** Where the waiting-room page is when `gate.waitingRoomUrl` is not given. */
export const DEFAULT_WAITING_ROOM_PATH = '/waiting-room/';

// Plain http only to the machine itself, so that a bundle can be run in a test without a network.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

// Any origin will do to ask the URL parser whether a path stays a path.
const PROBE_ORIGIN = 'https://origin.invalid';

/**
 * True for a path on whatever origin it is resolved against: starts with one `/`, and holds no
 * backslash or control character that a URL parser could turn into another host.
 */
export function isOriginPath(s: string): boolean {
  if (!s.startsWith('/') || s.startsWith('//') || s.includes('\\') || CONTROL.test(s)) return false;
  return URL.canParse(s, PROBE_ORIGIN) && new URL(s, PROBE_ORIGIN).origin === PROBE_ORIGIN;
}

function isFetchableUrl(s: string): boolean {
  if (!URL.canParse(s)) return false;
  const url = new URL(s);
  return (
    url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))
  );
}

const PageUrlSchema = v.pipe(
  v.string(),
  v.check(
    (s) => isOriginPath(s) || (URL.canParse(s) && /^https?:$/.test(new URL(s).protocol)),
    'must be a path such as /waiting-room/ or an absolute http(s) URL',
  ),
);

/** Where the gate reads a document from: a path on the main site, or an absolute URL. */
const FetchUrlSchema = v.pipe(
  v.string(),
  v.check(
    (s) => isOriginPath(s) || isFetchableUrl(s),
    'must be a path such as /__room/flag.json or an absolute https URL (http only to a loopback host)',
  ),
);

const EdgeGateSchema = v.object({
  roomId: nonEmpty,
  mainOrigin: v.optional(OriginSchema),
  waitingRoomUrl: v.optional(PageUrlSchema),
  ungatedPaths: v.array(v.pipe(v.string(), v.startsWith('/', 'must start with /'))),
  defaultEnabled: v.boolean(),
  flagTtlMs: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** The lifetime the room signs its passes with; a pass that claims a longer one is refused. */
  passTtlSeconds: PassTtlSchema,
});

const SELF_READ_GATED =
  'is a path on the main site but not under gate.ungatedPaths: the gate reads it through its own distribution, and would send its own read to the waiting room';

const EdgeConfigSchema = v.pipe(
  v.object({
    gate: EdgeGateSchema,
    /** The room's public keys, baked in; the private key never reaches the edge. */
    jwks: v.optional(PublicJwksSchema),
    /** Where the gate reads the room's public keys (a JWKS) at run time. */
    jwksUrl: v.optional(FetchUrlSchema),
    /** Where the flag document `{ "enabled": boolean }` is read from. */
    flagUrl: FetchUrlSchema,
  }),
  v.check(
    (c) => (c.jwks === undefined) !== (c.jwksUrl === undefined),
    'give exactly one of jwks (the public keys, baked in) and jwksUrl (where the gate reads them at run time)',
  ),
  v.forward(
    v.check((c) => !isGatedPath(c.gate, c.flagUrl), `flagUrl ${SELF_READ_GATED}`),
    ['flagUrl'],
  ),
  v.forward(
    v.check(
      (c) => c.jwksUrl === undefined || !isGatedPath(c.gate, c.jwksUrl),
      `jwksUrl ${SELF_READ_GATED}`,
    ),
    ['jwksUrl'],
  ),
  v.forward(
    v.check(
      (c) => !isGatedPath(c.gate, c.gate.waitingRoomUrl ?? DEFAULT_WAITING_ROOM_PATH),
      'the waiting-room page is a path on the main site but not under ungatedPaths: every visitor would loop',
    ),
    ['gate', 'waitingRoomUrl'],
  ),
);

/** The `gate` part of an {@link EdgeConfig}: a {@link GateConfig} whose origin may come later. */
export interface EdgeGateConfig extends Omit<GateConfig, 'mainOrigin' | 'waitingRoomUrl'> {
  /** The main site's origin; absent: the origin of each request (`https://` + its `Host`). */
  mainOrigin?: string;
  /** The waiting-room page: an absolute URL, or a path on the main site; @default '/waiting-room/' */
  waitingRoomUrl?: string;
}

interface EdgeConfigBase {
  gate: EdgeGateConfig;
  /** Where the flag document `{ "enabled": boolean }` is read: an absolute URL or a path. */
  flagUrl: string;
}

/** The room's public keys baked in. */
interface BakedKeys {
  jwks: JSONWebKeySet;
  jwksUrl?: undefined;
}

/** The room's public keys read at run time, from an absolute URL or a path on the main site. */
interface FetchedKeys {
  jwksUrl: string;
  jwks?: undefined;
}

export type EdgeConfig = EdgeConfigBase & (BakedKeys | FetchedKeys);

/** Everything the gate needs for one origin of the main site, every URL absolute. */
export interface OriginConfig {
  gate: GateConfig;
  flagUrl: string;
  /** Undefined when the keys are baked in. */
  jwksUrl: string | undefined;
}

/** Validates an edge config; throws an Error naming the first bad field. */
export function parseEdgeConfig(raw: unknown): EdgeConfig {
  const result = v.safeParse(EdgeConfigSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue ? v.getDotPath(issue) : null;
    throw new Error(`invalid edge config${where ? ` at ${where}` : ''}: ${issue?.message}`);
  }
  const config = result.output as EdgeConfig;
  if (config.gate.mainOrigin !== undefined) {
    // With the origin known, the gate's own rules (an absolute waitingRoomUrl on mainOrigin must be
    // ungated, too) can be checked now rather than at the first request.
    try {
      resolveForOrigin(config, config.gate.mainOrigin);
    } catch (error) {
      throw new Error(`invalid edge config at gate: ${(error as Error).message}`);
    }
  }
  return config;
}

/**
 * The config of the gate on `origin`: `config.gate.mainOrigin` when it is given, else the origin
 * of a request. Paths (waiting-room page, flag, key set) are resolved against it, and the result
 * is checked by `parseGateConfig`, which throws on a config that cannot work.
 */
export function resolveForOrigin(config: EdgeConfig, origin: string): OriginConfig {
  const { roomId, ungatedPaths, defaultEnabled, flagTtlMs, passTtlSeconds } = config.gate;
  const waitingRoomUrl = config.gate.waitingRoomUrl ?? DEFAULT_WAITING_ROOM_PATH;
  return {
    gate: parseGateConfig({
      roomId,
      mainOrigin: origin,
      waitingRoomUrl: new URL(waitingRoomUrl, origin).href,
      ungatedPaths,
      defaultEnabled,
      flagTtlMs,
      passTtlSeconds,
    }),
    flagUrl: new URL(config.flagUrl, origin).href,
    jwksUrl: config.jwksUrl === undefined ? undefined : new URL(config.jwksUrl, origin).href,
  };
}

/**
 * Whether `url` is a path that the gate gates. A path is read from the main site itself, through
 * the distribution the gate runs on; an absolute URL may well be served elsewhere.
 */
function isGatedPath(gate: { ungatedPaths: readonly string[] }, url: string): boolean {
  return (
    isOriginPath(url) && !isUngatedPath(new URL(url, PROBE_ORIGIN).pathname, gate.ungatedPaths)
  );
}
