import * as v from 'valibot';
import type {
  AdmittedMessage,
  ErrorCode,
  ErrorMessage,
  JoinedMessage,
  OpenMessage,
  PongMessage,
  PositionMessage,
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
] as const satisfies readonly ErrorCode[];

const JoinedSchema = v.object({
  type: v.literal('joined'),
  ticket: v.pipe(v.string(), v.minLength(1)),
  sessionId: v.string(),
}) satisfies v.GenericSchema<unknown, JoinedMessage>;

const PositionSchema = v.object({
  type: v.literal('position'),
  position: v.pipe(count, v.minValue(1)),
  waiting: count,
  etaSeconds: v.nullable(v.pipe(v.number(), v.minValue(0))),
  // 0 (unknown) from a server that does not say: the page then asks after its own delay.
  nextUpdateSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 0),
}) satisfies v.GenericSchema<unknown, PositionMessage>;

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
