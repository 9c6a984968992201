/**
 * The operator's admin endpoint behind `npm run room`: status, on/off and rate, live, on either
 * runtime, and a backup of the local runtime's data directory. It answers only requests from loopback; the room's config changes apply at the next
 * tick.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import type { RoomBackend } from './front.ts';
import { BodyTooLargeError, isLoopback, readBody, sendJson } from './http-util.ts';

export const ADMIN_PREFIX = '/__room/admin/';

const ConfigChangeSchema = v.pipe(
  v.strictObject({
    enabled: v.optional(v.boolean()),
    admitPerMinute: v.optional(
      v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(0), v.maxValue(1_000_000)),
    ),
  }),
  v.check((c) => c.enabled !== undefined || c.admitPerMinute !== undefined, 'nothing to change'),
);

export type ConfigChange = v.InferOutput<typeof ConfigChangeSchema>;

export async function handleAdmin(
  room: RoomBackend,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  if (!isLoopback(req)) {
    sendJson(res, 403, { error: 'the admin endpoint answers only from this machine' });
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
  if (route === 'config' && req.method === 'POST') {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, 4096));
    } catch (error) {
      const tooLarge = error instanceof BodyTooLargeError;
      sendJson(res, tooLarge ? 413 : 400, {
        error: tooLarge ? error.message : 'body must be JSON',
      });
      return;
    }
    const change = v.safeParse(ConfigChangeSchema, body);
    if (!change.success) {
      const issue = change.issues[0];
      const field = issue ? v.getDotPath(issue) : null;
      sendJson(res, 400, { error: `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid'}` });
      return;
    }
    await room.changeConfig(change.output);
    sendJson(res, 200, await room.status());
    return;
  }
  sendJson(res, 404, { error: `no admin route ${req.method} ${path}` });
}
