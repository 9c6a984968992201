/**
 * The local runtime's settings, read once from the environment at start. A bad value stops the
 * start with a message that names the variable.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as v from 'valibot';
import { parseIdentityPublicKey } from '../functions/core/identity.ts';
import { parseOriginList } from '../functions/core/origins.ts';
import {
  BrandColorSchema,
  EventLogoSchema,
  EventTextSchema,
  type PageBranding,
  RoomNameSchema,
} from '../functions/core/page-branding.ts';
import {
  DEFAULT_MAX_PLACES_PER_SOURCE,
  type SourceLimits,
  sourceLimitsFor,
} from '../functions/core/sources.ts';
import { wholeNumberSetting as integer } from '../functions/env.ts';

export interface LocalConfig {
  port: number;
  host: string;
  enabled: boolean;
  admitPerMinute: number;
  passTtlSeconds: number;
  abandonAfterSeconds: number;
  tickMs: number;
  /** Origin to proxy the main site to; null serves the demo site. */
  upstream: string | null;
  /** The origin visitors use: the main site's origin in passes and redirects. */
  publicUrl: string;
  /**
   * PKCS#8 PEM file of the signing key; null: `signing-key.pem` in the data directory, or a
   * fresh key in memory when the room keeps nothing on disk.
   */
  keyFile: string | null;
  /**
   * Where the room keeps the line, the live settings and the key (`WR_DATA_DIR`, default
   * `./data`); null: in memory only (`WR_DATA_DIR=:memory:`), lost when the process stops.
   */
  dataDir: string | null;
  /**
   * How often the server pings each socket (`WR_HEARTBEAT_SECONDS`, default 30; 0: never); a
   * socket that has not answered since the last ping is closed at the next one.
   */
  heartbeatSeconds: number;
  /**
   * Origins whose pages may open the WebSocket: `publicUrl` and `WR_ALLOWED_ORIGINS`
   * (comma-separated); an upgrade from any other page is refused.
   */
  allowedOrigins: string[];
  /**
   * What one source address may hold (`WR_MAX_PLACES_PER_SOURCE` places, default 100; the rest
   * follows from it, see `sources.ts`); null when `WR_SOURCE_LIMITS=off`.
   */
  sourceLimits: SourceLimits | null;
  /**
   * The site's public key for identity tokens (the PEM text read from
   * `WR_IDENTITY_PUBLIC_KEY_FILE`), or its key set (`WR_IDENTITY_JWKS_URL`); both null: places
   * are not tied to people. `identityRequired` (`WR_IDENTITY_REQUIRED`) refuses a join without one.
   */
  identityPublicKeyPem: string | null;
  identityJwksUrl: string | null;
  identityRequired: boolean;
  roomId: string;
  /**
   * The organiser's branding of the waiting-room page, published in its `config.json`:
   * `WR_EVENT_NAME`, `WR_EVENT_TEXT`, `WR_EVENT_LOGO`, `WR_BRAND_COLOR`.
   */
  branding: PageBranding;
  /** Messages per second the processor may spend on position updates. */
  positionBudgetPerSecond: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

const boolean = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.picklist(['true', 'false', '1', '0', 'on', 'off'], 'must be true or false'),
  v.transform((s) => s === 'true' || s === '1' || s === 'on'),
);

const origin = v.pipe(
  v.string(),
  v.trim(),
  v.url('must be an absolute URL such as http://localhost:8080'),
  v.check(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol),
    'must be an http or https URL',
  ),
  v.check((s) => {
    if (!URL.canParse(s)) return false;
    const url = new URL(s);
    return url.pathname === '/' && !url.search && !url.hash && !url.username;
  }, 'must be an origin only (scheme, host and port; no path, query or credentials)'),
  v.transform((s) => new URL(s).origin),
);

const roomId = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes'),
);

/** Schema per variable, with its default (applied when the variable is unset or empty). */
const variables = {
  PORT: { schema: integer(0, 65535), fallback: '8080' },
  HOST: { schema: v.pipe(v.string(), v.trim(), v.minLength(1)), fallback: '0.0.0.0' },
  WR_ENABLED: { schema: boolean, fallback: 'true' },
  WR_ADMIT_PER_MINUTE: { schema: integer(0, 1_000_000), fallback: '60' },
  WR_PASS_TTL_SECONDS: { schema: integer(30, 7 * 24 * 3600), fallback: '1200' },
  WR_ABANDON_AFTER_SECONDS: { schema: integer(1, 24 * 3600), fallback: '120' },
  WR_TICK_MS: { schema: integer(50, 60_000), fallback: '1000' },
  WR_ROOM_ID: { schema: roomId, fallback: 'waiting-room' },
  WR_POSITION_BUDGET_PER_SECOND: { schema: integer(1, 1_000_000), fallback: '5000' },
  WR_HEARTBEAT_SECONDS: { schema: integer(0, 540), fallback: '30' },
  WR_MAX_PLACES_PER_SOURCE: {
    schema: integer(1, 1_000_000),
    fallback: String(DEFAULT_MAX_PLACES_PER_SOURCE),
  },
  WR_SOURCE_LIMITS: { schema: boolean, fallback: 'on' },
  WR_IDENTITY_REQUIRED: { schema: boolean, fallback: 'false' },
  WR_EVENT_TEXT: { schema: EventTextSchema, fallback: '' },
  WR_EVENT_LOGO: { schema: EventLogoSchema, fallback: '' },
  WR_BRAND_COLOR: { schema: BrandColorSchema, fallback: '' },
} as const;

/** The event of the demo main site (local/demo-site.ts), named when no upstream is guarded. */
export const DEMO_EVENT_NAME = 'Aurora Live';

function read<K extends keyof typeof variables>(
  env: NodeJS.ProcessEnv,
  name: K,
): v.InferOutput<(typeof variables)[K]['schema']> {
  const { schema, fallback } = variables[name];
  const raw = env[name]?.trim() ? (env[name] as string) : fallback;
  return parseSetting(name, schema as v.GenericSchema<string, unknown>, raw) as v.InferOutput<
    (typeof variables)[K]['schema']
  >;
}

/** `raw` through `schema`, or a {@link ConfigError} naming `name` and (the start of) the value. */
function parseSetting<T>(name: string, schema: v.GenericSchema<string, T>, raw: string): T {
  const result = v.safeParse(schema, raw);
  if (!result.success) {
    throw new ConfigError(name, `${result.issues[0]?.message ?? 'invalid'} (got "${quoted(raw)}")`);
  }
  return result.output;
}

/**
 * `WR_EVENT_NAME`; unset: the demo site's event when the room serves the demo site, and no name
 * (the page says "Waiting room" in the visitor's language) when it guards a real upstream, whose
 * visitors must never see the demo's name.
 */
function readEventName(env: NodeJS.ProcessEnv, upstream: string | null): string {
  const raw = env.WR_EVENT_NAME;
  if (raw === undefined || raw.trim() === '') return upstream ? '' : DEMO_EVENT_NAME;
  return parseSetting('WR_EVENT_NAME', RoomNameSchema, raw);
}

function readOrigin(env: NodeJS.ProcessEnv, name: string): string | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  return parseSetting(name, origin, raw);
}

/** A value as an error message shows it: a long one (an inline logo) cut short. */
function quoted(raw: string): string {
  return raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
}

/** The value of `WR_DATA_DIR` that keeps the room in memory only. */
export const IN_MEMORY = ':memory:';
export const DEFAULT_DATA_DIR = 'data';

/** The data directory `WR_DATA_DIR` names (null: `:memory:`), as the room and `npm run room` read it. */
export function readDataDir(env: NodeJS.ProcessEnv): string | null {
  const raw = env.WR_DATA_DIR?.trim() || DEFAULT_DATA_DIR;
  if (raw === IN_MEMORY) return null;
  if (raw.includes('\0')) throw new ConfigError('WR_DATA_DIR', 'must be a directory path');
  return resolve(raw);
}

/** The identity token settings: a key from a file, or a key set's URL, not both. */
function readIdentity(
  env: NodeJS.ProcessEnv,
): Pick<LocalConfig, 'identityPublicKeyPem' | 'identityJwksUrl' | 'identityRequired'> {
  const file = env.WR_IDENTITY_PUBLIC_KEY_FILE?.trim() || null;
  const url = env.WR_IDENTITY_JWKS_URL?.trim() || null;
  const required = read(env, 'WR_IDENTITY_REQUIRED');
  if (file && url) {
    throw new ConfigError(
      'WR_IDENTITY_JWKS_URL',
      'set either WR_IDENTITY_PUBLIC_KEY_FILE or WR_IDENTITY_JWKS_URL, not both',
    );
  }
  let pem: string | null = null;
  if (file) {
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        'WR_IDENTITY_PUBLIC_KEY_FILE',
        `cannot read ${file}: ${(error as Error).message}`,
      );
    }
    try {
      parseIdentityPublicKey(pem);
    } catch (error) {
      throw new ConfigError('WR_IDENTITY_PUBLIC_KEY_FILE', `${file} ${(error as Error).message}`);
    }
  }
  if (url) parseSetting('WR_IDENTITY_JWKS_URL', identityJwksUrl, url);
  if (required && !pem && !url) {
    throw new ConfigError(
      'WR_IDENTITY_REQUIRED',
      "needs the site's key: set WR_IDENTITY_PUBLIC_KEY_FILE or WR_IDENTITY_JWKS_URL",
    );
  }
  return { identityPublicKeyPem: pem, identityJwksUrl: url, identityRequired: required };
}

/** A key set's URL: https, or http on a loopback host (a site running beside the room). */
const identityJwksUrl = v.pipe(
  v.string(),
  v.check((s) => {
    if (!URL.canParse(s)) return false;
    const url = new URL(s);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && /^(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])$/.test(url.hostname))
    );
  }, 'must be an https URL (http only on a loopback host)'),
);

/** Reads and validates every setting; throws {@link ConfigError} naming the first bad one. */
export function readLocalConfig(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const port = read(env, 'PORT');
  const upstream = readOrigin(env, 'WR_UPSTREAM');
  const publicUrl = readOrigin(env, 'WR_PUBLIC_URL') ?? `http://localhost:${port}`;
  let extraOrigins: string[];
  try {
    extraOrigins = parseOriginList(env.WR_ALLOWED_ORIGINS ?? '');
  } catch (error) {
    throw new ConfigError('WR_ALLOWED_ORIGINS', (error as Error).message);
  }
  return {
    port,
    host: read(env, 'HOST'),
    enabled: read(env, 'WR_ENABLED'),
    admitPerMinute: read(env, 'WR_ADMIT_PER_MINUTE'),
    passTtlSeconds: read(env, 'WR_PASS_TTL_SECONDS'),
    abandonAfterSeconds: read(env, 'WR_ABANDON_AFTER_SECONDS'),
    tickMs: read(env, 'WR_TICK_MS'),
    upstream,
    publicUrl,
    allowedOrigins: [...new Set([publicUrl, ...extraOrigins])],
    keyFile: env.WR_KEY_FILE?.trim() || null,
    dataDir: readDataDir(env),
    heartbeatSeconds: read(env, 'WR_HEARTBEAT_SECONDS'),
    sourceLimits: read(env, 'WR_SOURCE_LIMITS')
      ? sourceLimitsFor(read(env, 'WR_MAX_PLACES_PER_SOURCE'))
      : null,
    ...readIdentity(env),
    roomId: read(env, 'WR_ROOM_ID'),
    branding: {
      roomName: readEventName(env, upstream),
      eventText: read(env, 'WR_EVENT_TEXT'),
      eventLogo: read(env, 'WR_EVENT_LOGO'),
      brandColor: read(env, 'WR_BRAND_COLOR'),
    },
    positionBudgetPerSecond: read(env, 'WR_POSITION_BUDGET_PER_SECOND'),
  };
}
