/**
 * The operator's admin endpoint behind `npm run room`: status, on/off and rate, live, on either
 * runtime, and a backup of the local runtime's data directory. It answers only requests from
 * loopback that carry the room's secret (`admin-secret.ts`) and come from no web page; the
 * room's config changes apply at the next tick.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import type { AdminSecret } from './admin-secret.ts';
import type { RoomBackend } from './front.ts';
import { isLoopback, readJsonRequest, sendJson } from './http-util.ts';
import { KeyRotationUnavailableError } from './keys.ts';

export const ADMIN_PREFIX = '/__room/admin/';

/** The highest rate the room takes (the admin endpoint and the operator console alike). */
export const MAX_ADMIT_PER_MINUTE = 1_000_000;

/** The fields of a config change; the console adds its own (`confirm`) to these. */
export const CONFIG_CHANGE_ENTRIES = {
  enabled: v.optional(v.boolean()),
  admitPerMinute: v.optional(
    v.pipe(
      v.number(),
      v.integer('must be a whole number'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(MAX_ADMIT_PER_MINUTE, `must be at most ${MAX_ADMIT_PER_MINUTE}`),
    ),
  ),
};

/** A change must change something (a pipe step, for this schema and the console's). */
export function somethingToChange<T extends { enabled?: boolean; admitPerMinute?: number }>() {
  return v.check<T, string>(
    (c) => c.enabled !== undefined || c.admitPerMinute !== undefined,
    'nothing to change',
  );
}

/** `POST config`: on/off and rate, at least one of them. */
export const ConfigChangeSchema = v.pipe(
  v.strictObject(CONFIG_CHANGE_ENTRIES),
  somethingToChange(),
);

export type ConfigChange = v.InferOutput<typeof ConfigChangeSchema>;

const RotateKeySchema = v.strictObject({ force: v.optional(v.boolean()) });

/** Host names a loopback-only endpoint may be asked for (not a rebound DNS name). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The request's `Host` as a URL (hostname and port) when it names a loopback host, else null:
 * a page on a rebound DNS name (DNS rebinding) names its own. The admin endpoint and the
 * operator console both refuse anything else.
 */
export function loopbackHost(req: IncomingMessage): URL | null {
  const host = req.headers.host ?? '';
  if (!URL.canParse(`http://${host}`)) return null;
  const url = new URL(`http://${host}`);
  return LOOPBACK_HOSTS.has(url.hostname) ? url : null;
}

/**
 * Why a request may not use the admin endpoint, or null. It must come from loopback, name a
 * loopback host (a page on a rebound DNS name names its own), not come from a browser page
 * (`Origin`, or `Sec-Fetch-Site` other than `none`: a cross-site form or fetch), and carry the
 * secret (behind a reverse proxy on this host every request comes from loopback).
 */
function refusal(
  req: IncomingMessage,
  secret: AdminSecret,
): { status: number; error: string } | null {
  if (!isLoopback(req)) {
    return { status: 403, error: 'the admin endpoint answers only from this machine' };
  }
  if (!loopbackHost(req)) {
    return { status: 403, error: 'the admin endpoint answers only to a loopback Host' };
  }
  const fetchSite = req.headers['sec-fetch-site'];
  if (req.headers.origin !== undefined || (fetchSite !== undefined && fetchSite !== 'none')) {
    return { status: 403, error: 'the admin endpoint does not answer web pages' };
  }
  const authorization = req.headers.authorization ?? '';
  const presented = authorization.startsWith('Bearer ') ? authorization.slice(7).trim() : '';
  if (!secret.matches(presented)) {
    return {
      status: 401,
      error: `the admin endpoint needs the room's secret (npm run room reads it from ${secret.path})`,
    };
  }
  return null;
}

export async function handleAdmin(
  room: RoomBackend,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  secret: AdminSecret,
): Promise<void> {
  const refused = refusal(req, secret);
  if (refused) {
    sendJson(res, refused.status, { error: refused.error });
    return;
  }
  if (req.method === 'POST' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    sendJson(res, 415, { error: 'the admin endpoint takes application/json' });
    return;
  }
  const route = path.slice(ADMIN_PREFIX.length);
  if (route === 'status' && req.method === 'GET') {
    sendJson(res, 200, await room.status());
    return;
  }
  const report =
    room.adminReports && Object.hasOwn(room.adminReports, route)
      ? room.adminReports[route]
      : undefined;
  if (report && req.method === 'GET') {
    sendJson(res, 200, await report());
    return;
  }
  if (route === 'backup' && req.method === 'POST') {
    if (!room.backup) {
      sendJson(res, 409, {
        error:
          'this room keeps nothing on disk to back up (WR_DATA_DIR=:memory:, or start:aws-local)',
      });
      return;
    }
    sendJson(res, 200, await room.backup());
    return;
  }
  if (route === 'rotate-key' && req.method === 'POST') {
    await rotateKey(room, req, res);
    return;
  }
  if (route === 'config' && req.method === 'POST') {
    const change = await readJsonRequest(req, res, ConfigChangeSchema, { limit: 4096 });
    if (change === undefined) return;
    await room.changeConfig(change);
    sendJson(res, 200, await room.status());
    return;
  }
  sendJson(res, 404, { error: `no admin route ${req.method} ${path}` });
}

/**
 * `POST rotate-key {"force"?: true}`: 200 with the ring after a rotation (or after publishing
 * the next key of a ring that had none); 409 when it is refused (too soon, or a pinned key).
 */
async function rotateKey(room: RoomBackend, req: IncomingMessage, res: ServerResponse) {
  const options = await readJsonRequest(req, res, RotateKeySchema, {
    limit: 1024,
    empty: {},
    describe: (problem) => `rotate-key takes {"force": true|false} (${problem})`,
  });
  if (options === undefined) return;
  if (!room.rotateKey) {
    sendJson(res, 409, { error: 'this room cannot rotate its signing key' });
    return;
  }
  try {
    const result = await room.rotateKey({ force: options.force === true });
    if (result.outcome === 'refused') {
      sendJson(res, 409, { error: `rotation refused: ${result.reason}`, ...result });
    } else {
      sendJson(res, 200, result);
    }
  } catch (error) {
    if (!(error instanceof KeyRotationUnavailableError)) throw error;
    sendJson(res, 409, { error: error.message });
  }
}
