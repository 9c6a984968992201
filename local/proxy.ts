/**
 * Proxies the main site to `WR_UPSTREAM` once the gate lets a request through, over an undici
 * {@link Pool} (Node's own HTTP client: keep-alive connections, framing, headers and body
 * timeouts, abort signals, https).
 *
 * What reaches the upstream is exactly the request the gate checked, re-framed by undici: the
 * same path string (refused when it is ambiguous), the method, the headers minus those that
 * belong to this hop or that the room must set itself, and the body the room has read whole,
 * sent with a Content-Length. No byte of the client's connection is ever copied to the
 * upstream's: a body hidden behind `Transfer-Encoding` on a GET cannot become a second request
 * there.
 *
 * The body is read before a pooled connection is taken (as nginx does with
 * `proxy_request_buffering on`, its default), rather than streamed with a timeout. Streamed, a
 * client sending one byte a second holds an upstream connection for the whole body timeout;
 * a few hundred such clients from as many addresses hold every connection of the pool, and a
 * visitor with a pass waits behind them, again and again as the attackers reconnect. Read
 * first, a slow body costs the room one socket and one slot of its sender's in-flight cap, and
 * the pool only ever serves requests that are ready to go. The price is memory: each body is
 * capped (`maxBodyBytes`, 413 past it) and all bodies held at once too (`maxBufferedBytes`, 503
 * past it).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { PASS_PARAM } from '../edge/gate.ts';
import { takeQueryParam } from '../edge/request-parts.ts';
import { sourceKey } from '../functions/core/sources.ts';
import { sendText, urlHoldsPass } from './http-util.ts';

export interface UpstreamProxyOptions {
  /** The whole request body must arrive within this time, else 408 (default 15 s). */
  bodyTimeoutMs: number;
  /**
   * The upstream must start its answer within this time of the request being ready (waiting
   * for a connection included), and must not pause its body longer; else 504 (default 30 s).
   */
  upstreamTimeoutMs: number;
  /**
   * A client that takes none of the answer for this long is cut off and the upstream request
   * aborted, so a slow reader cannot hold an upstream connection (default 30 s, as nginx's
   * `send_timeout` measures it: between two successful writes).
   */
  sendTimeoutMs: number;
  /** Requests of one client address (an IPv6 /64) in the proxy at once; past it 503 (default 32). */
  maxInFlightPerClient: number;
  /** Connections to the upstream at most (default 128). */
  connections: number;
  /** Largest request body, in bytes; past it 413 (default 10 MiB). */
  maxBodyBytes: number;
  /** Bytes of request bodies held by all requests at once; past it 503 (default 256 MiB). */
  maxBufferedBytes: number;
}

export const DEFAULT_PROXY_OPTIONS: Readonly<UpstreamProxyOptions> = {
  bodyTimeoutMs: 15_000,
  upstreamTimeoutMs: 30_000,
  sendTimeoutMs: 30_000,
  maxInFlightPerClient: 32,
  connections: 128,
  maxBodyBytes: 10 * 1024 * 1024,
  maxBufferedBytes: 256 * 1024 * 1024,
};

/** The proxy as a request handler, and the pool's shutdown. */
export interface UpstreamProxy {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Closes every upstream connection, aborting requests still running. */
  close(): Promise<void>;
}

/** Headers of one connection, never forwarded either way (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Request headers the room sets itself or that would let a client speak for the room: the
 * upstream's `Host` (undici sets it), the framing of the re-sent body, `Expect` (the body is
 * already read), and the headers an upstream may trust to name the client, its scheme or the
 * URL it asked for (`X-Original-URL` routes some frameworks to another path than the gate saw).
 */
const SET_BY_THE_ROOM = new Set([
  'host',
  'content-length',
  'expect',
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
]);

/** Methods whose requests carry no body: one that comes with one is refused (see framingError). */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);

/**
 * Why a target may not be forwarded, or null when it may: it must be origin-form (`/path?query`,
 * which the front makes of an absolute-form target) and mean the same path to every server that
 * decodes it. Refused: dot segments, plain or percent-encoded (`/a/%2e%2e/b`, also `..;`), a
 * backslash or `%5c`, `%2f` (an encoded slash a server may decode into a separator), `//`, a
 * `#`, and control characters, plain or encoded. Browsers never send any of them: they resolve
 * dot segments and encode the rest before a request leaves.
 */
export function targetError(target: string): string | null {
  if (!target.startsWith('/')) return 'not a path';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (target.includes('#')) return 'a fragment';
  if (hasControlOrSpace(target) || /%(?:[01][0-9a-f]|7f)/i.test(target)) {
    return 'a control character';
  }
  if (path.includes('\\') || /%5c/i.test(path)) return 'a backslash';
  if (/%2f/i.test(path)) return 'an encoded slash';
  if (path.includes('//')) return 'an empty segment';
  for (const segment of path.split('/')) {
    const name = segment.split(';')[0]?.replace(/%2e/gi, '.');
    if (name === '.' || name === '..') return 'a dot segment';
  }
  return null;
}

function hasControlOrSpace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * Why a request's framing is refused, or null: both `Content-Length` and `Transfer-Encoding`
 * (RFC 9112 §6.3: a sign of smuggling), a `Transfer-Encoding` other than exactly `chunked`, or a
 * body on a GET, HEAD, DELETE, OPTIONS or TRACE. Node's parser refuses some of these itself;
 * this does not depend on which. The last is refused rather than forwarded with its length:
 * some servers read no body on those methods whatever the headers say ("CL.0" desync), and would
 * take it for the next request on the connection.
 */
export function framingError(method: string, headers: IncomingHttpHeaders): string | null {
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined && cl !== undefined) return 'both Content-Length and Transfer-Encoding';
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    return 'a Transfer-Encoding other than chunked';
  }
  if (hasBody(headers) && BODYLESS_METHODS.has(method.toUpperCase())) return `a body on ${method}`;
  return null;
}

/** Whether a request announces a body (an empty chunked body counts). */
function hasBody(headers: IncomingHttpHeaders): boolean {
  const cl = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (cl !== undefined && cl.trim() !== '0');
}

/** The `Cookie` header without any `wr_pass` cookie; undefined when nothing else is left. */
export function withoutPassCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const kept = header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair.length > 0 && pair.split('=', 1)[0]?.trim() !== PASS_PARAM);
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/** The target without any `wr_pass` query parameter; the other parameters stay byte for byte. */
export function withoutPassQuery(target: string): string {
  const q = target.indexOf('?');
  if (q === -1) return target;
  const { rest } = takeQueryParam(target.slice(q + 1), PASS_PARAM, 0);
  return rest.length > 0 ? `${target.slice(0, q)}?${rest}` : target.slice(0, q);
}

/** The names a `Connection` header lists, lower case. */
function connectionTokens(value: string | string[] | undefined): Set<string> {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    joined
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** What the room knows of the client, for the forwarding headers. */
export interface ClientFacts {
  /** The socket's remote address. */
  address: string;
  proto: 'http' | 'https';
  /** The request's Host header. */
  host: string | undefined;
}

/**
 * The headers to send the upstream: the client's, minus hop-by-hop headers and those named in
 * `Connection`, minus the ones the room sets ({@link SET_BY_THE_ROOM}, every `X-Forwarded-*`),
 * minus the pass cookie; plus `X-Forwarded-For`, `-Proto`, `-Host` and `Forwarded` (RFC 7239)
 * from what the room saw.
 */
export function forwardRequestHeaders(
  headers: IncomingHttpHeaders,
  client: ClientFacts,
): Record<string, string | string[]> {
  const named = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (SET_BY_THE_ROOM.has(name) || name.startsWith('x-forwarded-')) continue;
    out[name] = value;
  }
  const cookie = withoutPassCookie(headers.cookie);
  if (cookie === undefined) delete out.cookie;
  else out.cookie = cookie;

  const address = plainAddress(client.address);
  out['x-forwarded-for'] = address;
  out['x-forwarded-proto'] = client.proto;
  const forwarded = [`for=${address.includes(':') ? `"[${address}]"` : address}`];
  if (client.host) {
    out['x-forwarded-host'] = client.host;
    forwarded.push(`host="${client.host.replace(/["\\]/g, '\\$&')}"`);
  }
  forwarded.push(`proto=${client.proto}`);
  out.forwarded = forwarded.join(';');
  return out;
}

/**
 * The upstream's response headers to pass on: minus hop-by-hop headers and those its
 * `Connection` names, and minus any `Set-Cookie` that sets `wr_pass` (only the gate sets the
 * pass; an upstream, or whoever controls a page of it, must not plant one).
 */
export function forwardResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const named = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (name === 'set-cookie') {
      const kept = (Array.isArray(value) ? value : [value]).filter(
        (cookie) => cookie.split('=', 1)[0]?.trim() !== PASS_PARAM,
      );
      if (kept.length > 0) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** An IPv4-mapped IPv6 address as IPv4; any other address as it is. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The key of a client for the in-flight cap: its source address key (`sourceKey`: an IPv4
 * address, or the /64 of an IPv6 one, a subscriber's whole network), as for every limit per
 * source.
 */
export function clientKey(address: string): string {
  return sourceKey(address) ?? address;
}

/** A request the proxy answers itself with `status`. */
class ProxyRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Seconds, for a 503. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ProxyRefusalError';
  }
}

/** The client closed its connection: there is nobody to answer. */
class ClientGoneError extends Error {
  constructor() {
    super('the client went away');
    this.name = 'ClientGoneError';
  }
}

const UPSTREAM_TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Creates the proxy to `upstream` (an origin); see the module comment for what it forwards. */
export function createUpstreamProxy(
  upstream: string,
  overrides: Partial<UpstreamProxyOptions> = {},
): UpstreamProxy {
  const options = { ...DEFAULT_PROXY_OPTIONS, ...overrides };
  const pool = new Pool(upstream, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    headersTimeout: options.upstreamTimeoutMs,
    bodyTimeout: options.upstreamTimeoutMs,
    connect: { timeout: Math.min(10_000, options.upstreamTimeoutMs) },
  });
  const inFlight = new Map<string, number>();
  let buffered = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    const method = req.method ?? 'GET';
    const badTarget = targetError(target);
    if (badTarget) throw new ProxyRefusal(400, `The address holds ${badTarget}.`);
    const badFraming = framingError(method, req.headers);
    if (badFraming) throw new ProxyRefusal(400, `The request has ${badFraming}.`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > options.maxBodyBytes) throw new ProxyRefusal(413, 'The body is too large.');

    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new ClientGoneError());
    });

    let held = 0;
    try {
      const body = await readBody(req, controller.signal, (bytes) => {
        if (held + bytes > options.maxBodyBytes) {
          throw new ProxyRefusal(413, 'The body is too large.');
        }
        if (buffered + bytes > options.maxBufferedBytes) {
          throw new ProxyRefusal(503, 'The site is busy; retry in a moment.', 1);
        }
        held += bytes;
        buffered += bytes;
      });
      await forward(req, res, target, method, body, controller);
    } finally {
      buffered -= held;
    }
  }

  /** Reads the whole body within `bodyTimeoutMs`; `take` may refuse each chunk by throwing. */
  function readBody(
    req: IncomingMessage,
    signal: AbortSignal,
    take: (bytes: number) => void,
  ): Promise<Buffer | null> {
    if (!hasBody(req.headers)) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const timer = setTimeout(
        () => fail(new ProxyRefusal(408, 'The body did not arrive in time.')),
        options.bodyTimeoutMs,
      );
      const onData = (chunk: Buffer) => {
        try {
          take(chunk.length);
          chunks.push(chunk);
        } catch (error) {
          fail(error as Error);
        }
      };
      const onEnd = () => {
        done();
        resolve(Buffer.concat(chunks));
      };
      const onGone = () => fail(new ClientGoneError());
      const done = () => {
        clearTimeout(timer);
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onGone);
        req.off('close', onGone);
        signal.removeEventListener('abort', onGone);
      };
      const fail = (error: Error) => {
        done();
        req.pause();
        reject(error);
      };
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onGone);
      req.on('close', onGone);
      signal.addEventListener('abort', onGone);
    });
  }

  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: string,
    method: string,
    body: Buffer | null,
    controller: AbortController,
  ): Promise<void> {
    const headers = forwardRequestHeaders(req.headers, {
      address: req.socket.remoteAddress ?? '',
      proto: 'encrypted' in req.socket ? 'https' : 'http',
      host: req.headers.host,
    });
    // undici's headersTimeout starts once the request is written; this one also covers the
    // wait for a free connection and the connect.
    const timedOut = new ProxyRefusal(504, 'The main site did not answer in time.');
    const deadline = setTimeout(() => controller.abort(timedOut), options.upstreamTimeoutMs);
    let answer: Awaited<ReturnType<Pool['request']>>;
    try {
      answer = await pool.request({
        path: withoutPassQuery(target),
        method: method as 'GET',
        headers,
        body,
        signal: controller.signal,
      });
    } catch (error) {
      const reason = controller.signal.reason;
      if (reason instanceof ClientGoneError || reason === timedOut) throw reason;
      const code = (error as { code?: string }).code ?? '';
      if (UPSTREAM_TIMEOUT_CODES.has(code)) throw timedOut;
      throw new ProxyRefusal(502, 'The main site did not answer.');
    } finally {
      clearTimeout(deadline);
    }

    try {
      const out = forwardResponseHeaders(answer.headers);
      // The gate lets a non-GET with a valid pass in its query through: that address must not
      // leak through Referer from the page it returns.
      if (urlHoldsPass(target)) out['referrer-policy'] = 'no-referrer';
      res.writeHead(answer.statusCode, out);
      for await (const chunk of answer.body) {
        if (!res.write(chunk) && !(await drained(res, options.sendTimeoutMs))) {
          controller.abort(new ClientGoneError());
          res.destroy();
          return;
        }
      }
      res.end();
    } catch {
      // The upstream broke off, the client left, or Node refused an upstream header: nobody
      // can be told anything more.
      answer.body.destroy();
      res.destroy();
    }
  }

  return {
    handle(req, res) {
      const key = clientKey(req.socket.remoteAddress ?? '');
      const count = inFlight.get(key) ?? 0;
      if (count >= options.maxInFlightPerClient) {
        refuse(res, new ProxyRefusal(503, 'Too many requests at once from your address.', 1));
        return;
      }
      inFlight.set(key, count + 1);
      handle(req, res)
        .catch((error: unknown) => {
          if (error instanceof ProxyRefusal) refuse(res, error);
          else res.destroy();
        })
        .finally(() => {
          const left = (inFlight.get(key) ?? 1) - 1;
          if (left > 0) inFlight.set(key, left);
          else inFlight.delete(key);
        });
    },
    close: () => pool.destroy(),
  };
}

/**
 * Answers a refused request. Its body may be partly unread, and its bytes must not be parsed as
 * the next request: the connection closes after the answer.
 */
function refuse(res: ServerResponse, refusal: ProxyRefusal): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  if (refusal.retryAfter !== undefined) res.setHeader('retry-after', String(refusal.retryAfter));
  res.setHeader('connection', 'close');
  sendText(res, refusal.status, refusal.message);
}

/** Resolves true once `res` drains, false after `ms` without, or when the client is gone. */
function drained(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (value: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(value);
    };
    const onDrain = () => finish(true);
    const onClose = () => finish(false);
    const timer = setTimeout(() => finish(false), ms);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
