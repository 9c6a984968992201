/**
 * {@link Notifier} on the API Gateway management API: one `postToConnection` per message.
 *
 * - 410 Gone: the connection no longer exists (`$disconnect` is best effort): `gone`.
 * - Throttling (429, ThrottlingException, TooManyRequestsException, LimitExceededException; the
 *   account shares 10,000 requests/s): retried with exponential backoff and full jitter, a few
 *   times, then rejected.
 * - Anything else rejects at once; the processor retries at its next tick.
 *
 * `supersede` posts `superseded` and deletes the connection (a resumed place's old one).
 */
import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { ConnectionCloser, Delivery, Notifier } from '../../core/ports.ts';
import type { ServerMessage } from '../../core/protocol.ts';
import { backoffDelay, errorName, httpStatusOf, isThrottling, realSleep } from './aws-errors.ts';
import { defaultManagementClient } from './clients.ts';

export interface ApiGatewayNotifierOptions {
  /** A client for the stage's management endpoint; or give `endpoint` to use the default one. */
  client?: ApiGatewayManagementApiClient;
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` */
  endpoint?: string;
  /** Attempts per message when throttled, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export function createApiGatewayNotifier(
  options: ApiGatewayNotifierOptions,
): Notifier & ConnectionCloser {
  const client = options.client ?? defaultClientFor(options.endpoint);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 1000;
  const sleep = options.sleep ?? realSleep;
  const encoder = new TextEncoder();

  return {
    async send(connectionId: string, message: ServerMessage): Promise<Delivery> {
      const Data = encoder.encode(JSON.stringify(message));
      for (let attempt = 0; ; attempt++) {
        try {
          await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data }));
          return 'sent';
        } catch (error) {
          if (isGone(error)) return 'gone';
          if (!isThrottling(error) || attempt + 1 >= maxAttempts) throw error;
          await sleep(backoffDelay(attempt, baseDelayMs, maxDelayMs, options.random));
        }
      }
    },

    async supersede(connectionId: string): Promise<void> {
      try {
        if ((await this.send(connectionId, { type: 'superseded' })) === 'gone') return;
        await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      } catch {
        // Gone already, or the post failed: the old page hears nothing, and its place, now
        // bound to the new connection, is not touched by its close.
      }
    },
  };
}

function isGone(error: unknown): boolean {
  return errorName(error) === 'GoneException' || httpStatusOf(error) === 410;
}

function defaultClientFor(endpoint: string | undefined): ApiGatewayManagementApiClient {
  if (!endpoint) throw new Error('createApiGatewayNotifier needs a client or an endpoint');
  return defaultManagementClient(endpoint);
}
