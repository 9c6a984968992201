/**
 * Names of the environment variables the Lambda functions read. Shared by `cdk/` (which sets
 * them, together with the IAM grant that goes with each) and `functions/` (which reads them), so
 * the two can never drift.
 */
import * as v from 'valibot';
export const Env = {
  /** DynamoDB table of sessions, connections, room state and the processor lease. */
  tableName: 'WR_TABLE_NAME',
  /** URL of the SQS FIFO arrival queue (`arrivals.fifo`, high-throughput mode). */
  arrivalQueueUrl: 'WR_ARRIVAL_QUEUE_URL',
  /** Prefix of the room's SSM parameters, e.g. `/waiting-room/config/`. */
  configPrefix: 'WR_CONFIG_PREFIX',
  /** Name of the SSM SecureString holding the PKCS#8 PEM signing key. */
  signingKeyParameter: 'WR_SIGNING_KEY_PARAMETER',
  /** HTTPS endpoint of the API Gateway management API for this stage. */
  managementEndpoint: 'WR_MANAGEMENT_ENDPOINT',
  roomId: 'WR_ROOM_ID',
  /** The main site's origin (`aud` of passes, origin of redirects). */
  mainOrigin: 'WR_MAIN_ORIGIN',
  /**
   * Origins of pages besides the main site's that may open the WebSocket (comma-separated):
   * `$connect` refuses any other browser page.
   */
  allowedOrigins: 'WR_ALLOWED_ORIGINS',
  passTtlSeconds: 'WR_PASS_TTL_SECONDS',
  abandonAfterSeconds: 'WR_ABANDON_AFTER_SECONDS',
  tickMs: 'WR_TICK_MS',
  /** Messages per second the processor may spend on `position` updates. */
  positionBudgetPerSecond: 'WR_POSITION_BUDGET_PER_SECOND',
  /**
   * Name of the processor function: the message handler invokes it (asynchronously) to wake a
   * processor that went to sleep with nobody in line.
   */
  processorFunctionName: 'WR_PROCESSOR_FUNCTION_NAME',
  /** How long the processor stays awake with nobody in line before it sleeps (seconds). */
  sleepAfterIdleSeconds: 'WR_SLEEP_AFTER_IDLE_SECONDS',
  /** The bucket the key rotation function publishes `.well-known/jwks.json` to. */
  jwksBucket: 'WR_JWKS_BUCKET',
  /** Places one source address may hold at once (`core/sources.ts`). */
  maxPlacesPerSource: 'WR_MAX_PLACES_PER_SOURCE',
  /** `off` turns every limit per source address off (load tests from one machine). */
  sourceLimits: 'WR_SOURCE_LIMITS',
  /**
   * The site's public key for identity tokens (`core/identity.ts`): the PEM text itself (SPKI,
   * EC P-256 or RSA of at least 2048 bits), a function having no file of its own to read.
   */
  identityPublicKey: 'WR_IDENTITY_PUBLIC_KEY',
  /** The site's JWKS URL for identity tokens, instead of a key (https). */
  identityJwksUrl: 'WR_IDENTITY_JWKS_URL',
  /** `true`: a `join` without a valid identity token is refused (`invalid_identity`). */
  identityRequired: 'WR_IDENTITY_REQUIRED',
} as const;

export type EnvName = (typeof Env)[keyof typeof Env];

/**
 * The SSM parameter (under the room's config prefix) naming the key rotation function, so that
 * `npm run room -- rotate-key --aws` finds it from the same region and prefix as the settings.
 */
export const KEY_ROTATION_FUNCTION_PARAMETER = 'key-rotation-function';

/**
 * The SSM parameter (under the room's config prefix) naming the room's table, so that
 * `npm run room -- console --aws` reads the line's state from the same region and prefix.
 */
export const TABLE_NAME_PARAMETER = 'table-name';

/**
 * The schema of a whole-number setting read from an environment variable: the one rule the local
 * runtime's settings and the Lambda settings share.
 */
export const wholeNumberSetting = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d+$/, 'must be a whole number'),
    v.transform(Number),
    v.number(),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
