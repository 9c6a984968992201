/**
 * The API Gateway WebSocket handlers, as factories over their dependencies (the entry points
 * wire the AWS adapters; tests hand in others): parse the event, call the router, map the result.
 */
import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import type { DynamoSessionStore } from '../adapters/aws/dynamo-session-store.ts';
import { isOriginAllowed } from '../core/origins.ts';
import type { Clock, Notifier } from '../core/ports.ts';
import { ErrorCode, errorMessage, type ServerMessage } from '../core/protocol.ts';
import { sourceKey } from '../core/sources.ts';
import { handleDisconnect, handleFrame, type RouterDeps } from '../router.ts';
import { Metric, MetricUnit, type Observability, publish } from './observability.ts';

/** What API Gateway expects back from a WebSocket route integration. */
export interface WebSocketResult {
  statusCode: number;
}

const OK: WebSocketResult = { statusCode: 200 };
const FORBIDDEN: WebSocketResult = { statusCode: 403 };
const TOO_MANY: WebSocketResult = { statusCode: 429 };

/** The key of the address an event came from (API Gateway's `identity.sourceIp`), or null. */
export function sourceOfEvent(event: APIGatewayProxyWebsocketEventV2): string | null {
  const context = event.requestContext as { identity?: { sourceIp?: unknown } };
  const ip = context.identity?.sourceIp;
  return sourceKey(typeof ip === 'string' ? ip : null);
}

export interface AnswerFrameDeps {
  router: RouterDeps;
  store: Pick<DynamoSessionStore, 'markAnnounced' | 'detachConnection'>;
  /** Posts the replies to the asking connection (the management API on AWS). */
  replies: Notifier;
  clock: Clock;
}

export interface AnsweredFrame {
  replies: ServerMessage[];
  /** How many of them were posted, in order. */
  posted: number;
  /** Why posting stopped early, if it did. */
  failure?: { kind: 'gone' } | { kind: 'error'; error: unknown };
}

/**
 * Answers one frame: runs the route and posts the replies to the connection one after the
 * other, so `joined` comes before the `position` or `admitted` that follows it. Once `joined`
 * is delivered, it lets the processor push to this connection too
 * ({@link DynamoSessionStore.markAnnounced}): before that, the processor's `postToConnection`
 * could overtake the reply.
 *
 * `frame` is null for a binary frame, which gets `bad_request` like any other bad frame.
 * `source` is the key of the connection's address, null when unknown.
 */
export async function answerFrame(
  deps: AnswerFrameDeps,
  connectionId: string,
  frame: string | null,
  source: string | null = null,
): Promise<AnsweredFrame> {
  const replies =
    frame === null
      ? [errorMessage(ErrorCode.badRequest, 'binary frames are not accepted')]
      : await handleFrame(deps.router, connectionId, frame, source);
  const answered = await postInOrder(deps, connectionId, replies);
  for (const reply of replies.slice(0, answered.posted)) {
    if (reply.type === 'joined') await deps.store.markAnnounced(reply.sessionId, connectionId);
  }
  return answered;
}

async function postInOrder(
  deps: AnswerFrameDeps,
  connectionId: string,
  replies: ServerMessage[],
): Promise<AnsweredFrame> {
  let posted = 0;
  for (const reply of replies) {
    try {
      if ((await deps.replies.send(connectionId, reply)) === 'gone') {
        await deps.store.detachConnection(connectionId, deps.clock.now());
        return { replies, posted, failure: { kind: 'gone' } };
      }
    } catch (error) {
      return { replies, posted, failure: { kind: 'error', error } };
    }
    posted += 1;
  }
  return { replies, posted };
}

export interface MessageHandlerDeps extends AnswerFrameDeps {
  observability: Observability;
}

/** `$default` and the join/resume/status/ping routes: every frame goes through the one router. */
export function createMessageHandler(deps: MessageHandlerDeps) {
  const { logger, metrics } = deps.observability;
  const router: RouterDeps = {
    ...deps.router,
    onError: (error, context) => {
      metrics.addMetric(Metric.errors, MetricUnit.Count, 1);
      logger.error('frame failed', { error, action: context.action });
    },
  };
  return async (event: APIGatewayProxyWebsocketEventV2, context: Context) => {
    const { connectionId, routeKey } = event.requestContext;
    logger.addContext(context);
    logger.appendKeys({ connectionId, routeKey });
    try {
      const frame = event.isBase64Encoded ? null : (event.body ?? '');
      const answered = await answerFrame(
        { ...deps, router },
        connectionId,
        frame,
        // Limits per source apply when places are counted per source (`WR_SOURCE_LIMITS`).
        deps.router.sources ? sourceOfEvent(event) : null,
      );
      countReplies(deps.observability, routeKey, answered);
      if (answered.failure?.kind === 'gone') {
        logger.info('connection gone before the replies were posted');
      } else if (answered.failure?.kind === 'error') {
        metrics.addMetric(Metric.errors, MetricUnit.Count, 1);
        logger.error('could not post the replies', {
          error: answered.failure.error,
          posted: answered.posted,
          replies: answered.replies.length,
        });
      }
    } catch (error) {
      // The router never throws; this is the store failing while marking a delivery.
      metrics.addMetric(Metric.errors, MetricUnit.Count, 1);
      logger.error('message handler failed', { error });
    } finally {
      publish(deps.observability);
      logger.resetKeys();
    }
    return OK;
  };
}

function countReplies(
  { logger, metrics }: Observability,
  routeKey: string,
  { replies, posted }: AnsweredFrame,
): void {
  for (const reply of replies.slice(0, posted)) {
    if (reply.type === 'joined') {
      logger.appendKeys({ sessionId: reply.sessionId });
      if (routeKey === 'join') metrics.addMetric(Metric.joins, MetricUnit.Count, 1);
      if (routeKey === 'resume') metrics.addMetric(Metric.resumes, MetricUnit.Count, 1);
    }
    if (reply.type === 'error' && reply.code === ErrorCode.badRequest) {
      metrics.addMetric(Metric.badRequests, MetricUnit.Count, 1);
    }
  }
  logger.debug('frame answered', { replies: replies.map((r) => r.type), posted });
}

export interface ConnectHandlerDeps {
  observability: Observability;
  /** Origins whose pages may connect (the main site's and `WR_ALLOWED_ORIGINS`). */
  allowedOrigins: readonly string[];
  /** Whether a source address may open one more socket now; unset: no limit per source. */
  takeSocket?: (source: string) => Promise<boolean>;
}

/**
 * `$connect`: a connection from a page on another site is refused (403: API Gateway refuses the
 * handshake), and so is one from an address opening sockets faster than its limit (429); every
 * other one is accepted, and a place is only taken by `join`.
 */
export function createConnectHandler(deps: ConnectHandlerDeps) {
  const { logger } = deps.observability;
  return async (event: APIGatewayProxyWebsocketEventV2, context: Context) => {
    logger.addContext(context);
    const headers = (event as { headers?: Record<string, string | undefined> }).headers ?? {};
    const origin = Object.entries(headers).find(([name]) => name.toLowerCase() === 'origin')?.[1];
    if (!isOriginAllowed(origin, deps.allowedOrigins)) {
      logger.info('refused a page from another origin', { origin: origin?.slice(0, 200) });
      return FORBIDDEN;
    }
    const source = sourceOfEvent(event);
    if (source !== null && deps.takeSocket && !(await deps.takeSocket(source))) {
      logger.info('refused a socket over its source limit', { source });
      return TOO_MANY;
    }
    logger.debug('connected', { connectionId: event.requestContext.connectionId });
    return OK;
  };
}

export interface DisconnectHandlerDeps {
  router: Pick<RouterDeps, 'store' | 'clock' | 'limiter'>;
  observability: Observability;
}

/**
 * `$disconnect` (best effort on API Gateway: a 410 on a later push marks the connection gone
 * too): the session's abandon grace starts.
 */
export function createDisconnectHandler(deps: DisconnectHandlerDeps) {
  const { logger, metrics } = deps.observability;
  return async (
    event: APIGatewayProxyWebsocketEventV2,
    context: Context,
  ): Promise<WebSocketResult> => {
    const { connectionId } = event.requestContext;
    logger.addContext(context);
    logger.appendKeys({ connectionId });
    try {
      await handleDisconnect(deps.router, connectionId);
      logger.debug('disconnected');
      return OK;
    } catch (error) {
      metrics.addMetric(Metric.errors, MetricUnit.Count, 1);
      logger.error('disconnect failed', { error });
      return { statusCode: 500 };
    } finally {
      publish(deps.observability);
      logger.resetKeys();
    }
  };
}
