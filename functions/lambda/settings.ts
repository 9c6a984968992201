/**
 * The Lambda functions' settings, read from the environment once at cold start and validated
 * with valibot. A missing or bad variable stops the cold start with an error naming it. Each
 * entry point asks only for the settings it uses; the CDK app sets them (names in `env.ts`).
 */
import * as v from 'valibot';
import { parseIdentityPublicKey } from '../core/identity.ts';
import { parseOriginList } from '../core/origins.ts';
import { DEFAULT_MAX_PLACES_PER_SOURCE } from '../core/sources.ts';
import { Env, wholeNumberSetting as integer } from '../env.ts';

export class SettingsError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'SettingsError';
  }
}

const text = v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty'));

/** 127.0.0.0/8, localhost and [::1]: where `npm run start:aws-local` serves its stand-ins. */
const LOOPBACK_HOST = /^(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])$/;

/**
 * An https URL; plain http only on a loopback host, where start:aws-local's stand-in of the
 * management API listen (a deployed function always gets https).
 */
const httpsUrl = (what: string) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check((s) => {
      if (!URL.canParse(s)) return false;
      const url = new URL(s);
      return (
        url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname))
      );
    }, `must be an https URL (${what})`),
  );

const origin = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol),
    'must be an http(s) URL',
  ),
  v.check((s) => {
    const url = new URL(s);
    return url.pathname === '/' && !url.search && !url.hash && !url.username;
  }, 'must be an origin only (scheme, host and port)'),
  v.transform((s) => new URL(s).origin),
);

/** `true` or `false`. */
const flag = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.picklist(['true', 'false'], 'must be true or false'),
  v.transform((s) => s === 'true'),
);

/** Settings that may be left unset: they read as null then. */
type Spec = {
  variable: string;
  schema: v.GenericSchema<string, unknown>;
  fallback?: string;
  optional?: true;
  /** Never echoed in an error: a private key pasted by mistake must not reach the logs. */
  quiet?: true;
};

const settingSchemas = {
  tableName: { variable: Env.tableName, schema: text },
  roomId: {
    variable: Env.roomId,
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes'),
    ),
  },
  mainOrigin: { variable: Env.mainOrigin, schema: origin },
  allowedOrigins: {
    variable: Env.allowedOrigins,
    schema: v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        try {
          return parseOriginList(dataset.value);
        } catch (error) {
          addIssue({ message: (error as Error).message });
          return NEVER;
        }
      }),
    ),
    fallback: '',
  },
  configPrefix: {
    variable: Env.configPrefix,
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^\/(?:[A-Za-z0-9_.-]+\/)+$/, 'must be an SSM path that starts and ends with /'),
    ),
    fallback: '/waiting-room/config/',
  },
  signingKeyParameter: { variable: Env.signingKeyParameter, schema: text },
  arrivalQueueUrl: {
    variable: Env.arrivalQueueUrl,
    schema: v.pipe(
      httpsUrl('the SQS queue URL'),
      v.check((s) => s.endsWith('.fifo'), 'must be the URL of a FIFO queue (ending in .fifo)'),
    ),
  },
  managementEndpoint: {
    variable: Env.managementEndpoint,
    schema: httpsUrl('https://{apiId}.execute-api.{region}.amazonaws.com/{stage}'),
  },
  passTtlSeconds: {
    variable: Env.passTtlSeconds,
    schema: integer(30, 7 * 24 * 3600),
    fallback: '1200',
  },
  abandonAfterSeconds: {
    variable: Env.abandonAfterSeconds,
    schema: integer(1, 24 * 3600),
    fallback: '120',
  },
  tickMs: { variable: Env.tickMs, schema: integer(50, 60_000), fallback: '1000' },
  positionBudgetPerSecond: {
    variable: Env.positionBudgetPerSecond,
    schema: integer(1, 1_000_000),
    // Half the account's 10,000 postToConnection requests a second, leaving room for replies.
    fallback: '5000',
  },
  sleepAfterIdleSeconds: {
    variable: Env.sleepAfterIdleSeconds,
    schema: integer(1, 3600),
    // A minute: a lull between two waves of a sale keeps the processor (and its line) warm.
    fallback: '60',
  },
  maxPlacesPerSource: {
    variable: Env.maxPlacesPerSource,
    schema: integer(1, 1_000_000),
    fallback: String(DEFAULT_MAX_PLACES_PER_SOURCE),
  },
  sourceLimits: {
    variable: Env.sourceLimits,
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.picklist(['on', 'off'], 'must be on or off'),
      v.transform((s) => s === 'on'),
    ),
    fallback: 'on',
  },
  processorFunctionName: {
    variable: Env.processorFunctionName,
    schema: v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Lambda function name'),
    ),
  },
  identityPublicKey: {
    variable: Env.identityPublicKey,
    schema: v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        try {
          return parseIdentityPublicKey(dataset.value);
        } catch (error) {
          addIssue({ message: (error as Error).message });
          return NEVER;
        }
      }),
    ),
    optional: true,
    quiet: true,
  },
  identityJwksUrl: {
    variable: Env.identityJwksUrl,
    schema: httpsUrl("the site's key set, e.g. https://shop.example.com/.well-known/jwks.json"),
    optional: true,
  },
  identityRequired: { variable: Env.identityRequired, schema: flag, fallback: 'false' },
} as const satisfies Record<string, Spec>;

type SettingSchemas = typeof settingSchemas;
export type SettingName = keyof SettingSchemas;
export type Settings = {
  [K in SettingName]: SettingSchemas[K] extends { optional: true }
    ? v.InferOutput<SettingSchemas[K]['schema']> | null
    : v.InferOutput<SettingSchemas[K]['schema']>;
};

/** The identity settings, which are checked together whichever of them is asked for. */
const IDENTITY_SETTINGS = ['identityPublicKey', 'identityJwksUrl', 'identityRequired'] as const;

/**
 * Reads and validates the named settings; throws {@link SettingsError} naming the first
 * variable that is missing (and has no default) or bad.
 */
export function readSettings<K extends SettingName>(
  names: readonly K[],
  env: Record<string, string | undefined> = process.env,
): Pick<Settings, K> {
  const settings: Partial<Settings> = {};
  for (const name of names) (settings as Record<string, unknown>)[name] = readSetting(name, env);
  if (names.some((name) => (IDENTITY_SETTINGS as readonly string[]).includes(name))) {
    checkIdentitySettings(env);
  }
  return settings as Pick<Settings, K>;
}

function readSetting(name: SettingName, env: Record<string, string | undefined>): unknown {
  const spec: Spec = settingSchemas[name];
  const raw = env[spec.variable]?.trim() ? (env[spec.variable] as string) : spec.fallback;
  if (raw === undefined) {
    if (spec.optional) return null;
    throw new SettingsError(spec.variable, 'must be set');
  }
  const result = v.safeParse(spec.schema, raw);
  if (!result.success) {
    throw new SettingsError(
      spec.variable,
      `${result.issues[0]?.message ?? 'invalid'}${spec.quiet ? '' : ` (got "${raw.slice(0, 200)}")`}`,
    );
  }
  return result.output;
}

/** One way to check identity tokens at most, and one at least when they are required. */
function checkIdentitySettings(env: Record<string, string | undefined>): void {
  const [key, url, required] = IDENTITY_SETTINGS.map((name) => readSetting(name, env));
  if (key !== null && url !== null) {
    throw new SettingsError(
      Env.identityJwksUrl,
      `set either it or ${Env.identityPublicKey}, not both`,
    );
  }
  if (required === true && key === null && url === null) {
    throw new SettingsError(
      Env.identityRequired,
      `true needs ${Env.identityPublicKey} or ${Env.identityJwksUrl} to check the tokens with`,
    );
  }
}
