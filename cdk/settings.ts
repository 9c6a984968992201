/**
 * The deploy's settings, read once from CDK context (`cdk.json` defaults, `-c key=value` on the
 * command line) and validated, so that a bad value stops `cdk synth` with a message that names the
 * context key. Values from the command line are strings; numbers and booleans are converted here.
 */
import type { Node } from 'constructs';
import * as v from 'valibot';
import { jwkThumbprint, type PublicJwk } from './custom-resources/public-jwk.ts';

export interface RoomSettings {
  /** Region of the room (everything but the Lambda@Edge gate, which is in us-east-1). */
  region: string;
  /** The room id: `iss` of passes. */
  roomId: string;
  /** Heading of the waiting-room page; empty for the page's default. */
  roomName: string;
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
  /** Steady-state and burst limits of WebSocket messages per second on the stage. */
  webSocketRateLimit: number;
  webSocketBurstLimit: number;
  /** Access logs for the WebSocket stage (needs the account's API Gateway CloudWatch role). */
  webSocketAccessLogs: boolean;
  /** Domain name of an existing site to protect; undefined for the S3 demo site. */
  mainSiteOrigin?: string;
  /** Public host name of the main site (a custom domain, or the distribution's own domain). */
  mainSiteDomain?: string;
  /** ACM certificate (us-east-1) for a custom `mainSiteDomain`. */
  mainSiteCertificateArn?: string;
  /** The room key's public JWK, as the first deploy printed it (output `SigningPublicJwk`). */
  signingPublicJwk?: PublicJwk;
  /** `owner/repo` allowed to deploy through GitHub OIDC; undefined: no OIDC stack. */
  githubRepository?: string;
  /** ARN of an existing GitHub OIDC provider in the account, to reuse instead of creating one. */
  githubOidcProviderArn?: string;
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
const BASE64URL_COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/** Unset when missing or empty: cdk.json lists every key with "" as its default. */
const unset = (value: unknown) => value === undefined || value === null || value === '';

function optional<T extends v.GenericSchema>(schema: T) {
  return v.optional(schema);
}

function integer(min: number, fallback: number) {
  return v.pipe(
    v.optional(
      v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/, 'must be an integer'))]),
      fallback,
    ),
    v.transform(Number),
    v.integer('must be an integer'),
    v.minValue(min, `must be at least ${min}`),
  );
}

const booleanFlag = v.pipe(
  v.optional(v.union([v.boolean(), v.picklist(['true', 'false'], 'must be true or false')]), false),
  v.transform((value) => value === true || value === 'true'),
);

const PublicJwkSchema = v.pipe(
  v.unknown(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    if (typeof dataset.value !== 'string') return dataset.value;
    try {
      return JSON.parse(dataset.value) as unknown;
    } catch {
      addIssue({ message: 'must be the JSON of a public JWK (the SigningPublicJwk output)' });
      return NEVER;
    }
  }),
  v.looseObject({
    kty: v.literal('EC', 'must be an EC key'),
    crv: v.literal('P-256', 'must be a P-256 key'),
    x: v.pipe(v.string(), v.regex(BASE64URL_COORDINATE, 'x must be 43 base64url characters')),
    y: v.pipe(v.string(), v.regex(BASE64URL_COORDINATE, 'y must be 43 base64url characters')),
    kid: v.optional(v.string()),
  }),
  v.check(
    (jwk) => !('d' in jwk),
    'holds a private key ("d"): only the public key may ever be baked into the gate',
  ),
  v.check(
    (jwk) => jwk.kid === undefined || jwk.kid === jwkThumbprint(jwk.x, jwk.y),
    'kid is not the RFC 7638 thumbprint of x and y: copy the SigningPublicJwk output as it is',
  ),
  v.transform(
    (jwk): PublicJwk => ({
      kty: 'EC',
      crv: 'P-256',
      x: jwk.x,
      y: jwk.y,
      kid: jwkThumbprint(jwk.x, jwk.y),
      use: 'sig',
      alg: 'ES256',
    }),
  ),
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
    roomName: v.optional(v.pipe(v.string(), v.maxLength(120)), ''),
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
    abandonAfterSeconds: integer(10, 120),
    tickMs: integer(100, 1000),
    positionBudgetPerSecond: integer(1, 5000),
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
    signingPublicJwk: optional(PublicJwkSchema),
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
    bootstrapQualifier: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9]{1,10}$/)), 'hnb659fds'),
  }),
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
  'configPrefix',
  'signingKeyParameter',
  'initialAdmitPerMinute',
  'passTtlSeconds',
  'abandonAfterSeconds',
  'tickMs',
  'positionBudgetPerSecond',
  'webSocketRateLimit',
  'webSocketBurstLimit',
  'webSocketAccessLogs',
  'mainSiteOrigin',
  'mainSiteDomain',
  'mainSiteCertificateArn',
  'signingPublicJwk',
  'githubRepository',
  'githubOidcProviderArn',
] as const;

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
