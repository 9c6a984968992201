/**
 * The operator's admin endpoint behind `npm run room`: status, on/off, rate and the fair-launch
 * settings (opening time, proof-of-work cost, message, closing words), live, on either
 * runtime, and a backup of the local runtime's data directory. It answers only requests from
 * loopback that carry the room's secret (`admin-secret.ts`) and come from no web page; the
 * room's config changes apply at the next tick.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import type { RoomConfig } from '../functions/core/ports.ts';
import {
  isOpeningTime,
  MAX_POW_COST,
  operatorTextProblem,
} from '../functions/core/room-settings.ts';
import type { AdminSecret } from './admin-secret.ts';
import type { RoomBackend } from './front.ts';
import { isLoopback, readJsonRequest, sendJson } from './http-util.ts';
import { KeyRotationUnavailableError } from './keys.ts';

export const ADMIN_PREFIX = '/__room/admin/';

/** The highest rate the room takes (the admin endpoint and the operator console alike). */
export const MAX_ADMIT_PER_MINUTE = 1_000_000;

/**
 * An operator's text (message or closing words), as the room keeps it: trimmed, one line of
 * plain text of 1 to `MAX_OPERATOR_TEXT` characters (`operatorTextProblem`).
 */
const OperatorTextSchema = v.pipe(
  v.string('must be a string (or null to clear it)'),
  v.trim(),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = operatorTextProblem(dataset.value);
    if (problem) addIssue({ message: problem });
  }),
);

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
  /** When admission opens (epoch ms), or null: no schedule. */
  opensAt: v.optional(
    v.nullable(
      v.pipe(
        v.number('must be a time in epoch milliseconds (or null to clear it)'),
        v.check(isOpeningTime, 'must be a whole number of epoch milliseconds from 0'),
      ),
    ),
  ),
  /** The proof-of-work cost of a join; 0 turns it off. */
  powCost: v.optional(
    v.pipe(
      v.number(),
      v.integer('must be a whole number'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(MAX_POW_COST, `must be at most ${MAX_POW_COST}`),
    ),
  ),
  /** The operator's words to everyone waiting, or null: none. */
  message: v.optional(v.nullable(OperatorTextSchema)),
  /** The sale is over, with these closing words; null: open for sale. */
  closed: v.optional(v.nullable(OperatorTextSchema)),
};

/** The settings a change may set (every field of a change but the console's `confirm`). */
const SETTING_FIELDS = [
  'enabled',
  'admitPerMinute',
  'opensAt',
  'powCost',
  'message',
  'closed',
] as const;

/** A change must change something (a pipe step, for this schema and the console's). */
export function somethingToChange<
  T extends Partial<Record<(typeof SETTING_FIELDS)[number], unknown>>,
>() {
  return v.check<T, string>(
    (c) => SETTING_FIELDS.some((field) => c[field] !== undefined),
    'nothing to change',
  );
}

/**
 * `POST config`: any of on/off, rate, opening time, proof-of-work cost, message and closing
 * words, at least one of them. A bad field refuses the whole change (400 naming it).
 */
export const ConfigChangeSchema = v.pipe(
  v.strictObject(CONFIG_CHANGE_ENTRIES),
  somethingToChange(),
);

export type ConfigChange = v.InferOutput<typeof ConfigChangeSchema>;

/** The settings a change sets, without the fields it leaves as they are (or `confirm`). */
export function settingsOf(change: ConfigChange): Partial<RoomConfig> {
  return Object.fromEntries(
    SETTING_FIELDS.filter((field) => change[field] !== undefined).map((field) => [
      field,
      change[field],
    ]),
  ) as Partial<RoomConfig>;
}

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
    // Room for two texts of MAX_OPERATOR_TEXT characters, each escaped as \uXXXX at worst.
    const change = await readJsonRequest(req, res, ConfigChangeSchema, { limit: 8192 });
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
