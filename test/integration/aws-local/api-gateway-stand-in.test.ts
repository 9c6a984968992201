/**
 * The API Gateway WebSocket stand-in of `npm run start:aws-local`, with recording routes instead
 * of the Lambda functions: the events API Gateway hands over, route selection, the
 * `@connections` endpoint through the real management API client, and the limits it enforces.
 */
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createConnection } from 'node:net';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startWebSocketApi, type WebSocketApi } from '../../../local/aws-local/websocket-api.ts';
import '../../helpers/aws-sdk-env.ts';

interface Recorded {
  routeKey: string;
  event: APIGatewayProxyWebsocketEventV2 & Record<string, unknown>;
}

let api: WebSocketApi | undefined;
let server: Server | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await api?.close();
  api = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function startApi(
  options: {
    connectStatus?: number;
    connectDelayMs?: number;
    idleTimeoutMs?: number;
    maxConnectionMs?: number;
  } = {},
) {
  const events: Recorded[] = [];
  const record = (routeKey: string) => async (event: APIGatewayProxyWebsocketEventV2) => {
    if (routeKey === '$connect' && options.connectDelayMs) {
      await new Promise((resolve) => setTimeout(resolve, options.connectDelayMs));
    }
    events.push({ routeKey, event: event as Recorded['event'] });
    return { statusCode: routeKey === '$connect' ? (options.connectStatus ?? 200) : 200 };
  };
  api = await startWebSocketApi({
    routes: {
      $connect: record('$connect'),
      $disconnect: record('$disconnect'),
      $default: record('$default'),
      join: record('join'),
      ping: record('ping'),
    },
    stage: 'live',
    domainName: 'room.example.com',
    ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.maxConnectionMs ? { maxConnectionMs: options.maxConnectionMs } : {}),
  });
  const front = createServer();
  const stage = api;
  front.on('upgrade', (req, socket, head) => stage.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
  server = front;
  const port = (front.address() as AddressInfo).port;
  const management = new ApiGatewayManagementApiClient({
    endpoint: stage.managementEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  return { events, url: `ws://127.0.0.1:${port}/ws`, management, api: stage };
}

function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: { 'user-agent': 'test-visitor' } });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`refused with ${res.statusCode}`)),
    );
  });
}

const until = async (check: () => boolean, timeoutMs = 5000) => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const closed = (socket: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );

describe('events as API Gateway hands them over', () => {
  it('invokes $connect with the headers and query, routes frames by action, and $disconnect after', async () => {
    // Prepare
    const { events, url } = await startApi();

    // Act
    const socket = await open(`${url}?lang=fr`);
    socket.send(JSON.stringify({ action: 'join', return: '/a' }));
    socket.send(JSON.stringify({ action: 'dance' }));
    socket.send(JSON.stringify({ action: '__proto__' }));
    socket.send(JSON.stringify({ action: '$connect' }));
    socket.send('not json');
    socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await until(() => events.length >= 7);
    socket.close();
    await until(() => events.some((e) => e.routeKey === '$disconnect'));

    // Assess
    const [connect] = events;
    const connectionId = connect?.event.requestContext.connectionId;
    expect(connect?.event.requestContext).toMatchObject({
      routeKey: '$connect',
      eventType: 'CONNECT',
      stage: 'live',
      domainName: 'room.example.com',
      identity: { sourceIp: '127.0.0.1', userAgent: 'test-visitor' },
    });
    expect(connect?.event.queryStringParameters).toEqual({ lang: 'fr' });
    expect(connect?.event.headers).toMatchObject({ 'user-agent': 'test-visitor' });
    const frames = events.filter((e) => e.event.requestContext.eventType === 'MESSAGE');
    expect(frames.map((e) => e.routeKey).sort()).toEqual([
      '$default',
      '$default',
      '$default',
      '$default',
      '$default',
      'join',
    ]);
    const binary = frames.find((e) => e.event.isBase64Encoded);
    expect(binary?.event.body).toBe(Buffer.from([1, 2, 3]).toString('base64'));
    expect(new Set(events.map((e) => e.event.requestContext.connectionId))).toEqual(
      new Set([connectionId]),
    );
    const disconnect = events.find((e) => e.routeKey === '$disconnect');
    expect(disconnect?.event.requestContext).toMatchObject({ eventType: 'DISCONNECT' });
  });

  it('refuses the handshake when $connect answers with an error status', async () => {
    // Prepare
    const { url } = await startApi({ connectStatus: 403 });

    // Act
    const attempt = open(url);

    // Assess
    await expect(attempt).rejects.toThrow('refused with 403');
  });
});

describe('a peer that drops the connection while $connect runs', () => {
  it('costs nothing but its own connection', async () => {
    // Prepare: a $connect that takes a moment, as a cold Lambda does.
    const { url } = await startApi({ connectDelayMs: 200 });
    const { port } = new URL(url);

    // Act: an upgrade request, then a reset before the answer.
    const raw = createConnection({ host: '127.0.0.1', port: Number(port) });
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    raw.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.resetAndDestroy();
    await new Promise((resolve) => setTimeout(resolve, 400));
    const after = await open(url);

    // Assess: the stage is still up and takes new visitors.
    expect(after.readyState).toBe(WebSocket.OPEN);
  });
});

describe('the @connections management endpoint', () => {
  it('posts to, describes and closes a connection through the real SDK client', async () => {
    // Prepare
    const { events, url, management } = await startApi();
    const socket = await open(url);
    const received: string[] = [];
    socket.on('message', (data) => received.push(data.toString()));
    await until(() => events.length === 1);
    const ConnectionId = events[0]?.event.requestContext.connectionId as string;

    // Act
    await management.send(
      new PostToConnectionCommand({
        ConnectionId,
        Data: new TextEncoder().encode('{"type":"pong"}'),
      }),
    );
    const described = await management.send(new GetConnectionCommand({ ConnectionId }));
    const closing = closed(socket);
    await management.send(new DeleteConnectionCommand({ ConnectionId }));
    await closing;
    await until(() => events.some((e) => e.routeKey === '$disconnect'));
    const afterClose = await management
      .send(new PostToConnectionCommand({ ConnectionId, Data: new Uint8Array([123, 125]) }))
      .catch((error: Error) => error);

    // Assess
    await until(() => received.length === 1);
    expect(received).toEqual(['{"type":"pong"}']);
    expect(described.Identity?.SourceIp).toBe('127.0.0.1');
    expect((afterClose as Error).name).toBe('GoneException');
  });

  it('answers 410 Gone for a connection it never had', async () => {
    // Prepare
    const { management } = await startApi();

    // Act
    type SdkError = Error & { $metadata?: { httpStatusCode?: number } };
    const error = (await management
      .send(
        new PostToConnectionCommand({ ConnectionId: 'bm90IGEgY29ubg=', Data: new Uint8Array([1]) }),
      )
      .catch((e: SdkError) => e)) as SdkError;

    // Assess
    expect(error.name).toBe('GoneException');
    expect(error.$metadata?.httpStatusCode).toBe(410);
  });
});

describe("API Gateway's limits", () => {
  it('closes a connection idle past the idle timeout, and keeps one that sends frames', async () => {
    // Prepare
    const { url } = await startApi({ idleTimeoutMs: 400 });
    const idle = await open(url);
    const chatty = await open(url);
    const keepAlive = setInterval(() => chatty.send('{"action":"ping"}'), 100);

    // Act
    const idleClosed = await closed(idle);
    clearInterval(keepAlive);

    // Assess
    expect(idleClosed.code).toBe(1001);
    expect(chatty.readyState).toBe(WebSocket.OPEN);
  });

  it('keeps a connection open that only hears from the server (a push is activity too)', async () => {
    // Prepare
    const { url, events, management } = await startApi({ idleTimeoutMs: 400 });
    const listener = await open(url);
    await until(() => events.some((e) => e.routeKey === '$connect'));
    const ConnectionId = events[0]?.event.requestContext.connectionId as string;
    const push = () =>
      management
        .send(new PostToConnectionCommand({ ConnectionId, Data: new TextEncoder().encode('{}') }))
        .catch(() => {});
    const pushes = setInterval(push, 100);

    // Act
    await new Promise((resolve) => setTimeout(resolve, 1000));
    clearInterval(pushes);

    // Assess
    expect(listener.readyState).toBe(WebSocket.OPEN);
  });

  it('closes a connection at its maximum age however active it is', async () => {
    // Prepare
    const { url } = await startApi({ maxConnectionMs: 500 });
    const socket = await open(url);
    const keepAlive = setInterval(() => socket.send('{"action":"ping"}'), 100);

    // Act
    const result = await closed(socket);
    clearInterval(keepAlive);

    // Assess
    expect(result.code).toBe(1001);
  });

  it('closes a connection that sends a message over 128 KB (1009) and counts what it saw', async () => {
    // Prepare
    const { url, api: stage } = await startApi();
    const socket = await open(url);
    socket.send('{"action":"ping"}');

    // Act
    const closing = closed(socket);
    socket.send('x'.repeat(128 * 1024 + 1));
    const result = await closing;

    // Assess
    expect(result.code).toBe(1009);
    expect(stage.usage()).toMatchObject({ connections: 1, messagesIn: 1 });
    expect(stage.usage().connectionMinutes).toBeGreaterThan(0);
  });
});
