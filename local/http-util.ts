/** Small helpers for the local runtime's plain `node:http` handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import { PASS_PARAM } from '../edge/gate.ts';

/**
 * A Content-Security-Policy for responses that are data (JSON, plain text, redirects): nothing
 * may run, load, be framed or be submitted. Pages replace it with a policy of their own.
 */
export const DATA_SECURITY_POLICY =
  "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Headers every local response carries. */
export const BASE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': DATA_SECURITY_POLICY,
} as const;

/**
 * Whether a request URL (path and query) carries a `wr_pass` parameter: its response must then
 * send `Referrer-Policy: no-referrer`, so the address does not leak the pass to another page.
 */
export function urlHoldsPass(url: string | undefined): boolean {
  const q = url?.indexOf('?') ?? -1;
  if (url === undefined || q === -1) return false;
  return new URLSearchParams(url.slice(q + 1)).has(PASS_PARAM);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Whether a request came from this machine (127.0.0.0/8 or ::1). */
export function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Reads a request body up to `limit` bytes; rejects with a 413-worthy error past it. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Reads a JSON request body of at most `limit` bytes through `schema`. On a body too large (413),
 * not JSON or not what the schema takes (400, naming the field) it answers the request itself
 * and resolves undefined. `empty` stands for an empty body, where one is allowed.
 */
export async function readJsonRequest<T>(
  req: IncomingMessage,
  res: ServerResponse,
  schema: v.GenericSchema<unknown, T>,
  options: { limit: number; empty?: unknown; describe?: (problem: string) => string },
): Promise<T | undefined> {
  let body: unknown;
  try {
    const text = await readBody(req, options.limit);
    body = options.empty !== undefined && text.trim() === '' ? options.empty : JSON.parse(text);
  } catch (error) {
    const tooLarge = error instanceof BodyTooLargeError;
    sendJson(res, tooLarge ? 413 : 400, { error: tooLarge ? error.message : 'body must be JSON' });
    return undefined;
  }
  const parsed = v.safeParse(schema, body);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const field = issue ? v.getDotPath(issue) : null;
    const problem = `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid'}`;
    sendJson(res, 400, { error: options.describe ? options.describe(problem) : problem });
    return undefined;
  }
  return parsed.output;
}
