/**
 * The operator console's server (`npm run room -- console`): on loopback only, it samples the
 * room every {@link DEFAULT_INTERVAL_MS}, keeps an hour of samples in memory, streams them to the
 * console page over server-sent events, and passes the operator's changes on to the room.
 *
 * Access is by a random token made at each start, in the fragment of the address it prints
 * (`/#token=...`): a fragment never reaches a server, so the token is in no request line, log or
 * proxy. The page moves it to sessionStorage (per origin, so per port), clears it from the address
 * bar, and sends it as `Authorization: Bearer` with every API call. No cookie: browsers send
 * cookies for 127.0.0.1 to every port on it, so any other local service (the room itself, and
 * through its proxy the upstream) would receive one. The page's shell (HTML, JS, CSS) holds no
 * data and is served to anyone who may reach the console; every `/api/` route answers 401 without
 * the token. Like the room's admin endpoint it answers only a loopback `Host` (a page on a
 * rebound DNS name names its own) and no other page (`Origin` not its own, `Sec-Fetch-Site` other
 * than `same-origin` or `none`: another site, or another local service on another port, which
 * counts as the same *site*).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as v from 'valibot';
import { CONFIG_CHANGE_ENTRIES, loopbackHost, somethingToChange } from '../../local/admin.ts';
import {
  BASE_HEADERS,
  isLoopback,
  readJsonRequest,
  sendJson,
  sendText,
} from '../../local/http-util.ts';
import { createBuiltFiles } from '../../local/static-page.ts';
import { confirmationNeeded } from './confirmation.ts';
import { SampleHistory } from './history.ts';
import {
  type ConsoleConfigAnswer,
  type ConsoleSample,
  type ConsoleSnapshot,
  EVENT_SAMPLE,
  EVENT_SNAPSHOT,
} from './protocol.ts';
import { RoomRefusedError, type RoomSource } from './sources.ts';

export const DEFAULT_CONSOLE_PORT = 8090;
export const DEFAULT_INTERVAL_MS = 2000;

/** The console page's policy: its own scripts, styles and stream, nothing else. */
export const CONSOLE_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The admin endpoint's change, plus the operator's confirmation (see `confirmation.ts`). */
const ConfigChangeSchema = v.pipe(
  v.strictObject({ ...CONFIG_CHANGE_ENTRIES, confirm: v.optional(v.boolean()) }),
  somethingToChange(),
);

/** What `/api/` answers without the token (the page shows its own words for it). */
const NEEDS_TOKEN =
  'the console needs its token: open the address `npm run room -- console` printed (it ends in #token=...)';

export interface ConsoleServerOptions {
  source: RoomSource;
  /** The built console page (console/dist). */
  distDir: string;
  /** 0: any free port. */
  port?: number;
  intervalMs?: number;
  /** The access token (tests set one); a random one by default. */
  token?: string;
  now?: () => number;
  log?: (message: string) => void;
}

export interface ConsoleServer {
  /** The address to open: the console with its token in the fragment (`/#token=...`). */
  url: string;
  /** The console's origin, without the token. */
  origin: string;
  port: number;
  token: string;
  /** Samples held, oldest first. */
  samples(): ConsoleSample[];
  close(): Promise<void>;
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { source } = options;
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const token = options.token ?? randomBytes(32).toString('base64url');
  const expected = Buffer.from(token);
  const matches = (presented: string | undefined) => {
    const given = Buffer.from(presented ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const history = new SampleHistory();
  const streams = new Set<ServerResponse>();
  const serveFile = createBuiltFiles(options.distDir, {
    csp: CONSOLE_SECURITY_POLICY,
    cacheControl: 'no-store',
    shared: false,
    notFound: (relative) =>
      relative === 'index.html'
        ? 'The console page is not built: run `npm run build`.'
        : 'Not found',
  });

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      options.log?.(`console request failed: ${String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  await new Promise<void>((done, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_CONSOLE_PORT, '127.0.0.1', () => done());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  function snapshot(): ConsoleSnapshot {
    return { target: source.target, intervalMs, samples: history.samples() };
  }

  function broadcast(sample: ConsoleSample) {
    const frame = `event: ${EVENT_SAMPLE}\ndata: ${JSON.stringify(sample)}\n\n`;
    for (const stream of streams) stream.write(frame);
  }

  let sampling: Promise<ConsoleSample> | null = null;
  /**
   * Takes a sample now (one at a time: a caller during a read gets that read's sample, which may
   * have started before whatever the caller just did; see {@link sampleAfter}).
   */
  function sampleNow(): Promise<ConsoleSample> {
    sampling ??= source
      .read()
      .then((reading) => {
        const sample = history.add(reading, now());
        broadcast(sample);
        return sample;
      })
      .finally(() => {
        sampling = null;
      });
    return sampling;
  }

  /**
   * A sample from a read that starts after this call: the answer to a change must show it, and
   * a read already under way may have read the room before the change was written. Reads go one
   * at a time, so any read started once that one is over started after this call.
   */
  async function sampleAfter(): Promise<ConsoleSample> {
    const under = sampling;
    if (under) await under.catch(() => {});
    return sampleNow();
  }

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    await sampleNow().catch((error: unknown) => options.log?.(`sampling failed: ${error}`));
    if (!closed) timer = setTimeout(loop, intervalMs);
  };
  if (source.history) {
    const until = now();
    await source
      .history(until - history.keepMs, until)
      .then((older) => history.seed(older))
      .catch((error: unknown) => {
        source.target.notes.push(`No history from CloudWatch: ${(error as Error).message}`);
      });
  }
  await loop();

  /** Why this request may not be answered, or null. */
  function refusal(req: IncomingMessage): { status: number; error: string } | null {
    if (!isLoopback(req)) return { status: 403, error: 'the console answers only this machine' };
    const host = loopbackHost(req);
    if (!host || Number(host.port) !== port) {
      return { status: 403, error: 'the console answers only to its loopback address' };
    }
    const pageOrigin = req.headers.origin;
    if (pageOrigin !== undefined && pageOrigin !== `http://${req.headers.host}`) {
      return { status: 403, error: 'the console does not answer other pages' };
    }
    const fetchSite = req.headers['sec-fetch-site'];
    if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
      return { status: 403, error: 'the console does not answer other pages' };
    }
    return null;
  }

  function bearer(req: IncomingMessage): string | undefined {
    const authorization = req.headers.authorization ?? '';
    return authorization.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = refusal(req);
    if (refused) {
      sendJson(res, refused.status, { error: refused.error });
      return;
    }
    const url = new URL(req.url ?? '/', origin);
    if (url.searchParams.has('token')) {
      // The address of an earlier version (`/?token=`): its token is from an earlier start, so
      // useless, and a token in a query string ends up in the history; not honoured.
      sendText(
        res,
        400,
        'The console takes its token after # now: open the address `npm run room -- console` printed (it ends in #token=...).',
      );
      return;
    }
    const path = url.pathname;
    if (path.startsWith('/api/')) {
      if (!matches(bearer(req))) {
        sendJson(res, 401, { error: NEEDS_TOKEN }, { 'www-authenticate': 'Bearer' });
        return;
      }
      await api(req, res, path);
    } else if (req.method === 'GET' || req.method === 'HEAD') {
      // The shell holds no data: without the token it can only say where to find it.
      await serveFile(req, res, path.slice(1));
    } else {
      sendJson(res, 405, { error: `${req.method} is not served here` });
    }
  }

  async function api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/api/events' && req.method === 'GET') {
      openStream(res);
    } else if (path === '/api/state' && req.method === 'GET') {
      sendJson(res, 200, snapshot());
    } else if (path === '/api/config') {
      if (req.method !== 'POST') {
        sendJson(res, 405, { error: 'POST a change' }, { allow: 'POST' });
        return;
      }
      await changeConfig(req, res);
    } else {
      sendJson(res, 404, { error: `no console route ${req.method} ${path}` });
    }
  }

  function openStream(res: ServerResponse) {
    res.writeHead(200, {
      ...BASE_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(
      `retry: ${intervalMs}\nevent: ${EVENT_SNAPSHOT}\ndata: ${JSON.stringify(snapshot())}\n\n`,
    );
    streams.add(res);
    res.on('close', () => streams.delete(res));
  }

  async function changeConfig(req: IncomingMessage, res: ServerResponse) {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      sendJson(res, 415, { error: 'the console takes application/json' });
      return;
    }
    // Room for a message and closing words of MAX_OPERATOR_TEXT characters each, escaped.
    const parsed = await readJsonRequest(req, res, ConfigChangeSchema, { limit: 8192 });
    if (parsed === undefined) return;
    const { confirm, ...change } = parsed;
    // Judged on the latest sample (at most an interval old), as the page judges it.
    const latest = history.samples().findLast((s) => s.origin === 'live');
    const reason = confirmationNeeded(change, {
      admitPerMinute: latest?.admitPerMinute ?? null,
      inLine:
        latest?.waiting === null || latest?.waiting === undefined
          ? null
          : latest.waiting + (latest.arriving ?? 0),
    });
    if (reason && confirm !== true) {
      sendJson(res, 409, { error: `confirm first: ${reason}`, confirmationRequired: true });
      return;
    }
    try {
      await source.change(change);
    } catch (error) {
      // The console itself is fine: the room (or AWS) said no, or could not be reached.
      sendJson(res, 502, {
        error:
          error instanceof RoomRefusedError
            ? `the room refused the change: ${error.message}`
            : `cannot change the room: ${(error as Error).message}`,
      });
      return;
    }
    options.log?.(`changed ${JSON.stringify(change)}`);
    const answer: ConsoleConfigAnswer = { sample: await sampleAfter() };
    sendJson(res, 200, answer);
  }

  return {
    url: `${origin}/#token=${token}`,
    origin,
    port,
    token,
    samples: () => history.samples(),
    async close() {
      closed = true;
      clearTimeout(timer);
      await sampling?.catch(() => {});
      for (const stream of streams) stream.end();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
