/**
 * Starts the real local runtime on a free loopback port for a test, with settings from the same
 * environment variables `npm start` reads.
 */
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readLocalConfig } from '../../local/config.ts';
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

export interface TestRoom extends LocalServer {
  wsUrl: string;
  errors: string[];
}

export async function startTestRoom(env: Record<string, string> = {}): Promise<TestRoom> {
  const port = await freePort();
  const settings = readLocalConfig({
    HOST: '127.0.0.1',
    PORT: String(port),
    WR_PUBLIC_URL: `http://127.0.0.1:${port}`,
    ...env,
  });
  const errors: string[] = [];
  const server = await startLocalServer(settings, {
    clientDir: CLIENT_DIST,
    log: (level, message, fields) => {
      if (level === 'error') errors.push(`${message} ${JSON.stringify(fields)}`);
    },
  });
  return { ...server, wsUrl: `ws://127.0.0.1:${port}/ws`, errors };
}
