/**
 * The local runtime: one Node process serving the main site behind the gate, the waiting-room
 * page, its WebSocket, the JWKS and the operator's admin endpoint, and running the processor.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { parseGateConfig } from '../edge/gate.ts';
import { createNodeGate } from '../edge/node-gate.ts';
import { systemClock } from '../functions/adapters/local/system-clock.ts';
import type { Clock } from '../functions/core/ports.ts';
import type { TickReport } from '../functions/core/processor.ts';
import { ErrorCode, errorMessage, type ServerMessage } from '../functions/core/protocol.ts';
import { verifierFor } from '../functions/core/tokens.ts';
import { handleDisconnect, handleFrame } from '../functions/router.ts';
import { ADMIN_PREFIX, handleAdmin } from './admin.ts';
import type { LocalConfig } from './config.ts';
import { serveDemoSite } from './demo-site.ts';
import { BASE_HEADERS, sendJson, sendText } from './http-util.ts';
import { loadOrCreateKey } from './keys.ts';
import { createUpstreamProxy } from './proxy.ts';
import { createLocalRoom, type LocalConnection, type LocalRoom } from './room.ts';
import { createPageServer, PAGE_PREFIX } from './static-page.ts';

export const WS_PATH = '/ws';
export const JWKS_PATH = '/.well-known/jwks.json';
export const HEALTH_PATH = '/__room/health';
/** Frames past this size close the socket outright; between 4 KiB and this they get an error. */
const MAX_WS_PAYLOAD = 64 * 1024;
/** Paths the waiting room itself needs: never gated. */
export const UNGATED_PATHS = [PAGE_PREFIX, WS_PATH, '/.well-known/', '/__room/', '/favicon.ico'];

export interface LocalServerOptions {
  /** Directory of the built page (client/dist). */
  clientDir: string;
  clock?: Clock;
  onTick?: (report: TickReport) => void;
  log?: (level: 'info' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface LocalServer {
  /** http://host:port the server listens on. */
  url: string;
  port: number;
  room: LocalRoom;
  close(): Promise<void>;
}

/** Starts the whole local waiting room and resolves once it listens. */
export async function startLocalServer(
  settings: LocalConfig,
  options: LocalServerOptions,
): Promise<LocalServer> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const key = await loadOrCreateKey(settings.keyFile);
  const room = createLocalRoom(settings, key, clock, (error, context) =>
    log('error', 'handler failed', { ...context, error: String(error) }),
  );
  const gate = createNodeGate({
    config: parseGateConfig({
      roomId: settings.roomId,
      mainOrigin: settings.publicUrl,
      waitingRoomUrl: `${settings.publicUrl}${PAGE_PREFIX}`,
      ungatedPaths: UNGATED_PATHS,
      defaultEnabled: true,
      flagTtlMs: 0,
    }),
    verifyKeys: verifierFor(room.jwks),
    isEnabled: () => room.config.current().enabled,
    clock,
  });
  const servePage = createPageServer(options.clientDir, {
    wsUrl: null,
    mainOrigin: settings.publicUrl,
    roomName: 'Aurora Live',
  });
  const serveMain = settings.upstream
    ? createUpstreamProxy(settings.upstream)
    : (req: IncomingMessage, res: ServerResponse) =>
        serveDemoSite(req, res, new URL(req.url ?? '/', settings.publicUrl));

  const server = createServer(async (req, res) => {
    try {
      await route(req, res);
    } catch (error) {
      log('error', 'request failed', { url: req.url, error: String(error) });
      if (!res.headersSent) sendText(res, 500, 'Internal error');
      else res.destroy();
    }
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname;
    if (path === JWKS_PATH) {
      sendJson(res, 200, room.jwks, {
        'cache-control': 'public, max-age=300',
        'access-control-allow-origin': '*',
      });
    } else if (path === HEALTH_PATH) {
      sendJson(res, 200, { ok: true });
    } else if (path.startsWith(ADMIN_PREFIX)) {
      await handleAdmin(room, req, res, path);
    } else if (path === '/waiting-room') {
      res.writeHead(301, { ...BASE_HEADERS, location: `${PAGE_PREFIX}${url.search}` });
      res.end();
    } else if (path.startsWith(PAGE_PREFIX)) {
      await servePage(req, res, path);
    } else if (path === WS_PATH) {
      sendText(res, 426, 'This address takes WebSocket connections.');
    } else if (!(await gate(req, res))) {
      serveMain(req, res);
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_PAYLOAD });
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    if (path !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => acceptSocket(ws));
  });

  // A connection's chain of work must never stay rejected, or every later push would fail.
  const logFailure = (message: string, connectionId: string) => (error: unknown) =>
    log('error', message, { connectionId, error: String(error) });

  function acceptSocket(ws: WebSocket): void {
    const connectionId = randomUUID();
    // Frames of one connection are handled one after another, in order, as they arrived.
    const connection: LocalConnection = { socket: ws, busy: Promise.resolve() };
    room.notifier.sockets.set(connectionId, connection);
    const reply = (messages: ServerMessage[]) => {
      if (ws.readyState !== ws.OPEN) return;
      for (const message of messages) ws.send(JSON.stringify(message));
    };
    ws.on('message', (data, isBinary) => {
      connection.busy = connection.busy
        .then(async () => {
          if (isBinary) {
            // Counted like any frame, so a binary flood is rate-limited like a text one.
            const allowed = room.router.limiter?.allow(connectionId, clock.now()) ?? true;
            reply([
              allowed
                ? errorMessage(ErrorCode.badRequest, 'binary frames are not supported')
                : errorMessage(ErrorCode.rateLimited, 'too many messages; slow down'),
            ]);
            return;
          }
          reply(await handleFrame(room.router, connectionId, data.toString()));
        })
        .catch(logFailure('frame failed', connectionId));
    });
    ws.on('close', () => {
      room.notifier.sockets.delete(connectionId);
      connection.busy = connection.busy
        .then(() => handleDisconnect(room.router, connectionId))
        .catch(logFailure('disconnect failed', connectionId));
    });
    ws.on('error', () => ws.terminate());
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const stopProcessor = room.startProcessor(options.onTick, (error) =>
    log('error', 'tick failed', { error: String(error) }),
  );

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    room,
    async close() {
      await stopProcessor();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
