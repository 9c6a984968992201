/**
 * The WebSocket protocol of DESIGN.md, as types and valibot schemas. The client imports the
 * types from here too, so the two ends cannot drift.
 */
import * as v from 'valibot';

/** Largest text frame the server reads; anything longer gets `bad_request`. */
export const MAX_FRAME_BYTES = 4096;

/** Longest `return` path kept; a longer one is replaced by `/`. */
export const MAX_RETURN_LENGTH = 2048;

/** A `join`'s `joinKey`: 16 to 64 base64url characters (a page sends 22, 128 random bits). */
export const JOIN_KEY_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export const ErrorCode = {
  badRequest: 'bad_request',
  invalidTicket: 'invalid_ticket',
  rateLimited: 'rate_limited',
  internal: 'internal',
  invalidIdentity: 'invalid_identity',
  invalidProof: 'invalid_proof',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const JoinSchema = v.strictObject({
  action: v.literal('join'),
  // Validated loosely here: an unusable return path is replaced by `/`, never refused.
  return: v.optional(v.unknown()),
  /** The site's identity token for its user (`identity.ts`): one place per person. */
  identity: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_FRAME_BYTES))),
  /**
   * The solved proof of work (`proof-of-work.ts`) while the room asks for one: the `challenge`
   * as the room sent it and the client's `solution`. Checked there, so only its shape here.
   */
  proof: v.optional(
    v.strictObject({
      challenge: v.record(v.string(), v.unknown()),
      solution: v.record(v.string(), v.unknown()),
    }),
  ),
  /**
   * A random key the page makes for the place it is asking for and sends with every `join`
   * until one is answered `joined`: a join retried after its answer was lost (a timeout, a
   * dropped socket) finds the place the first one made and continues it on the new connection,
   * so nobody holds a place they were never told of. Added to the contract's message.
   */
  joinKey: v.optional(
    v.pipe(v.string(), v.regex(JOIN_KEY_PATTERN, 'joinKey: 16-64 letters, digits, - or _')),
  ),
});
const ResumeSchema = v.strictObject({
  action: v.literal('resume'),
  ticket: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_FRAME_BYTES)),
});
const StatusSchema = v.strictObject({ action: v.literal('status') });
const PingSchema = v.strictObject({ action: v.literal('ping') });

/** The routes a client may send, keyed by `action` (the API Gateway route key). */
export const ClientMessageSchemas = {
  join: JoinSchema,
  resume: ResumeSchema,
  status: StatusSchema,
  ping: PingSchema,
} as const;

export type JoinMessage = v.InferOutput<typeof JoinSchema>;
export type ResumeMessage = v.InferOutput<typeof ResumeSchema>;
export type StatusMessage = v.InferOutput<typeof StatusSchema>;
export type PingMessage = v.InferOutput<typeof PingSchema>;
export type ClientMessage = JoinMessage | ResumeMessage | StatusMessage | PingMessage;
export type ClientAction = ClientMessage['action'];

/**
 * The route keys of the WebSocket API (`$request.body.action`), beside `$connect`,
 * `$disconnect` and `$default`.
 */
export const CLIENT_ACTIONS = Object.keys(ClientMessageSchemas) as ClientAction[];

export interface JoinedMessage {
  type: 'joined';
  ticket: string;
  sessionId: string;
}
export interface PositionMessage {
  type: 'position';
  position: number;
  waiting: number;
  etaSeconds: number | null;
  /**
   * The visitor hears from the room again within this many seconds (the whole line comes round
   * that often at its length and the fan-out budget): the page asks with `status` only once it
   * has passed with nothing heard. Added to the contract's message; older pages ignore it.
   */
  nextUpdateSeconds: number;
  /**
   * For a visitor whose place was drawn at a scheduled opening: the draw's seed and commitment,
   * so anyone can check the order (`draw.ts`). Absent otherwise.
   */
  draw?: DrawRecord;
}
export interface AdmittedMessage {
  type: 'admitted';
  pass: string;
  expiresAt: number;
  redirectUrl: string;
}
export interface OpenMessage {
  type: 'open';
  redirectUrl: string;
}
export interface PongMessage {
  type: 'pong';
}
/**
 * This connection's place was taken up on another connection (a `resume` of its ticket in
 * another tab or window): the room closes this one, and the page offers to take it back here.
 */
export interface SupersededMessage {
  type: 'superseded';
}
/**
 * Before a scheduled opening: the visitor is in the pre-queue, whose order is drawn at the
 * opening (`draw.ts`). `opensAt` in epoch seconds; `waiting` how many are in the pre-queue;
 * `commitment` the hash of the draw's secret seed, published before the draw (added to the
 * contract's message; the seed follows in `position.draw` once drawn).
 */
export interface PrequeueMessage {
  type: 'prequeue';
  opensAt: number;
  waiting: number;
  commitment: string;
  /**
   * The room's clock when it was sent (epoch seconds, with milliseconds): a page counts down by
   * it, not by a device clock that may be off (added to the contract's message; always sent,
   * optional for a page talking to a room from before it).
   */
  now?: number;
}
/** The shuffle of the pre-queue at the opening, for anyone to recompute (`draw.ts`). */
export interface DrawRecord {
  /** SHA-256 of the seed (hex), published before the opening. */
  commitment: string;
  /** The seed (hex), published once drawn. */
  seed: string;
}
/**
 * A `join` must first pay a proof of work: `challenge` is an ALTCHA v2 challenge to solve and
 * send back with the next `join` (`proof`). No place was taken.
 */
export interface ChallengeMessage {
  type: 'challenge';
  challenge: Record<string, unknown>;
}
/** The sale is over: nobody more is admitted; `message` is the operator's words. */
export interface ClosedMessage {
  type: 'closed';
  message: string;
}
/**
 * The operator's words to everyone waiting (plain text, never HTML), or null: the banner is
 * taken down.
 */
export interface NoticeMessage {
  type: 'notice';
  message: string | null;
}
export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
}
export type ServerMessage =
  | JoinedMessage
  | PositionMessage
  | AdmittedMessage
  | OpenMessage
  | PongMessage
  | SupersededMessage
  | PrequeueMessage
  | ChallengeMessage
  | ClosedMessage
  | NoticeMessage
  | ErrorMessage;

export type ParsedFrame = { ok: true; message: ClientMessage } | { ok: false; error: ErrorMessage };

export function errorMessage(code: ErrorCode, message: string): ErrorMessage {
  return { type: 'error', code, message };
}

function isRoute(action: unknown): action is ClientAction {
  return typeof action === 'string' && Object.hasOwn(ClientMessageSchemas, action);
}

/**
 * Reads one text frame. Never throws: every way a frame can be wrong (too large, not JSON, not
 * an object, unknown action, wrong fields) becomes a `bad_request` error naming the problem.
 */
export function parseClientFrame(frame: string): ParsedFrame {
  if (utf8Length(frame) > MAX_FRAME_BYTES) {
    return fail(`frame larger than ${MAX_FRAME_BYTES} bytes`);
  }
  let data: unknown;
  try {
    data = JSON.parse(frame);
  } catch {
    return fail('frame is not JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return fail('frame must be a JSON object');
  }
  const action = (data as { action?: unknown }).action;
  if (!isRoute(action)) {
    return fail(
      typeof action === 'string' ? `unknown action "${action.slice(0, 32)}"` : 'missing action',
    );
  }
  const result = v.safeParse(ClientMessageSchemas[action], data);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue ? v.getDotPath(issue) : null;
    return fail(`invalid ${action}${where ? `: ${where}` : ''}: ${issue?.message ?? 'bad shape'}`);
  }
  return { ok: true, message: result.output as ClientMessage };
}

const encoder = new TextEncoder();

/** Bytes of `text` in UTF-8, without encoding it when its length already decides. */
function utf8Length(text: string): number {
  // A UTF-16 code unit takes 1 to 3 bytes in UTF-8.
  if (text.length * 3 <= MAX_FRAME_BYTES || text.length > MAX_FRAME_BYTES) return text.length;
  return encoder.encode(text).length;
}

function fail(message: string): ParsedFrame {
  return { ok: false, error: errorMessage(ErrorCode.badRequest, message) };
}

/** Longest operator message or closing text (characters), shown as plain text. */
export const MAX_OPERATOR_TEXT = 500;
