/**
 * API Gateway's account throttles on the WebSocket stand-in (`WR_AWS_FAULTS=apigw-rate` and
 * `apigw-connections`), with recording routes, the real management API client and the room's
 * notifier: over a limit what API Gateway answers, within it nothing changed, and the room's
 * pushes getting through with their retries.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiGatewayNotifier } from '../../../functions/adapters/aws/api-gateway-notifier.ts';
import type { FaultCounters } from '../../../local/aws-local/faults.ts';
import {
  startWebSocketApi,
  type WebSocketApi,
  type WebSocketApiOptions,
} from '../../../local/aws-local/websocket-api.ts';
import '../../helpers/aws-sdk-env.ts';

let api: WebSocketApi | undefined;
let server: Server | undefined;
const sockets: WebSocket[] = [];
const clients: ApiGatewayManagementApiClient[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const c of clients.splice(0)) c.destroy();
  await api?.close();
  api = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

type Limits = Pick<WebSocketApiOptions, 'requestRate' | 'newConnectionRate'>;

/** The stand-in with recording routes, on a stopped clock unless `realClock`. */
async function startApi(limits: Limits, { realClock = false } = {}) {
  let now = 0;
  const counters: FaultCounters = {};
  const invoked: { routeKey: string; connectionId: string; body?: string }[] = [];
  const record = (routeKey: string) => async (event: APIGatewayProxyWebsocketEventV2) => {
    invoked.push({
      routeKey,
      connectionId: event.requestContext.connectionId,
      ...(event.body === undefined ? {} : { body: event.body }),
    });
    return { statusCode: 200 };
  };
  const stage = await startWebSocketApi({
    routes: {
      $connect: record('$connect'),
      $disconnect: record('$disconnect'),
      $default: record('$default'),
      join: record('join'),
    },
    stage: 'live',
    domainName: 'room.example.com',
    ...limits,
    counters,
    ...(realClock ? {} : { now: () => now }),
  });
  api = stage;
  const front = createServer();
  front.on('upgrade', (req, socket, head) => stage.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
  server = front;
  const management = new ApiGatewayManagementApiClient({
    endpoint: stage.managementEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  clients.push(management);
  return {
    url: `ws://127.0.0.1:${(front.address() as AddressInfo).port}/ws`,
    invoked,
    counters,
    management,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** Opens a socket, or rejects with the status that refused the handshake. */
function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_req, res) => reject(new Error(String(res.statusCode))));
    socket.once('error', reject);
  });
}

/** Everything a socket hears, as text. */
function heard(socket: WebSocket): string[] {
  const frames: string[] = [];
  socket.on('message', (data) => frames.push(String(data)));
  return frames;
}

const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const connectionOf = (invoked: { routeKey: string; connectionId: string }[]) =>
  invoked.find((e) => e.routeKey === '$connect')?.connectionId as string;

const post = (connectionId: string, text: string) =>
  new PostToConnectionCommand({ ConnectionId: connectionId, Data: new TextEncoder().encode(text) });

describe("API Gateway's account throttles", () => {
  it('refuses a handshake over the new-connection rate with 429, and counts it', async () => {
    // Prepare
    const { url, invoked, counters } = await startApi({ newConnectionRate: 2 });
    await open(url);
    await open(url);

    // Act
    const refused = await open(url).catch((error: Error) => error.message);

    // Assess
    expect(refused).toBe('429');
    expect(invoked.filter((e) => e.routeKey === '$connect')).toHaveLength(2);
    expect(counters).toEqual({ 'apigateway.connection-throttled': 1 });
  });

  it("gives no function a frame over the account's rate: the visitor hears API Gateway's error", async () => {
    // Prepare: 2 requests a second, a burst of one.
    const { url, invoked, counters } = await startApi({ requestRate: 2 });
    const socket = await open(url);
    const frames = heard(socket);
    const connectionId = connectionOf(invoked);

    // Act
    for (let i = 0; i < 3; i += 1) socket.send(JSON.stringify({ action: 'join', n: i }));
    await until(() => frames.length === 2);

    // Assess
    expect(invoked.filter((e) => e.routeKey === 'join').map((e) => e.body)).toEqual([
      '{"action":"join","n":0}',
    ]);
    for (const frame of frames) {
      expect(frame).toMatch(
        new RegExp(
          `^\\{"message": "Too Many Requests", "connectionId":"${connectionId.replace(/[+/]/g, '\\$&')}", "requestId":"[^"]+"\\}$`,
        ),
      );
    }
    expect(counters).toEqual({ 'apigateway.throttled': 2 });
  });

  it('answers an @connections call over the rate, shared with the frames, with 429 LimitExceededException', async () => {
    // Prepare: 4 requests a second, a burst of two: one frame and one push take them.
    const { url, invoked, counters, management } = await startApi({ requestRate: 4 });
    const socket = await open(url);
    const frames = heard(socket);
    socket.send(JSON.stringify({ action: 'join' }));
    await until(() => invoked.some((e) => e.routeKey === 'join'));
    const connectionId = connectionOf(invoked);
    await management.send(post(connectionId, '{"type":"pong"}'));

    // Act
    const error = await management
      .send(post(connectionId, '{"type":"pong"}'))
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      name: 'LimitExceededException',
      $metadata: { httpStatusCode: 429 },
    });
    await until(() => frames.length === 1);
    expect(frames).toEqual(['{"type":"pong"}']);
    expect(counters).toEqual({ 'apigateway.throttled': 1 });
  });

  it('lets everything within the rates through unchanged, and refills as time passes', async () => {
    // Prepare
    const { url, invoked, counters, management, advance } = await startApi({
      requestRate: 2,
      newConnectionRate: 1,
    });
    const socket = await open(url);
    const frames = heard(socket);
    const connectionId = connectionOf(invoked);

    // Act
    socket.send('{"action":"join"}');
    await until(() => invoked.some((e) => e.routeKey === 'join'));
    advance(500);
    await management.send(post(connectionId, '{"type":"joined"}'));
    advance(500);
    socket.send('not json');
    await until(() => invoked.some((e) => e.routeKey === '$default'));
    advance(1000);
    const second = await open(url);

    // Assess
    expect(invoked.map((e) => e.routeKey)).toEqual(['$connect', 'join', '$default', '$connect']);
    expect(invoked.find((e) => e.routeKey === '$default')?.body).toBe('not json');
    await until(() => frames.length === 1);
    expect(frames).toEqual(['{"type":"joined"}']);
    expect(second.readyState).toBe(WebSocket.OPEN);
    expect(counters).toEqual({});
  });

  it("gets the room's pushes through the account's rate with the notifier's retries", async () => {
    // Prepare: 20 requests a second (a burst of ten) on the real clock, and a dozen sockets.
    const { url, invoked, counters, management } = await startApi(
      { requestRate: 20 },
      { realClock: true },
    );
    const visitors = await Promise.all(Array.from({ length: 12 }, () => open(url)));
    const frames = visitors.map(heard);
    await until(() => invoked.filter((e) => e.routeKey === '$connect').length === 12);
    const notifier = createApiGatewayNotifier({ client: management });

    // Act
    const deliveries = await Promise.allSettled(
      invoked
        .filter((e) => e.routeKey === '$connect')
        .map((e) => notifier.send(e.connectionId, { type: 'pong' })),
    );

    // Assess: beyond the burst, pushes were throttled and the notifier's retries got them
    // through (a push whose retries all fell on a stalled machine is left to the next tick, as
    // the room does; at least the ones past the burst made it here).
    const sent = deliveries.filter((d) => d.status === 'fulfilled' && d.value === 'sent').length;
    expect(counters['apigateway.throttled']).toBeGreaterThan(0);
    expect(sent).toBeGreaterThan(10);
    await until(() => frames.filter((f) => f.length === 1).length === sent);
  }, 30_000);
});
