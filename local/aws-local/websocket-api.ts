/**
 * An API Gateway WebSocket API on one machine, for `npm run start:aws-local`: visitors' sockets
 * are accepted on the room's `/ws`, and every event reaches the Lambda functions exactly as API
 * Gateway hands it over:
 *
 * - `$connect` with the upgrade's headers and query; a non-2xx result or a failure refuses the
 *   handshake. A frame is routed by `$request.body.action` to its route key when that names a
 *   route, else to `$default`; every frame is its own invocation, with no ordering between
 *   frames of one connection (as on AWS). `$disconnect` follows every close, best effort.
 * - The `@connections` management endpoint on its own loopback port, which the functions reach
 *   through the real `@aws-sdk/client-apigatewaymanagementapi`: POST sends a text frame, GET
 *   describes the connection, DELETE closes it; an unknown or closed connection answers 410 Gone.
 * - API Gateway's limits that the design leans on: a message over 128 KB closes the connection
 *   (1009); a connection idle (no message either way) for `idleTimeoutMs` (10 minutes) or older
 *   than `maxConnectionMs` (2 hours) is closed (1001), so the page resumes, and pings when it
 *   hears nothing. A push counts as activity: services built on API Gateway keep idle
 *   connections open with server-sent messages alone (Hotsock sends one every 9.5 minutes and
 *   shows connections lasting to the 2-hour cap: hotsock.io/docs/connections/keep-alive).
 * - With `WR_AWS_FAULTS`, the account's throttles: `newConnectionRate` new connections a second
 *   (beyond: the handshake is refused with 429, counted `apigateway.connection-throttled`) and
 *   `requestRate` requests a second, with a burst of half a second's worth, shared by visitors'
 *   frames and `@connections` calls (beyond: a frame reaches no function and the visitor gets
 *   API Gateway's error frame, `{"message": "Too Many Requests", ...}`; an `@connections` call
 *   answers 429 `LimitExceededException`; counted `apigateway.throttled`).
 *
 * Every connection, frame, push and connection minute is counted ({@link ApiGatewayUsage}).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { type WebSocket, WebSocketServer } from 'ws';
import { countFault, type FaultCounters, RateLimit } from './faults.ts';
import { AwsError, listenStandIn, readRequestBody, type StandInServer } from './http-stand-in.ts';
import type { ApiGatewayUsage } from './usage.ts';

/** API Gateway's quotas for WebSocket APIs. */
export const API_GATEWAY_LIMITS = {
  maxMessageBytes: 128 * 1024,
  idleTimeoutMs: 10 * 60_000,
  maxConnectionMs: 2 * 3600_000,
} as const;
/** Messages are billed in 32 KB units. */
const BILLING_UNIT_BYTES = 32 * 1024;

export interface WebSocketApiOptions {
  /** Route key to function; `$connect`, `$disconnect` and `$default` included. */
  /**
   * Route key to function; `$connect`, `$disconnect` and `$default` included. `gone` aborts
   * when the visitor's socket closes: an invocation still waiting for a container then has
   * nobody to answer and need not run.
   */
  routes: Record<
    string,
    (event: APIGatewayProxyWebsocketEventV2, gone?: AbortSignal) => Promise<unknown>
  >;
  stage: string;
  /** Host name visitors use (the event's `domainName`). */
  domainName: string;
  idleTimeoutMs?: number;
  maxConnectionMs?: number;
  /** Told about invocations that failed (the visitor sees nothing, as on AWS). */
  onError?: (routeKey: string, connectionId: string, error: unknown) => void;
  /** The account's requests a second: frames and `@connections` calls (`apigw-rate`). */
  requestRate?: number;
  /** The account's new connections a second (`apigw-connections`). */
  newConnectionRate?: number;
  /** Where throttled handshakes, frames and calls are counted. */
  counters?: FaultCounters;
  /** The clock of the throttles (milliseconds; tests stop it). */
  now?: () => number;
}

export interface WebSocketApi {
  /** The stage's management endpoint, `http://127.0.0.1:<port>/<stage>`. */
  managementEndpoint: string;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open connections. */
  readonly connections: number;
  usage(): ApiGatewayUsage;
  close(): Promise<void>;
}

interface Connection {
  id: string;
  socket: WebSocket;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
  idleTimer: NodeJS.Timeout;
  ageTimer: NodeJS.Timeout;
  /** Aborted once the socket closed. */
  gone: AbortController;
}

const API_ID = 'local';
const CONNECTIONS_ROUTE = /^\/([^/]+)\/@connections\/([^/]+)$/;

export async function startWebSocketApi(options: WebSocketApiOptions): Promise<WebSocketApi> {
  const idleTimeoutMs = options.idleTimeoutMs ?? API_GATEWAY_LIMITS.idleTimeoutMs;
  const maxConnectionMs = options.maxConnectionMs ?? API_GATEWAY_LIMITS.maxConnectionMs;
  const open = new Map<string, Connection>();
  const usage: ApiGatewayUsage = {
    connections: 0,
    messagesIn: 0,
    messagesOut: 0,
    postToConnection: 0,
    connectionMinutes: 0,
  };
  /** Connection minutes of connections already closed. */
  let closedMinutes = 0;
  let requests = 0;
  const counters = options.counters ?? {};
  // API Gateway's bucket holds half a second of the account's rate (5,000 of 10,000).
  const requestLimit =
    options.requestRate === undefined
      ? null
      : new RateLimit(options.requestRate, options.now, Math.max(1, options.requestRate / 2));
  const connectionLimit =
    options.newConnectionRate === undefined
      ? null
      : new RateLimit(options.newConnectionRate, options.now);
  /** Whether the account's request rate lets one more request through now. */
  const withinRequestRate = () => {
    if (!requestLimit || requestLimit.take()) return true;
    countFault(counters, 'apigateway.throttled');
    return false;
  };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: API_GATEWAY_LIMITS.maxMessageBytes,
  });

  function baseContext(
    connection: Pick<Connection, 'id' | 'connectedAt' | 'sourceIp' | 'userAgent'>,
  ) {
    requests += 1;
    const now = Date.now();
    return {
      stage: options.stage,
      connectedAt: connection.connectedAt,
      requestTimeEpoch: now,
      requestTime: new Date(now).toUTCString(),
      requestId: `${now.toString(36)}-${requests}`,
      extendedRequestId: `${now.toString(36)}-${requests}x`,
      messageDirection: 'IN',
      domainName: options.domainName,
      connectionId: connection.id,
      apiId: API_ID,
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
    };
  }

  async function invoke(
    routeKey: string,
    event: APIGatewayProxyWebsocketEventV2,
    gone?: AbortSignal,
  ) {
    // Own keys only: a frame naming `__proto__` or `constructor` is just an unknown route.
    const route = Object.hasOwn(options.routes, routeKey)
      ? options.routes[routeKey]
      : options.routes.$default;
    if (!route) throw new Error(`no route for ${routeKey}`);
    return route(event, gone);
  }

  function routeKeyOf(body: string): string {
    try {
      const parsed: unknown = JSON.parse(body);
      const action = (parsed as { action?: unknown } | null)?.action;
      if (
        typeof action === 'string' &&
        Object.hasOwn(options.routes, action) &&
        !action.startsWith('$')
      ) {
        return action;
      }
    } catch {
      // Not JSON: `$default`, as API Gateway does.
    }
    return '$default';
  }

  function closeConnection(connection: Connection, code: number, reason: string): void {
    connection.socket.close(code, reason);
    // A peer that never answers the close handshake is cut off.
    setTimeout(() => connection.socket.terminate(), 2000).unref();
  }

  function armIdle(connection: Connection): void {
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(
      () => closeConnection(connection, 1001, 'Going away: idle timeout'),
      idleTimeoutMs,
    );
    connection.idleTimer.unref();
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Nothing else listens on the raw socket while `$connect` runs: a peer that resets it then
    // must not take the process down.
    socket.on('error', () => socket.destroy());
    if (connectionLimit && !connectionLimit.take()) {
      countFault(counters, 'apigateway.connection-throttled');
      refuse(socket, 429);
      return;
    }
    const connectedAt = Date.now();
    const identity = {
      id: randomBytes(11).toString('base64'),
      connectedAt,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      userAgent: String(req.headers['user-agent'] ?? ''),
    };
    const url = new URL(req.url ?? '/', 'http://local');
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, value]) => [
        k,
        Array.isArray(value) ? value.join(',') : (value ?? ''),
      ]),
    );
    const event = {
      headers,
      multiValueHeaders: Object.fromEntries(
        Object.entries(headers).map(([k, value]) => [k, [value]]),
      ),
      ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
      requestContext: { ...baseContext(identity), routeKey: '$connect', eventType: 'CONNECT' },
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyWebsocketEventV2;
    // A visitor who gave up on the handshake (the page's 10 s) needs no `$connect` any more.
    const abandoned = new AbortController();
    socket.once('close', () => abandoned.abort());
    invoke('$connect', event, abandoned.signal).then(
      (result) => {
        const status = (result as { statusCode?: number } | null)?.statusCode ?? 200;
        if (status < 200 || status >= 300) return refuse(socket, status);
        wss.handleUpgrade(req, socket, head, (ws) => accept(ws, identity));
      },
      (error: unknown) => {
        options.onError?.('$connect', identity.id, error);
        refuse(socket, 500);
      },
    );
  }

  function accept(
    socket: WebSocket,
    identity: Omit<Connection, 'socket' | 'lastActiveAt' | 'idleTimer' | 'ageTimer' | 'gone'>,
  ): void {
    const connection: Connection = {
      ...identity,
      socket,
      lastActiveAt: Date.now(),
      gone: new AbortController(),
      idleTimer: setTimeout(() => {}, 0),
      ageTimer: setTimeout(
        () => closeConnection(connection, 1001, 'Going away: connection too old'),
        maxConnectionMs,
      ),
    };
    connection.ageTimer.unref();
    armIdle(connection);
    open.set(connection.id, connection);
    usage.connections += 1;

    socket.on('message', (data, isBinary) => {
      connection.lastActiveAt = Date.now();
      armIdle(connection);
      if (!withinRequestRate()) {
        // Throttled: no function hears of it; API Gateway tells the visitor in a frame of its
        // own, shaped as its other errors ("Internal server error", "Forbidden").
        requests += 1;
        const requestId = `${Date.now().toString(36)}-${requests}`;
        socket.send(
          `{"message": "Too Many Requests", "connectionId":"${connection.id}", "requestId":"${requestId}"}`,
        );
        return;
      }
      usage.messagesIn += Math.max(1, Math.ceil(rawLength(data) / BILLING_UNIT_BYTES));
      const body = isBinary ? rawBuffer(data).toString('base64') : rawBuffer(data).toString('utf8');
      const routeKey = isBinary ? '$default' : routeKeyOf(body);
      const event = {
        requestContext: {
          ...baseContext(connection),
          routeKey,
          eventType: 'MESSAGE',
          messageId: `${connection.id}-${requests}`,
        },
        body,
        isBase64Encoded: isBinary,
      } as unknown as APIGatewayProxyWebsocketEventV2;
      invoke(routeKey, event, connection.gone.signal).catch((error: unknown) => {
        if (connection.gone.signal.aborted) return;
        options.onError?.(routeKey, connection.id, error);
        // The integration failed (an error, a timeout, Lambda throttled): API Gateway answers
        // the frame itself.
        if (socket.readyState === socket.OPEN) {
          socket.send(
            `{"message": "Internal server error", "connectionId":"${connection.id}", "requestId":"${event.requestContext.requestId}"}`,
          );
        }
      });
    });
    socket.on('close', (code, reason) => {
      connection.gone.abort();
      clearTimeout(connection.idleTimer);
      clearTimeout(connection.ageTimer);
      open.delete(connection.id);
      closedMinutes += (Date.now() - connection.connectedAt) / 60_000;
      // The stage itself is going away: nobody is left to tell.
      if (stopping) return;
      const event = {
        requestContext: {
          ...baseContext(connection),
          routeKey: '$disconnect',
          eventType: 'DISCONNECT',
          disconnectStatusCode: code,
          disconnectReason: reason.toString(),
        },
        isBase64Encoded: false,
      } as unknown as APIGatewayProxyWebsocketEventV2;
      invoke('$disconnect', event).catch((error: unknown) =>
        options.onError?.('$disconnect', connection.id, error),
      );
    });
    socket.on('error', () => socket.terminate());
  }

  async function handleManagement(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = CONNECTIONS_ROUTE.exec(new URL(req.url ?? '/', 'http://local').pathname);
    if (!match || match[1] !== options.stage) {
      throw new AwsError(404, 'NotFoundException', `no such resource: ${req.method} ${req.url}`);
    }
    const connectionId = decodeURIComponent(match[2] ?? '');
    const connection = open.get(connectionId);
    if (req.method === 'POST') usage.postToConnection += 1;
    if (!withinRequestRate()) {
      throw new AwsError(429, 'LimitExceededException', 'Too Many Requests');
    }
    if (!connection || connection.socket.readyState !== connection.socket.OPEN) {
      throw new AwsError(410, 'GoneException', `connection ${connectionId} is gone`);
    }
    if (req.method === 'POST') {
      const data = await readRequestBody(req, API_GATEWAY_LIMITS.maxMessageBytes);
      connection.socket.send(data.toString('utf8'));
      connection.lastActiveAt = Date.now();
      armIdle(connection);
      usage.messagesOut += Math.max(1, Math.ceil(data.length / BILLING_UNIT_BYTES));
      res.writeHead(200, { 'content-length': 0 }).end();
    } else if (req.method === 'GET') {
      const body = JSON.stringify({
        connectedAt: new Date(connection.connectedAt).toISOString(),
        lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
        identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    } else if (req.method === 'DELETE') {
      closeConnection(connection, 1000, '');
      res.writeHead(204).end();
    } else {
      throw new AwsError(405, 'MethodNotAllowedException', `${req.method} is not supported`);
    }
  }

  const management: StandInServer = await listenStandIn(0, handleManagement, 'application/json');
  let stopping = false;

  return {
    managementEndpoint: `${management.url}/${options.stage}`,
    handleUpgrade,
    get connections() {
      return open.size;
    },
    usage() {
      const now = Date.now();
      let openMinutes = 0;
      for (const c of open.values()) openMinutes += (now - c.connectedAt) / 60_000;
      return { ...usage, connectionMinutes: closedMinutes + openMinutes };
    },
    async close() {
      if (stopping) return;
      stopping = true;
      for (const c of open.values()) {
        clearTimeout(c.idleTimer);
        clearTimeout(c.ageTimer);
        c.socket.terminate();
      }
      wss.close();
      await management.close();
    },
  };
}

function refuse(socket: Duplex, status: number): void {
  const text =
    status === 403
      ? 'Forbidden'
      : status === 429
        ? 'Too Many Requests'
        : status >= 500
          ? 'Internal Server Error'
          : 'Refused';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

type RawData = Buffer | ArrayBuffer | Buffer[];

function rawBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function rawLength(data: RawData): number {
  return rawBuffer(data).length;
}
