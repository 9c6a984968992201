/**
 * `npm start`'s runtime: the shared HTTP front ({@link startFront}) over the in-process room
 * (`room.ts`): sockets answered by the route table in this process, the processor ticking here.
 */
import { randomUUID } from 'node:crypto';
import { type WebSocket, WebSocketServer } from 'ws';
import { systemClock } from '../functions/adapters/local/system-clock.ts';
import type { Clock } from '../functions/core/ports.ts';
import type { TickReport } from '../functions/core/processor.ts';
import { ErrorCode, errorMessage, type ServerMessage } from '../functions/core/protocol.ts';
import { handleDisconnect, handleFrame } from '../functions/router.ts';
import type { LocalConfig } from './config.ts';
import { type FrontOptions, type RoomBackend, startFront } from './front.ts';
import { loadOrCreateKey } from './keys.ts';
import { createLocalRoom, type LocalConnection, type LocalRoom } from './room.ts';

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
  const key = await loadOrCreateKey(settings.keyFile);
  const room = createLocalRoom(settings, key, clock, (error, context) =>
    log('error', 'handler failed', { ...context, error: String(error) }),
  );
  const { backend: _, ...front } = await startFront(
    settings,
    async () => inProcessBackend(room, clock, log, options.onTick),
    options,
  );
  return { ...front, room };
}

function inProcessBackend(
  room: LocalRoom,
  clock: Clock,
  log: NonNullable<FrontOptions['log']>,
  onTick: LocalServerOptions['onTick'],
): RoomBackend {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_PAYLOAD });
  let stopProcessor: (() => Promise<void>) | undefined;

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

  return {
    jwks: room.jwks,
    isEnabled: () => room.config.current().enabled,
    status: () => room.status(),
    async changeConfig({ enabled, admitPerMinute }) {
      room.config.set({
        ...(enabled === undefined ? {} : { enabled }),
        ...(admitPerMinute === undefined ? {} : { admitPerMinute }),
      });
    },
    handleUpgrade(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => acceptSocket(ws));
    },
    start() {
      stopProcessor = room.startProcessor(onTick, (error) =>
        log('error', 'tick failed', { error: String(error) }),
      );
    },
    async close() {
      await stopProcessor?.();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
