/**
 * The HTTP front that both local runtimes share (`npm start` and `npm run start:aws-local`):
 * the main site behind the gate (demo site or `WR_UPSTREAM`), the waiting-room page, the JWKS,
 * the health check, the operator's admin endpoint and the WebSocket upgrade on `/ws`. What sits
 * behind `/ws`, and where the room's state and settings live, is the {@link RoomBackend}'s.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseGateConfig } from '../edge/gate.ts';
import { createNodeGate, originFormOf } from '../edge/node-gate.ts';
import { systemClock } from '../functions/adapters/local/system-clock.ts';
import { admittedInLastMinute } from '../functions/core/admission.ts';
import { type PublishedDraw, publishedDraw } from '../functions/core/draw.ts';
import type { KeyRotationResult } from '../functions/core/key-ring.ts';
import type { Clock, RoomConfig, SessionStore } from '../functions/core/ports.ts';
import { fairLaunchOf } from '../functions/core/room-settings.ts';
import { liveVerifierFor } from '../functions/core/tokens.ts';
import { ADMIN_PREFIX, type ConfigChange, handleAdmin } from './admin.ts';
import { type AdminSecret, openAdminSecret } from './admin-secret.ts';
import { ConfigError, type LocalConfig } from './config.ts';
import { serveDemoSite } from './demo-site.ts';
import { BASE_HEADERS, sendJson, sendText } from './http-util.ts';
import { createUpstreamProxy, type UpstreamProxyOptions } from './proxy.ts';
import { createPageServer, PAGE_PREFIX } from './static-page.ts';

export const WS_PATH = '/ws';
export const JWKS_PATH = '/.well-known/jwks.json';
export const HEALTH_PATH = '/__room/health';
/** Paths the waiting room itself needs: never gated. */
export const UNGATED_PATHS = [PAGE_PREFIX, WS_PATH, '/.well-known/', '/__room/', '/favicon.ico'];

/**
 * Prefixes of ungated paths that are the room's alone: what the room does not serve under them
 * is a 404 from the room, never a request to the main site. Ungated and forwarded, any path under
 * them would reach the main site without a pass. (`/favicon.ico` itself is the main site's.)
 */
const ROOM_ONLY_PREFIXES = ['/.well-known/', '/__room/', `${WS_PATH}/`, '/favicon.ico/'];

/** Whether `path` is one of {@link ROOM_ONLY_PREFIXES} or lies under one. */
function isRoomOnlyPath(path: string): boolean {
  return ROOM_ONLY_PREFIXES.some(
    (prefix) => path.startsWith(prefix) || path === prefix.slice(0, -1),
  );
}

/** What `npm run room -- status` shows. */
export interface RoomStatus {
  enabled: boolean;
  admitPerMinute: number;
  /** When admission opens (epoch ms), or null: no schedule. */
  opensAt: number | null;
  /** The proof-of-work cost of a join; 0: off. */
  powCost: number;
  /** The operator's words to everyone waiting, or null. */
  message: string | null;
  /** The closing words when the sale is over, or null: open for sale. */
  closed: string | null;
  /**
   * The draw of a scheduled opening as published (`draw.ts`): its commitment, and its seed and
   * the number drawn once made; null without a schedule.
   */
  draw: PublishedDraw | null;
  waiting: number;
  arriving: number;
  admittedLastMinute: number;
  admittedTotal: number;
  abandonedTotal: number;
  connections: number;
}

/** The status of a room from its live config, its store and its open connections. */
export async function readRoomStatus(
  config: RoomConfig,
  store: Pick<SessionStore, 'counts' | 'getRoomState'>,
  connections: number,
  now: number,
): Promise<RoomStatus> {
  const [counts, state] = await Promise.all([store.counts(), store.getRoomState()]);
  return {
    enabled: config.enabled,
    admitPerMinute: config.admitPerMinute,
    ...fairLaunchOf(config),
    draw: state.draw ? publishedDraw(state.draw) : null,
    waiting: counts.waiting,
    arriving: counts.arriving,
    admittedLastMinute: admittedInLastMinute(state, now),
    admittedTotal: counts.admitted,
    abandonedTotal: counts.abandoned,
    connections,
  };
}

/** Where a runtime keeps the room, and what answers its WebSockets. */
export interface RoomBackend {
  /**
   * The room's public keys, served at {@link JWKS_PATH} and used by the gate; read at each use,
   * so a key rotation reaches both at once.
   */
  readonly jwks: { keys: object[] };
  /** Whether the room is on, for the gate (a failure counts as on). */
  isEnabled(): boolean | Promise<boolean>;
  status(): Promise<RoomStatus>;
  /** An operator's change; it applies from the next tick. */
  changeConfig(change: ConfigChange): Promise<void>;
  /**
   * Backs the room's data directory up while it runs (`npm run room -- backup`); absent when
   * the room keeps nothing on disk.
   */
  backup?(): Promise<{ path: string; bytes: number }>;
  /**
   * Rotates the room's signing keys (`npm run room -- rotate-key [--force]`): the next key
   * (already published) signs from now on. A rotation refused as too soon is an answer, not an
   * error; a room that cannot rotate at all (a key pinned by `WR_KEY_FILE`) throws.
   */
  rotateKey?(options: { force: boolean }): Promise<KeyRotationResult>;
  /** Extra loopback-only admin routes (`GET /__room/admin/<name>`), such as AWS usage. */
  adminReports?: Record<string, () => Promise<unknown>>;
  /** Takes over an upgrade request on {@link WS_PATH}. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Starts the processor, once the front listens. */
  start(): void;
  close(): Promise<void>;
}

export type Log = (
  level: 'info' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export interface FrontOptions {
  /** Directory of the built page (client/dist). */
  clientDir: string;
  clock?: Clock;
  log?: Log;
  /** Limits and timeouts of the `WR_UPSTREAM` proxy (tests shorten them). */
  proxy?: Partial<UpstreamProxyOptions>;
}

export interface Front {
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves the room's HTTP front over the backend `openBackend` starts, and resolves once both are
 * up. The port is taken first: a port in use fails at once, before the backend starts anything
 * (on start:aws-local, a dozen processes and servers), and nothing can take the port meanwhile.
 * Until the backend is ready, requests get 503 with Retry-After.
 */
export async function startFront<B extends RoomBackend>(
  settings: LocalConfig,
  openBackend: () => Promise<B>,
  options: FrontOptions,
): Promise<Front & { backend: B }> {
  const server = createServer((_req, res) => {
    res.setHeader('retry-after', '1');
    sendText(res, 503, 'The waiting room is starting.');
  });
  server.on('upgrade', (_req, socket) =>
    socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n'),
  );
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  let backend: B;
  let secret: AdminSecret;
  try {
    backend = await openBackend();
    try {
      secret = await openAdminSecret(settings.dataDir, port);
    } catch (error) {
      await backend.close();
      throw new ConfigError(
        'WR_DATA_DIR',
        `cannot write the admin secret (${(error as Error).message})`,
      );
    }
  } catch (error) {
    await new Promise<void>((done) => server.close(() => done()));
    throw error;
  }
  const closeFront = serveFront(server, settings, backend, secret, options);
  backend.start();

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    backend,
    async close() {
      await backend.close();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await closeFront();
      await secret.dispose();
    },
  };
}

/**
 * Replaces the listening server's start-up answers with the room's routes; resolves a function
 * that closes what they opened (the upstream proxy's connections).
 */
function serveFront(
  server: Server,
  settings: LocalConfig,
  backend: RoomBackend,
  secret: AdminSecret,
  options: FrontOptions,
): () => Promise<void> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const gate = createNodeGate({
    config: parseGateConfig({
      roomId: settings.roomId,
      mainOrigin: settings.publicUrl,
      waitingRoomUrl: `${settings.publicUrl}${PAGE_PREFIX}`,
      ungatedPaths: UNGATED_PATHS,
      defaultEnabled: true,
      flagTtlMs: 0,
      passTtlSeconds: settings.passTtlSeconds,
    }),
    verifyKeys: liveVerifierFor(() => backend.jwks),
    isEnabled: () => backend.isEnabled(),
    clock,
  });
  const servePage = createPageServer(options.clientDir, {
    wsUrl: null,
    mainOrigin: settings.publicUrl,
    ...settings.branding,
  });
  const proxy = settings.upstream
    ? createUpstreamProxy(settings.upstream, {
        // The cap per client address is a limit per source: `WR_SOURCE_LIMITS=off` lifts it.
        ...(settings.sourceLimits ? {} : { maxInFlightPerClient: Number.POSITIVE_INFINITY }),
        ...options.proxy,
      })
    : null;
  const serveMain = proxy
    ? proxy.handle
    : (req: IncomingMessage, res: ServerResponse) =>
        serveDemoSite(req, res, new URL(req.url ?? '/', settings.publicUrl));

  server.removeAllListeners('request');
  server.removeAllListeners('upgrade');
  server.on('request', async (req: IncomingMessage, res: ServerResponse) => {
    try {
      await route(req, res);
    } catch (error) {
      log('error', 'request failed', { url: req.url, error: String(error) });
      if (!res.headersSent) sendText(res, 500, 'Internal error');
      else res.destroy();
    }
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // One target for every check below and for the main site: an absolute-form target
    // (`GET http://host/path`) becomes its path and query, its host ignored.
    const target = originFormOf(req.url ?? '/');
    if (target === null) {
      sendText(res, 400, 'The request target is not a path.');
      return;
    }
    req.url = target;
    const url = new URL(target, 'http://local');
    const path = url.pathname;
    const rawPath = target.split('?', 1)[0] ?? target;
    if (path === JWKS_PATH) {
      sendJson(res, 200, backend.jwks, {
        'cache-control': 'public, max-age=300',
        'access-control-allow-origin': '*',
      });
    } else if (path === HEALTH_PATH) {
      sendJson(res, 200, { ok: true });
    } else if (path.startsWith(ADMIN_PREFIX)) {
      await handleAdmin(backend, req, res, path, secret);
    } else if (path === '/waiting-room') {
      res.writeHead(301, { ...BASE_HEADERS, location: `${PAGE_PREFIX}${url.search}` });
      res.end();
    } else if (path.startsWith(PAGE_PREFIX)) {
      await servePage(req, res, path);
    } else if (path === WS_PATH) {
      sendText(res, 426, 'This address takes WebSocket connections.');
    } else if (isRoomOnlyPath(path) || isRoomOnlyPath(rawPath)) {
      // Either reading of the path (as sent, or with its dot segments resolved) counts.
      sendText(res, 404, 'Not found.');
    } else if (!(await gate(req, res))) {
      serveMain(req, res);
    }
  }

  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    if (path !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    backend.handleUpgrade(req, socket, head);
  });

  return async () => {
    await proxy?.close();
  };
}
