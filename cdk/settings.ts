/**
 * The deploy's settings, read once from CDK context (`cdk.json` defaults, `-c key=value` on the
 * command line) and validated, so that a bad value stops `cdk synth` with a message that names the
 * context key. Values from the command line are strings; numbers and booleans are converted here.
 */
import type { Node } from 'constructs';
import * as v from 'valibot';
import { parseIdentityPublicKey } from '../functions/core/identity.ts';
import { parseOriginList } from '../functions/core/origins.ts';
import {
  BrandColorSchema,
  EventLogoSchema,
  EventTextSchema,
  RoomNameSchema,
} from '../functions/core/page-branding.ts';
import { DEFAULT_MAX_PLACES_PER_SOURCE } from '../functions/core/sources.ts';

export interface RoomSettings {
  /** Region of the room (everything but the Lambda@Edge gate, which is in us-east-1). */
  region: string;
  /** The room id: `iss` of passes. */
  roomId: string;
  /** The event's name: heading and title of the waiting-room page; empty for the page's default. */
  roomName: string;
  /** The organiser's short plain-text message on the page; empty for none. */
  eventText: string;
  /** The organiser's logo: a path on the main site's origin or a `data:image/...` URL; empty for none. */
  eventLogo: string;
  /** The brand colour, `#rrggbb`; empty for the page's own. */
  brandColor: string;
  /** Prefix of the SSM room config parameters; starts and ends with `/`. */
  configPrefix: string;
  /** Name of the SSM SecureString holding the signing key. */
  signingKeyParameter: string;
  /** `admit-per-minute` when the parameter is created (never applied again). */
  initialAdmitPerMinute: number;
  passTtlSeconds: number;
  abandonAfterSeconds: number;
  tickMs: number;
  positionBudgetPerSecond: number;
  /** How long the processor stays awake with nobody in line before it sleeps. */
  sleepAfterIdleSeconds: number;
  /** Places one source address may hold at once (`functions/core/sources.ts`). */
  maxPlacesPerSource: number;
  /** Whether the limits per source address apply (false only for load tests). */
  sourceLimits: boolean;
  /** Steady-state and burst limits of WebSocket messages per second on the stage. */
  webSocketRateLimit: number;
  webSocketBurstLimit: number;
  /** Access logs for the WebSocket stage (needs the account's API Gateway CloudWatch role). */
  webSocketAccessLogs: boolean;
  /** Domain name of an existing site to protect; undefined for the S3 demo site. */
  mainSiteOrigin?: string;
  /**
   * Public host name of the main site: a custom domain (with its certificate). The distribution's
   * own `*.cloudfront.net` domain is also accepted, and changes nothing.
   */
  mainSiteDomain?: string;
  /** ACM certificate (us-east-1) for a custom `mainSiteDomain`. */
  mainSiteCertificateArn?: string;
  /** `owner/repo` allowed to deploy through GitHub OIDC; undefined: no OIDC stack. */
  githubRepository?: string;
  /** ARN of an existing GitHub OIDC provider in the account, to reuse instead of creating one. */
  githubOidcProviderArn?: string;
  /**
   * CloudFront path patterns of the main site that never run the gate (e.g. `/assets/*`,
   * `*.js`): each gets a cache behavior like the site's default one without the edge function.
   * Empty (the default): every path of the main site is gated but the room's own.
   */
  ungatedMainSitePaths: string[];
  /**
   * Origins of pages besides the main site's that may open the room's WebSocket (e.g. a mobile
   * web app on its own domain); every other browser page is refused at `$connect`.
   */
  allowedOrigins: string[];
  /**
   * The site's public key for identity tokens (`functions/core/identity.ts`), as PEM text (SPKI,
   * EC P-256 or RSA of 2048 bits or more); undefined: none. At most one of it and
   * `identityJwksUrl`.
   */
  identityPublicKey?: string;
  /** The site's JWKS URL (https) for identity tokens, instead of a key; undefined: none. */
  identityJwksUrl?: string;
  /** Whether a join without a valid identity token is refused (needs a key or a JWKS URL). */
  identityRequired: boolean;
  /** CDK bootstrap qualifier of the roles the deploy role may assume. */
  bootstrapQualifier: string;
}

/** Where the waiting room lives on the main site's origin; the gate never gates these paths. */
export const ROOM_PATHS = {
  page: '/waiting-room/',
  jwks: '/.well-known/jwks.json',
  flag: '/__room/flag.json',
  ungated: ['/waiting-room/', '/.well-known/', '/__room/'],
} as const;

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/**
 * CloudFront's path pattern characters (`&` is written as `&amp;` by CloudFront itself, so it is
 * left out here), `*` and `?` as wildcards, at most 255 of them.
 */
const PATH_PATTERN = /^[A-Za-z0-9_\-.$/~"'@:+*?]{1,255}$/;

/**
 * Cache behaviors a distribution holds by default (25) less the room's three, less room to
 * spare for the operator's own additions.
 */
export const MAX_UNGATED_MAIN_SITE_PATHS = 20;

/** The patterns of the room's own behaviors: they cannot be given again. */
export const ROOM_PATH_PATTERNS: readonly string[] = [
  `${ROOM_PATHS.page}*`,
  ROOM_PATHS.jwks,
  ROOM_PATHS.flag,
];

/**
 * A list of path patterns: an array (cdk.json) or, from `-c key=value`, a JSON array or
 * comma-separated text.
 */
const pathPatterns = v.pipe(
  v.optional(
    v.union([
      v.array(v.string()),
      v.pipe(
        v.string(),
        v.transform((text): unknown =>
          text.trim().startsWith('[')
            ? safeJson(text)
            : text
                .split(',')
                .map((p) => p.trim())
                .filter((p) => p !== ''),
        ),
        v.array(v.string(), 'must be a JSON array or a comma-separated list of path patterns'),
      ),
    ]),
    [],
  ),
  v.maxLength(
    MAX_UNGATED_MAIN_SITE_PATHS,
    `must list at most ${MAX_UNGATED_MAIN_SITE_PATHS} patterns`,
  ),
  v.check(
    (patterns) => patterns.every((p) => PATH_PATTERN.test(p)),
    'must hold CloudFront path patterns (letters, digits, _-.$/~"\'@:+ and the wildcards * ?)',
  ),
  v.check(
    (patterns) => !patterns.some((p) => /^\/?\*$/.test(p)),
    'must not hold "*" or "/*", which would ungate the whole site (turn the room off instead)',
  ),
  v.check(
    (patterns) => !patterns.some((p) => ROOM_PATH_PATTERNS.includes(p)),
    `must not repeat the room's own paths (${ROOM_PATH_PATTERNS.join(', ')})`,
  ),
  v.check((patterns) => new Set(patterns).size === patterns.length, 'must not repeat a pattern'),
);

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Unset when missing or empty: cdk.json lists every key with "" as its default. */
const unset = (value: unknown) => value === undefined || value === null || value === '';

function optional<T extends v.GenericSchema>(schema: T) {
  return v.optional(schema);
}

function integer(min: number, fallback: number, max = Number.MAX_SAFE_INTEGER) {
  return v.pipe(
    v.optional(
      v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/, 'must be an integer'))]),
      fallback,
    ),
    v.transform(Number),
    v.integer('must be an integer'),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
}

const booleanFlag = v.pipe(
  v.optional(v.union([v.boolean(), v.picklist(['true', 'false'], 'must be true or false')]), false),
  v.transform((value) => value === true || value === 'true'),
);

const SettingsSchema = v.pipe(
  v.object({
    region: v.optional(
      v.pipe(v.string(), v.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be a region such as eu-west-1')),
      'eu-west-1',
    ),
    roomId: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes'),
      ),
      'waiting-room',
    ),
    // The page's branding follows the rules the page itself checks config.json with.
    roomName: v.optional(RoomNameSchema, ''),
    eventText: v.optional(EventTextSchema, ''),
    eventLogo: v.optional(EventLogoSchema, ''),
    brandColor: v.optional(BrandColorSchema, ''),
    configPrefix: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^\/([A-Za-z0-9_.-]+\/)+$/, 'must look like /waiting-room/config/'),
      ),
      '/waiting-room/config/',
    ),
    signingKeyParameter: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'must look like /waiting-room/signing-key'),
      ),
      '/waiting-room/signing-key',
    ),
    initialAdmitPerMinute: integer(0, 60),
    passTtlSeconds: integer(60, 1200),
    // Ten minutes: a phone's browser suspends a background tab and drops its socket; two
    // minutes lost those visitors their place. A visitor away is still admitted in turn and
    // gets the pass on return, so a longer grace costs only the slots of those who never come
    // back. (The local runtime keeps the contract's 120 s default.)
    abandonAfterSeconds: integer(10, 600),
    tickMs: integer(100, 1000),
    positionBudgetPerSecond: integer(1, 5000),
    sleepAfterIdleSeconds: integer(1, 60, 3600),
    maxPlacesPerSource: integer(1, DEFAULT_MAX_PLACES_PER_SOURCE, 1_000_000),
    sourceLimits: v.pipe(
      v.optional(
        v.union([v.boolean(), v.picklist(['true', 'false', 'on', 'off'], 'must be on or off')]),
        true,
      ),
      v.transform((value) => value === true || value === 'true' || value === 'on'),
    ),
    webSocketRateLimit: integer(1, 5000),
    webSocketBurstLimit: integer(1, 5000),
    webSocketAccessLogs: booleanFlag,
    mainSiteOrigin: optional(
      v.pipe(v.string(), v.regex(HOST, 'must be a domain name such as origin.example.com')),
    ),
    mainSiteDomain: optional(
      v.pipe(v.string(), v.regex(HOST, 'must be a host name such as shop.example.com')),
    ),
    mainSiteCertificateArn: optional(
      v.pipe(
        v.string(),
        v.regex(
          /^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[\w-]+$/,
          'must be an ACM certificate ARN in us-east-1',
        ),
      ),
    ),
    githubRepository: optional(
      v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/repo')),
    ),
    githubOidcProviderArn: optional(
      v.pipe(
        v.string(),
        v.regex(
          /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/,
          'must be the ARN of the token.actions.githubusercontent.com OIDC provider',
        ),
      ),
    ),
    ungatedMainSitePaths: pathPatterns,
    allowedOrigins: v.pipe(
      v.optional(v.union([v.array(v.string()), v.string()]), []),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const raw = dataset.value;
        const text = Array.isArray(raw)
          ? raw.join(',')
          : raw.trim().startsWith('[')
            ? ((safeJson(raw) as string[] | undefined) ?? []).join(',')
            : raw;
        try {
          return parseOriginList(text);
        } catch (error) {
          addIssue({ message: (error as Error).message });
          return NEVER;
        }
      }),
    ),
    identityPublicKey: optional(
      v.pipe(
        v.string(),
        v.rawTransform(({ dataset, addIssue, NEVER }) => {
          try {
            // Passed on as the key's own PEM: line breaks written as `\n` become real ones.
            const key = parseIdentityPublicKey(dataset.value);
            return (key.export({ type: 'spki', format: 'pem' }) as string).trim();
          } catch (error) {
            addIssue({ message: (error as Error).message });
            return NEVER;
          }
        }),
      ),
    ),
    identityJwksUrl: optional(
      v.pipe(
        v.string(),
        v.trim(),
        v.check(
          (s) => URL.canParse(s) && new URL(s).protocol === 'https:',
          "must be an https URL (the site's key set, e.g. https://shop.example.com/.well-known/jwks.json)",
        ),
      ),
    ),
    identityRequired: booleanFlag,
    bootstrapQualifier: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9]{1,10}$/)), 'hnb659fds'),
  }),
  v.forward(
    v.partialCheck(
      [['identityPublicKey'], ['identityJwksUrl']],
      (s) => !(s.identityPublicKey && s.identityJwksUrl),
      'set either it or identityPublicKey, not both',
    ),
    ['identityJwksUrl'],
  ),
  v.forward(
    v.partialCheck(
      [['identityPublicKey'], ['identityJwksUrl'], ['identityRequired']],
      (s) => !s.identityRequired || !!s.identityPublicKey || !!s.identityJwksUrl,
      'true needs identityPublicKey or identityJwksUrl to check the tokens with',
    ),
    ['identityRequired'],
  ),
  v.check(
    (s) => !s.mainSiteDomain || isCloudFrontDomain(s.mainSiteDomain) || !!s.mainSiteCertificateArn,
    'mainSiteDomain is a custom domain: set mainSiteCertificateArn (an ACM certificate in us-east-1 for it)',
  ),
);

/** True for a distribution's own `dxxxxxxxx.cloudfront.net` domain (no alias, no certificate). */
export function isCloudFrontDomain(host: string): boolean {
  return /\.cloudfront\.net$/i.test(host);
}

/** Context keys read by {@link readSettings}; `cdk.json` gives each a default. */
export const CONTEXT_KEYS = [
  'region',
  'roomId',
  'roomName',
  'eventText',
  'eventLogo',
  'brandColor',
  'configPrefix',
  'signingKeyParameter',
  'initialAdmitPerMinute',
  'passTtlSeconds',
  'abandonAfterSeconds',
  'tickMs',
  'positionBudgetPerSecond',
  'sleepAfterIdleSeconds',
  'maxPlacesPerSource',
  'sourceLimits',
  'webSocketRateLimit',
  'webSocketBurstLimit',
  'webSocketAccessLogs',
  'mainSiteOrigin',
  'mainSiteDomain',
  'mainSiteCertificateArn',
  'githubRepository',
  'githubOidcProviderArn',
  'ungatedMainSitePaths',
  'allowedOrigins',
  'identityPublicKey',
  'identityJwksUrl',
  'identityRequired',
] as const;

/**
 * Context keys that earlier versions read and this one ignores, with what to do instead. The
 * gate now reads the room's public keys at run time, so the first deploy's key no longer has to
 * be copied into the context.
 */
export const OBSOLETE_CONTEXT_KEYS: Readonly<Record<string, string>> = {
  signingPublicJwk:
    'is no longer used: the gate reads the public keys from /.well-known/jwks.json at run time. Remove it from cdk.json.',
};

/** The obsolete context keys that hold a value (cdk.json's empty defaults do not count). */
export function obsoleteContextKeys(node: Node): string[] {
  return Object.keys(OBSOLETE_CONTEXT_KEYS).filter((key) => !unset(node.tryGetContext(key)));
}

/** Validates raw settings; throws an Error naming the first bad context key. */
export function parseSettings(raw: Record<string, unknown>): RoomSettings {
  const given = Object.fromEntries(Object.entries(raw).filter(([, value]) => !unset(value)));
  const result = v.safeParse(SettingsSchema, given);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const key = issue ? v.getDotPath(issue) : null;
  throw new Error(`invalid CDK context${key ? ` "${key}"` : ''}: ${issue?.message}`);
}

/** Reads and validates the settings from the app's context. */
export function readSettings(node: Node): RoomSettings {
  const raw: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) raw[key] = node.tryGetContext(key);
  raw.bootstrapQualifier = node.tryGetContext('@aws-cdk/core:bootstrapQualifier');
  return parseSettings(raw);
}
