/**
 * `npm start`'s runtime: the shared HTTP front ({@link startFront}) over the in-process room
 * (`room.ts`): sockets answered by the route table in this process, the processor ticking here.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type WebSocket, WebSocketServer } from 'ws';
import { openDurableRoom } from '../functions/adapters/local/durable-room.ts';
import {
  DataDirError,
  openRoomFile,
  type RoomFile,
} from '../functions/adapters/local/room-file.ts';
import { systemClock } from '../functions/adapters/local/system-clock.ts';
import { isOriginAllowed } from '../functions/core/origins.ts';
import type { Clock } from '../functions/core/ports.ts';
import type { TickReport } from '../functions/core/processor.ts';
import { ErrorCode, errorMessage, type ServerMessage } from '../functions/core/protocol.ts';
import { createKeyedBucket, type SourceLimits, sourceKey } from '../functions/core/sources.ts';
import { handleDisconnect, handleFrame } from '../functions/router.ts';
import { settingsOf } from './admin.ts';
import { ConfigError, type LocalConfig } from './config.ts';
import { type FrontOptions, type RoomBackend, startFront } from './front.ts';
import { openLocalKeyRing } from './keys.ts';
import { createLocalRoom, type LocalConnection, type LocalRoom, type RoomData } from './room.ts';

export { HEALTH_PATH, JWKS_PATH, UNGATED_PATHS, WS_PATH } from './front.ts';

/** Frames past this size close the socket outright; between 4 KiB and this they get an error. */
const MAX_WS_PAYLOAD = 64 * 1024;

export interface LocalServerOptions extends FrontOptions {
  onTick?: (report: TickReport) => void;
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
  let room: LocalRoom | undefined;
  // Opened once the port is taken: a port in use fails before anything is read or written.
  const openBackend = async () => {
    const disk = settings.dataDir ? openDataDir(settings, clock, log) : null;
    try {
      const keyRing = await openLocalKeyRing({
        keyFile: settings.keyFile,
        dataDir: disk ? disk.file.dir : null,
        passTtlSeconds: settings.passTtlSeconds,
        clock,
      });
      room = createLocalRoom(
        settings,
        keyRing,
        clock,
        (error, context) => log('error', 'handler failed', { ...context, error: String(error) }),
        disk?.data,
      );
      return inProcessBackend(
        room,
        clock,
        log,
        options.onTick,
        disk?.file ?? null,
        settings.heartbeatSeconds,
        settings.allowedOrigins,
        settings.sourceLimits,
      );
    } catch (error) {
      await disk?.file.close();
      throw error;
    }
  };
  const { backend: _, ...front } = await startFront(settings, openBackend, options);
  return { ...front, room: room as LocalRoom };
}

/**
 * Opens the room's data directory and what the previous process left there. A directory that
 * cannot be used stops the start with a message naming `WR_DATA_DIR`; a failed write later
 * stops the process (a restart takes up what was committed).
 */
function openDataDir(
  settings: LocalConfig,
  clock: Clock,
  log: NonNullable<FrontOptions['log']>,
): { file: RoomFile; data: RoomData } {
  let file: RoomFile;
  try {
    file = openRoomFile(settings.dataDir as string, settings.roomId);
  } catch (error) {
    if (error instanceof DataDirError) throw new ConfigError('WR_DATA_DIR', error.message);
    throw error;
  }
  const durable = openDurableRoom(file, clock);
  const seeded = { enabled: settings.enabled, admitPerMinute: settings.admitPerMinute };
  if (durable.config === null) {
    file.journal.write(() => file.put('config', seeded));
  } else if (
    durable.config.enabled !== seeded.enabled ||
    durable.config.admitPerMinute !== seeded.admitPerMinute
  ) {
    log('info', 'live settings kept from the data directory (npm run room changes them)', {
      enabled: durable.config.enabled,
      admitPerMinute: durable.config.admitPerMinute,
    });
  }
  if (durable.restored.waiting + durable.restored.arriving > 0) {
    log('info', 'line restored from the data directory', {
      dir: file.dir,
      ...durable.restored,
    });
  }
  file.journal.onFailure = (error) => {
    log(
      'error',
      `WR_DATA_DIR: ${file.dir}: ${error.message}; stopping (what was confirmed is kept)`,
    );
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  };
  return {
    file,
    data: {
      store: durable.store,
      queue: durable.queue,
      config: durable.config,
      sourcesInLine: durable.sourcesInLine,
    },
  };
}

function inProcessBackend(
  room: LocalRoom,
  clock: Clock,
  log: NonNullable<FrontOptions['log']>,
  onTick: LocalServerOptions['onTick'],
  file: RoomFile | null,
  heartbeatSeconds: number,
  allowedOrigins: readonly string[],
  sourceLimits: SourceLimits | null,
): RoomBackend {
  /** Frame and disconnect work still running, awaited before the data directory closes. */
  const inFlight = new Set<Promise<void>>();
  /** Sockets that answered (a pong or any frame) since the last heartbeat. */
  const alive = new WeakSet<WebSocket>();
  let heartbeat: NodeJS.Timeout | undefined;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_PAYLOAD });
  let stopProcessor: (() => Promise<void>) | undefined;
  /** Open sockets per source address, and the new sockets each may still open. */
  const socketsOf = new Map<string, number>();
  const newSockets = sourceLimits ? createKeyedBucket(sourceLimits.newSockets) : null;

  // A connection's chain of work must never stay rejected, or every later push would fail.
  const logFailure = (message: string, connectionId: string) => (error: unknown) =>
    log('error', message, { connectionId, error: String(error) });

  function acceptSocket(ws: WebSocket, source: string | null): void {
    const connectionId = randomUUID();
    // Frames of one connection are handled one after another, in order, as they arrived.
    const connection: LocalConnection = { socket: ws, busy: Promise.resolve() };
    room.notifier.sockets.set(connectionId, connection);
    const reply = (messages: ServerMessage[]) => {
      if (ws.readyState !== ws.OPEN) return;
      for (const message of messages) ws.send(JSON.stringify(message));
    };
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('message', (data, isBinary) => {
      alive.add(ws);
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
          reply(await handleFrame(room.router, connectionId, data.toString(), source));
        })
        .catch(logFailure('frame failed', connectionId));
    });
    ws.on('close', () => {
      room.notifier.sockets.delete(connectionId);
      connection.busy = connection.busy
        .then(() => handleDisconnect(room.router, connectionId))
        .catch(logFailure('disconnect failed', connectionId));
      const done = connection.busy;
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
    });
    ws.on('error', () => ws.terminate());
  }

  return {
    // Read at each request: a rotation changes it.
    get jwks() {
      return room.jwks;
    },
    rotateKey: (options) => room.keyRing.rotate(options),
    isEnabled: () => room.config.current().enabled,
    status: () => room.status(),
    async changeConfig(change) {
      const config = room.config.set(settingsOf(change));
      // Kept as SSM keeps it on AWS: a restart comes back with the operator's settings.
      if (file) {
        file.journal.write(() => file.put('config', config));
        await file.journal.settled();
      }
    },
    handleUpgrade(req, socket, head) {
      // A page on another site would make its visitors' browsers take places.
      if (!isOriginAllowed(req.headers.origin, allowedOrigins)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const source = sourceKey(req.socket.remoteAddress);
      if (source !== null && sourceLimits) {
        // One address opening sockets by the thousand: refused before the handshake, as
        // API Gateway's `$connect` refuses it (the page backs off and tries again).
        const open = socketsOf.get(source) ?? 0;
        if (open >= sourceLimits.maxSockets || !newSockets?.take(source, clock.now())) {
          socket.end(
            'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
          );
          return;
        }
        socketsOf.set(source, open + 1);
        // The TCP socket's close: after the WebSocket's, or after a handshake that failed.
        socket.once('close', () => {
          const left = (socketsOf.get(source) ?? 1) - 1;
          if (left > 0) socketsOf.set(source, left);
          else socketsOf.delete(source);
        });
      }
      // With the limits off (`WR_SOURCE_LIMITS=off`) nothing is counted per source.
      wss.handleUpgrade(req, socket, head, (ws) => acceptSocket(ws, sourceLimits ? source : null));
    },
    ...(file
      ? {
          async backup() {
            // Inside the data directory, named by the time: nothing outside it is written.
            const dir = join(file.dir, 'backups');
            await mkdir(dir, { recursive: true, mode: 0o700 });
            const path = join(
              dir,
              `room-${new Date(clock.now()).toISOString().replace(/[:.]/g, '-')}.db`,
            );
            return { path, bytes: await file.backup(path) };
          },
        }
      : {}),
    start() {
      stopProcessor = room.startProcessor(onTick, (error) =>
        log('error', 'tick failed', { error: String(error) }),
      );
      if (heartbeatSeconds > 0) {
        // A socket that stops answering (a phone gone out of reach, a half-open connection)
        // is closed at the next beat: its visitor's abandon grace starts, as for any close.
        heartbeat = setInterval(() => {
          for (const ws of wss.clients) {
            if (!alive.has(ws)) {
              ws.terminate();
              continue;
            }
            alive.delete(ws);
            ws.ping();
          }
        }, heartbeatSeconds * 1000);
        heartbeat.unref();
      }
    },
    async close() {
      clearInterval(heartbeat);
      await stopProcessor?.();
      // The sockets' disconnects are written before the data directory closes: a socket's
      // 'close' comes a few turns after its terminate, and its disconnect is queued then.
      const closed = [...wss.clients]
        .filter((ws) => ws.readyState !== ws.CLOSED)
        .map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await Promise.all(closed);
      await Promise.all(inFlight);
      await file?.close();
    },
  };
}
