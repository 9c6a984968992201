/**
 * The admin endpoint's secret: a random token the room writes where only its operator can read
 * it (mode 0600, in a 0700 directory), and that `npm run room` reads from the same place and
 * sends as `Authorization: Bearer <secret>`. The place follows from the same `WR_DATA_DIR` and
 * `PORT` the room was started with: `admin-secret` in the data directory (kept across restarts),
 * or, for a room that keeps nothing on disk, `waiting-room-<port>/admin-secret` in the system's
 * temporary directory (a new one at every start, removed when the room stops).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const ADMIN_SECRET_FILE = 'admin-secret';

/** Where the room on `port` with `dataDir` (null: in memory only) keeps its admin secret. */
export function adminSecretPath(dataDir: string | null, port: number): string {
  return dataDir
    ? join(dataDir, ADMIN_SECRET_FILE)
    : join(tmpdir(), `waiting-room-${port}`, ADMIN_SECRET_FILE);
}

export interface AdminSecret {
  readonly path: string;
  /** Whether `presented` is the secret (in constant time). */
  matches(presented: string): boolean;
  /** Removes a secret kept only for this run (a data directory's stays). */
  dispose(): Promise<void>;
}

/**
 * The room's admin secret: the one in the data directory if there is one, else a new one.
 * Throws the file system's error if it cannot be written (the caller names the setting).
 */
export async function openAdminSecret(dataDir: string | null, port: number): Promise<AdminSecret> {
  const path = adminSecretPath(dataDir, port);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let secret = dataDir ? await readFile(path, 'utf8').catch(() => '') : '';
  secret = secret.trim();
  if (secret.length < 32) {
    secret = randomBytes(32).toString('base64url');
    await writeFile(path, `${secret}\n`, { mode: 0o600 });
  }
  await chmod(path, 0o600);
  const expected = Buffer.from(secret);
  return {
    path,
    matches(presented) {
      const given = Buffer.from(presented);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    async dispose() {
      if (!dataDir) await rm(dirname(path), { recursive: true, force: true });
    },
  };
}

/** Reads the secret `npm run room` sends; a clear error says where it looked. */
export async function readAdminSecret(dataDir: string | null, port: number): Promise<string> {
  const path = adminSecretPath(dataDir, port);
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new Error(
      `cannot read the room's admin secret at ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): run this with the WR_DATA_DIR and PORT the room was started with, as the user that started it`,
    );
  }
}

/**
 * Calls the admin endpoint of the room at `base` the way `npm run room` does: with the secret of
 * the room on that port kept in memory (its file in the temporary directory), else the one in
 * `dataDir` (the `WR_DATA_DIR` the room was started with); a refused secret tries the other.
 */
export async function adminFetch(
  base: string,
  route: string,
  init: RequestInit = {},
  dataDir: string | null = null,
): Promise<Response> {
  const url = new URL(`/__room/admin/${route}`, base);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const places = [null, dataDir].filter((d, i, all) => all.indexOf(d) === i);
  let lastError: Error | null = null;
  let response: Response | null = null;
  for (const place of places) {
    let secret: string;
    try {
      secret = await readAdminSecret(place, port);
    } catch (error) {
      lastError = error as Error;
      continue;
    }
    response = await fetch(url, {
      ...init,
      headers: {
        ...(init.method === 'POST' ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as Record<string, string> | undefined),
        authorization: `Bearer ${secret}`,
      },
    });
    if (response.status !== 401) return response;
  }
  if (response) return response;
  throw lastError ?? new Error('no admin secret found');
}
