import * as v from 'valibot';
import type {
  AdmittedMessage,
  ChallengeMessage,
  ClosedMessage,
  DrawRecord,
  ErrorCode,
  ErrorMessage,
  JoinedMessage,
  NoticeMessage,
  OpenMessage,
  PongMessage,
  PositionMessage,
  PrequeueMessage,
  ServerMessage,
  SupersededMessage,
} from '../../../functions/core/protocol.ts';

// The schemas restate the server's message types; `satisfies` below makes the compiler refuse
// any drift from `functions/core/protocol.ts`, whose runtime code never reaches the bundle.
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const errorCodes = [
  'bad_request',
  'invalid_ticket',
  'rate_limited',
  'internal',
  'invalid_identity',
  'invalid_proof',
] as const satisfies readonly ErrorCode[];

const JoinedSchema = v.object({
  type: v.literal('joined'),
  ticket: v.pipe(v.string(), v.minLength(1)),
  sessionId: v.string(),
}) satisfies v.GenericSchema<unknown, JoinedMessage>;

/** A SHA-256 hash or a seed, in hex: shown to the visitor, so nothing else gets through. */
const hex = v.pipe(v.string(), v.regex(/^[0-9a-f]{16,128}$/i));

const DrawSchema = v.object({ commitment: hex, seed: hex }) satisfies v.GenericSchema<
  unknown,
  DrawRecord
>;

const PositionSchema = v.object({
  type: v.literal('position'),
  position: v.pipe(count, v.minValue(1)),
  waiting: count,
  etaSeconds: v.nullable(v.pipe(v.number(), v.minValue(0))),
  // 0 (unknown) from a server that does not say: the page then asks after its own delay.
  nextUpdateSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 0),
  // A broken draw record costs the visitor the record, never the position it came with.
  draw: v.fallback(v.optional(DrawSchema), undefined),
}) satisfies v.GenericSchema<unknown, PositionMessage>;

const PrequeueSchema = v.object({
  type: v.literal('prequeue'),
  opensAt: v.pipe(v.number(), v.finite(), v.minValue(0)),
  waiting: count,
  commitment: hex,
  // Optional here: a room from before it was added sends none (the device's clock is used).
  now: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0)), undefined),
}) satisfies v.GenericSchema<unknown, PrequeueMessage>;

const ChallengeSchema = v.object({
  type: v.literal('challenge'),
  challenge: v.record(v.string(), v.unknown()),
}) satisfies v.GenericSchema<unknown, ChallengeMessage>;

// The operator's words are shown as plain text; the server keeps them short, the page only
// refuses what no operator could have meant (longer than a frame).
const operatorText = v.pipe(v.string(), v.maxLength(4096));

const ClosedSchema = v.object({
  type: v.literal('closed'),
  message: v.fallback(operatorText, ''),
}) satisfies v.GenericSchema<unknown, ClosedMessage>;

const NoticeSchema = v.object({
  type: v.literal('notice'),
  message: v.nullable(operatorText),
}) satisfies v.GenericSchema<unknown, NoticeMessage>;

const AdmittedSchema = v.object({
  type: v.literal('admitted'),
  pass: v.string(),
  expiresAt: v.number(),
  redirectUrl: v.pipe(v.string(), v.minLength(1)),
}) satisfies v.GenericSchema<unknown, AdmittedMessage>;

const OpenSchema = v.object({
  type: v.literal('open'),
  redirectUrl: v.pipe(v.string(), v.minLength(1)),
}) satisfies v.GenericSchema<unknown, OpenMessage>;

const PongSchema = v.object({ type: v.literal('pong') }) satisfies v.GenericSchema<
  unknown,
  PongMessage
>;

const SupersededSchema = v.object({ type: v.literal('superseded') }) satisfies v.GenericSchema<
  unknown,
  SupersededMessage
>;

const ErrorSchema = v.object({
  type: v.literal('error'),
  code: v.picklist(errorCodes),
  message: v.fallback(v.string(), ''),
}) satisfies v.GenericSchema<unknown, ErrorMessage>;

const ServerMessageSchema = v.variant('type', [
  JoinedSchema,
  PositionSchema,
  AdmittedSchema,
  OpenSchema,
  PongSchema,
  SupersededSchema,
  PrequeueSchema,
  ChallengeSchema,
  ClosedSchema,
  NoticeSchema,
  ErrorSchema,
]);

/**
 * Reads one frame from the server. Returns null for anything that is not a well-formed server
 * message (not JSON, unknown type, wrong fields), so a newer or broken server cannot crash the page.
 */
export function parseServerMessage(frame: unknown): ServerMessage | null {
  if (typeof frame !== 'string') return null;
  let data: unknown;
  try {
    data = JSON.parse(frame);
  } catch {
    return null;
  }
  const result = v.safeParse(ServerMessageSchema, data);
  return result.success ? result.output : null;
}

const GatewayErrorSchema = v.object({
  message: v.string(),
  connectionId: v.optional(v.string()),
  requestId: v.optional(v.string()),
});

/** API Gateway's own error frame: what it said, and whether that means "slow down". */
export interface GatewayError {
  message: string;
  /** Throttled ("Too Many Requests", "Limit Exceeded"), not failed. */
  slowDown: boolean;
}

/**
 * API Gateway's own answer to a frame it handed to no function, not the room's: `{"message":
 * "Too Many Requests", "connectionId": ..., "requestId": ...}` when the account is throttled,
 * `"Internal server error"` when the function failed or was throttled. Such a frame means the
 * page's last request was never handled. Null for anything else.
 */
export function parseGatewayError(frame: unknown): GatewayError | null {
  if (typeof frame !== 'string') return null;
  let data: unknown;
  try {
    data = JSON.parse(frame);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null || 'type' in data) return null;
  const result = v.safeParse(GatewayErrorSchema, data);
  if (!result.success) return null;
  const { message } = result.output;
  return { message, slowDown: /too many|limit|throttl/i.test(message) };
}
