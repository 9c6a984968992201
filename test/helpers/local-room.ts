/**
 * Starts a real room on a free loopback port for a test, with settings from the same
 * environment variables `npm start` and `npm run start:aws-local` read: `startTestRoom` for the
 * in-process runtime (with its internals at hand), `startRuntimeRoom` for either runtime behind
 * one black-box face, so the same scenario runs against both.
 */
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { SessionStore } from '../../functions/core/ports.ts';
import type { SigningKey } from '../../functions/core/tokens.ts';
import { readAwsLocalConfig } from '../../local/aws-local/config.ts';
import { startAwsLocalServer } from '../../local/aws-local/server.ts';
import type { AwsUsage } from '../../local/aws-local/usage.ts';
import { readLocalConfig } from '../../local/config.ts';
import type { RoomStatus } from '../../local/front.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';

export const CLIENT_DIST = fileURLToPath(new URL('../../client/dist/', import.meta.url));

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Runs `start` on a free port, and again on another if something took that port between the
 * probe and the listen (other test files open thousands of client sockets from the same range).
 */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start(await freePort());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 5) throw error;
    }
  }
}

export interface TestRoom extends LocalServer {
  wsUrl: string;
  errors: string[];
}

function testSettings(port: number, env: Record<string, string>) {
  return readLocalConfig({
    HOST: '127.0.0.1',
    PORT: String(port),
    WR_PUBLIC_URL: `http://127.0.0.1:${port}`,
    // Tests that keep the room on disk name their own directory.
    WR_DATA_DIR: ':memory:',
    // Every visitor of a test speaks from 127.0.0.1: the per-source tests turn the limits on.
    WR_SOURCE_LIMITS: 'off',
    ...env,
  });
}

export async function startTestRoom(env: Record<string, string> = {}): Promise<TestRoom> {
  const errors: string[] = [];
  const server = await onFreePort((port) =>
    startLocalServer(testSettings(port, env), {
      clientDir: CLIENT_DIST,
      log: (level, message, fields) => {
        if (level === 'error') errors.push(`${message} ${JSON.stringify(fields)}`);
      },
    }),
  );
  return { ...server, wsUrl: `ws://127.0.0.1:${server.port}/ws`, errors };
}

/** `npm start` and `npm run start:aws-local`. */
export const RUNTIMES = ['local', 'aws-local'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Either runtime, as a visitor and an operator see it, plus a look at the stored sessions. */
export interface RuntimeRoom {
  runtime: Runtime;
  url: string;
  wsUrl: string;
  port: number;
  errors: string[];
  key: SigningKey;
  store: Pick<SessionStore, 'get'>;
  status(): Promise<RoomStatus>;
  /** Frames past this size close the socket (64 KiB locally; API Gateway's 128 KB on AWS). */
  maxFrameBytes: number;
  /**
   * How long a settings change may take to reach the room: the next tick locally; on AWS the
   * processor reads SSM once a second and mirrors it for the handlers, who keep it a second.
   */
  settleMs: number;
  /** AWS usage so far (aws-local only). */
  usage?(): Promise<AwsUsage>;
  close(): Promise<void>;
}

export async function startRuntimeRoom(
  runtime: Runtime,
  env: Record<string, string> = {},
): Promise<RuntimeRoom> {
  if (runtime === 'local') {
    const room = await startTestRoom(env);
    return {
      runtime,
      url: room.url,
      wsUrl: room.wsUrl,
      port: room.port,
      errors: room.errors,
      key: room.room.key,
      store: room.room.store,
      status: () => room.room.status(),
      maxFrameBytes: 64 * 1024,
      settleMs: 1000,
      close: () => room.close(),
    };
  }
  const errors: string[] = [];
  const server = await onFreePort((port) =>
    startAwsLocalServer(testSettings(port, env), readAwsLocalConfig(env), {
      clientDir: CLIENT_DIST,
      log: (level, message, fields) => {
        if (level === 'error') errors.push(`${message} ${JSON.stringify(fields)}`);
      },
    }),
  );
  const { port } = server;
  return {
    runtime,
    url: server.url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    port,
    errors,
    key: server.backend.key,
    store: server.backend.store,
    status: () => server.backend.status(),
    maxFrameBytes: 128 * 1024,
    settleMs: 3000,
    usage: () => server.backend.usage(),
    close: () => server.close(),
  };
}
