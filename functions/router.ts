/**
 * The WebSocket route table: one entry per `action`, plus the explicit unknown-route case in
 * {@link parseClientFrame}. Shared by the Lambda entry points and the local runtime, so both
 * speak exactly the same protocol.
 */

import {
  type ClientMessage,
  ErrorCode,
  errorMessage,
  parseClientFrame,
  type ServerMessage,
} from './core/protocol.ts';
import type { ConnectionRateLimiter } from './core/rate-limiter.ts';
import { join, resume, status, type VisitorDeps } from './core/visitor.ts';

export interface RouterDeps extends VisitorDeps {
  limiter?: ConnectionRateLimiter;
  /** Told about unexpected failures; the visitor only ever sees `internal`. */
  onError?: (error: unknown, context: { connectionId: string; action?: string }) => void;
}

type Route<A extends ClientMessage['action']> = (
  deps: RouterDeps,
  connectionId: string,
  message: Extract<ClientMessage, { action: A }>,
  source: string | null,
) => Promise<ServerMessage[]>;

const routes: { [A in ClientMessage['action']]: Route<A> } = {
  join: (deps, connectionId, message, source) => join(deps, connectionId, message, source),
  resume: (deps, connectionId, message, source) =>
    resume(deps, connectionId, message.ticket, source),
  status: (deps, connectionId) => status(deps, connectionId),
  ping: async () => [{ type: 'pong' }],
};

/**
 * Handles one text frame from a connection and returns the replies for that connection.
 * Never throws: bad frames get `bad_request`, floods `rate_limited`, failures `internal`.
 * `source` is the key of the connection's address (`sourceKey`), null when unknown.
 */
export async function handleFrame(
  deps: RouterDeps,
  connectionId: string,
  frame: string,
  source: string | null = null,
): Promise<ServerMessage[]> {
  if (deps.limiter && !deps.limiter.allow(connectionId, deps.clock.now())) {
    return [errorMessage(ErrorCode.rateLimited, 'too many messages; slow down')];
  }
  const parsed = parseClientFrame(frame);
  if (!parsed.ok) return [parsed.error];
  const { message } = parsed;
  try {
    const route = routes[message.action] as Route<typeof message.action>;
    return await route(deps, connectionId, message as never, source);
  } catch (error) {
    deps.onError?.(error, { connectionId, action: message.action });
    return [errorMessage(ErrorCode.internal, 'something went wrong; please retry')];
  }
}

/** A connection closed (`$disconnect`, or the socket closing locally). */
export async function handleDisconnect(
  deps: Pick<RouterDeps, 'store' | 'clock' | 'limiter'>,
  connectionId: string,
): Promise<void> {
  deps.limiter?.forget(connectionId);
  await deps.store.detachConnection(connectionId, deps.clock.now());
}
