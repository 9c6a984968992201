/**
 * The upstream proxy (`WR_UPSTREAM`) under the attacks of a black-box review, over loopback: a
 * real upstream behind a byte-recording TCP relay, a room in front of it, and raw sockets for
 * everything a browser would not send. Each case checks what reached the upstream, not what the
 * room answered alone: request smuggling in the body of a GET, DELETE or OPTIONS, broken
 * framing, slow bodies holding upstream sockets, clients that leave, the room's own paths,
 * absolute-form and ambiguous targets, and the headers that must not pass (the pass, forged
 * client addresses, headers named in `Connection`, an upstream's `Set-Cookie: wr_pass`).
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readLocalConfig } from '../../local/config.ts';
import type { UpstreamProxyOptions } from '../../local/proxy.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';
import { CLIENT_DIST, freePort } from '../helpers/local-room.ts';

/** Short timeouts and caps, so that every limit is reached within a test's time. */
const PROXY_OPTIONS: Partial<UpstreamProxyOptions> = {
  bodyTimeoutMs: 1500,
  upstreamTimeoutMs: 1500,
  sendTimeoutMs: 1000,
  maxInFlightPerClient: 8,
  maxBodyBytes: 1024 * 1024,
};

/** What the upstream saw of one request. */
interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The whole body arrived. */
  complete: boolean;
  /** The connection closed before the upstream answered. */
  abandoned: boolean;
}

/**
 * An HTTP server on 127.0.0.1 behind a TCP relay that keeps every byte the room sends it: the
 * room is pointed at the relay, so `raw` is exactly what went over the upstream connections.
 */
class RecordingUpstream {
  readonly requests: SeenRequest[] = [];
  private readonly chunks: Buffer[] = [];
  openConnections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly http: Server,
    private readonly relay: ReturnType<typeof createNetServer>,
    readonly url: string,
  ) {}

  static async start(): Promise<RecordingUpstream> {
    let self: RecordingUpstream | undefined;
    const http = createHttpServer((req, res) => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: '',
        complete: false,
        abandoned: false,
      };
      self?.requests.push(seen);
      res.on('close', () => {
        if (!res.writableFinished) seen.abandoned = true;
      });
      req.on('data', (chunk: Buffer) => {
        seen.body += chunk.toString('latin1');
      });
      req.on('end', () => {
        seen.complete = true;
        if (seen.url.startsWith('/hang')) return;
        if (seen.url.startsWith('/set-cookie')) {
          res.writeHead(200, {
            'set-cookie': ['wr_pass=planted; Path=/', 'session=1; Path=/', ' wr_pass =x'],
            'content-type': 'text/plain',
          });
          res.end('cookies');
        } else if (seen.url.startsWith('/big')) {
          // 32 MiB, far more than socket buffers hold, written as fast as it drains.
          const chunk = Buffer.alloc(1024 * 1024, 'a');
          let left = 32;
          const pump = () => {
            while (left > 0) {
              left -= 1;
              if (!res.write(chunk)) return void res.once('drain', pump);
            }
            res.end();
          };
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          pump();
        } else {
          res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
          res.end('main site');
        }
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const httpPort = (http.address() as { port: number }).port;
    const relay = createNetServer((client) => {
      const upstream = connect(httpPort, '127.0.0.1');
      self?.sockets.add(client);
      if (self) self.openConnections += 1;
      client.on('data', (chunk: Buffer) => self?.chunks.push(chunk));
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => {});
      upstream.on('error', () => {});
      client.on('close', () => {
        upstream.destroy();
        self?.sockets.delete(client);
        if (self) self.openConnections -= 1;
      });
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const relayPort = (relay.address() as { port: number }).port;
    self = new RecordingUpstream(http, relay, `http://127.0.0.1:${relayPort}`);
    return self;
  }

  /** Every byte the room sent the upstream so far. */
  get raw(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  reset(): void {
    this.requests.length = 0;
    this.chunks.length = 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.relay.close(() => r()));
    await new Promise<void>((r) => this.http.close(() => r()));
  }
}

/** A room on a free loopback port proxying its main site to `upstream`. */
async function startProxiedRoom(
  upstream: string,
  proxy: Partial<UpstreamProxyOptions> = PROXY_OPTIONS,
): Promise<LocalServer> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    try {
      const settings = readLocalConfig({
        HOST: '127.0.0.1',
        PORT: String(port),
        WR_PUBLIC_URL: `http://127.0.0.1:${port}`,
        WR_DATA_DIR: ':memory:',
        WR_UPSTREAM: upstream,
      });
      return await startLocalServer(settings, { clientDir: CLIENT_DIST, proxy });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 5) throw error;
    }
  }
}

/** A valid pass of the room, signed by its own key as the room signs them. */
async function passFor(r: LocalServer): Promise<string> {
  const iat = Math.floor(Date.now() / 1000) - 1;
  return new SignJWT({ iss: 'waiting-room', aud: r.url, sub: 's', jti: 'j', iat, exp: iat + 600 })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: r.room.key.kid })
    .sign(r.room.key.privateKey);
}

interface RawAnswer {
  /** 0 when nothing came back in time. */
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

/**
 * Writes `text` on a new socket exactly as given and reads the first answer, until the room
 * closes the socket, a whole answer with a Content-Length has arrived, or `timeoutMs` passes.
 */
function rawRequest(
  port: number,
  text: string,
  options: { localAddress?: string; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    let received = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseAnswer(received));
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 3000);
    socket.on('connect', () => socket.write(text, 'latin1'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const answer = parseAnswer(received);
      const length = Number(answer.headers.get('content-length')?.[0] ?? Number.NaN);
      if (answer.status > 0 && answer.body.length >= length) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return { status: 0, headers: new Map(), body: '' };
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) };
}

/** Resolves once `condition` holds, or after `ms`. */
async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A whole request for the upstream, as an attacker hides it in a body. */
const INNER_REQUEST =
  'POST /checkout HTTP/1.1\r\nHost: upstream\r\nCookie: session=attacker\r\nContent-Length: 0\r\n\r\n';

function chunked(body: string): string {
  return `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
}

let upstream: RecordingUpstream;
let room: LocalServer;
let pass: string;
let host: string;

beforeAll(async () => {
  upstream = await RecordingUpstream.start();
  room = await startProxiedRoom(upstream.url);
  pass = await passFor(room);
  host = `127.0.0.1:${room.port}`;
});

afterAll(async () => {
  await room.close();
  await upstream.close();
});

afterEach(() => upstream.reset());

describe('smuggling: a request hidden in the body of a request that takes none', () => {
  const cases = [
    { name: 'GET /tickets with a pass', line: 'GET /tickets HTTP/1.1', withPass: true },
    { name: 'DELETE /tickets with a pass', line: 'DELETE /tickets HTTP/1.1', withPass: true },
    { name: 'OPTIONS /tickets with a pass', line: 'OPTIONS /tickets HTTP/1.1', withPass: true },
    { name: 'GET /.well-known/x without a pass', line: 'GET /.well-known/x HTTP/1.1' },
    { name: 'GET /favicon.ico without a pass', line: 'GET /favicon.ico HTTP/1.1' },
  ];

  it.each(cases)('never reaches the upstream as a request of its own: $name', async (c) => {
    // Prepare
    const cookie = c.withPass ? `Cookie: wr_pass=${pass}\r\n` : '';
    const request = `${c.line}\r\nHost: ${host}\r\n${cookie}Transfer-Encoding: chunked\r\n\r\n${chunked(INNER_REQUEST)}`;

    // Act
    await rawRequest(room.port, request, { timeoutMs: 1000 });
    await sleep(200);

    // Assess
    expect(upstream.requests.map((r) => r.url)).not.toContain('/checkout');
    expect(upstream.raw).not.toContain('POST /checkout');
  });

  it('refuses a GET with a Content-Length body, and nothing reaches the upstream', async () => {
    const request = `GET /tickets HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nContent-Length: ${INNER_REQUEST.length}\r\nConnection: close\r\n\r\n${INNER_REQUEST}`;

    const answer = await rawRequest(room.port, request);
    await sleep(100);

    expect(answer.status).toBe(400);
    expect(upstream.raw).toBe('');
  });

  it('forwards a chunked POST as one request with its decoded body and a Content-Length', async () => {
    const request = `POST /api/orders HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked(INNER_REQUEST)}`;

    const answer = await rawRequest(room.port, request);
    await sleep(100);

    expect(answer.status).toBe(200);
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/orders']);
    expect(upstream.requests[0]?.body).toBe(INNER_REQUEST);
    expect(upstream.requests[0]?.headers['content-length']).toBe(String(INNER_REQUEST.length));
    expect(upstream.requests[0]?.headers['transfer-encoding']).toBeUndefined();
  });
});

describe('framing', () => {
  const framings = [
    {
      name: 'Content-Length and Transfer-Encoding',
      headers: 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n',
    },
    { name: 'Transfer-Encoding: gzip, chunked', headers: 'Transfer-Encoding: gzip, chunked\r\n' },
    {
      name: 'two Transfer-Encoding lines',
      headers: 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n',
    },
    { name: 'Transfer-Encoding: identity', headers: 'Transfer-Encoding: identity\r\n' },
    { name: 'Transfer-Encoding: xchunked', headers: 'Transfer-Encoding: xchunked\r\n' },
  ];

  it.each(framings)('refuses a POST with $name, and nothing reaches the upstream', async (f) => {
    const request = `POST /api/orders HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\n${f.headers}Connection: close\r\n\r\n${chunked('hello')}`;

    const answer = await rawRequest(room.port, request);
    await sleep(100);

    expect(answer.status).toBe(400);
    expect(upstream.raw).toBe('');
  });
});

describe("the room's own paths and the request target", () => {
  it.each(['/ws/x', '/__room/x', '/.well-known/x', '/.well-known/jwks.json/x', '/favicon.ico/x'])(
    'answers %s itself with 404, and the upstream never sees it',
    async (path) => {
      const response = await fetch(`${room.url}${path}`, { redirect: 'manual' });
      await sleep(100);

      expect(response.status).toBe(404);
      expect(upstream.raw).toBe('');
    },
  );

  it('keeps an absolute-form target with an encoded dot segment from the upstream', async () => {
    const request = `GET http://x/a/%2e%2e/.well-known/x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

    const answer = await rawRequest(room.port, request);
    await sleep(100);

    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(upstream.raw).toBe('');
  });

  it('forwards an absolute-form target as its path and query only, whatever its host', async () => {
    const request = `GET http://evil.example/tickets?show=evening HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nConnection: close\r\n\r\n`;

    const answer = await rawRequest(room.port, request);

    expect(answer.status).toBe(200);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/tickets?show=evening']);
    expect(upstream.raw.startsWith('GET /tickets?show=evening HTTP/1.1\r\n')).toBe(true);
    expect(upstream.raw).not.toContain('evil.example');
  });

  it.each([
    '/a/%2e%2e/tickets',
    '/a/%2E./tickets',
    '/a/../tickets',
    '/a/./tickets',
    '/a\\tickets',
    '/a%5ctickets',
    '/a%2ftickets',
    '//tickets',
  ])('refuses %s with 400 even with a pass, and the upstream never sees it', async (target) => {
    const request = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nConnection: close\r\n\r\n`;

    const answer = await rawRequest(room.port, request);
    await sleep(100);

    expect(answer.status).toBe(400);
    expect(upstream.raw).toBe('');
  });
});

describe('headers', () => {
  it('forwards the other cookies and not wr_pass', async () => {
    await fetch(`${room.url}/tickets`, {
      headers: { cookie: `a=1; wr_pass=${pass}; b=2` },
    });

    expect(upstream.requests[0]?.headers.cookie).toBe('a=1; b=2');
  });

  it('strips wr_pass from the query of a POST let through by it, and answers with no referrer', async () => {
    const response = await fetch(`${room.url}/api/orders?x=1&wr_pass=${pass}&y=2`, {
      method: 'POST',
      body: 'seats=2',
    });

    expect(response.status).toBe(200);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/api/orders?x=1&y=2']);
    expect(upstream.raw).not.toContain(pass);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it("replaces the client's forwarding headers with what the room knows", async () => {
    const request = [
      'GET /tickets HTTP/1.1',
      `Host: ${host}`,
      `Cookie: wr_pass=${pass}`,
      'X-Forwarded-For: 6.6.6.6',
      'X-Real-IP: 6.6.6.6',
      'Forwarded: for=6.6.6.6;proto=https',
      'X-Forwarded-Host: evil.example',
      'X-Forwarded-Proto: https',
      'X-Original-URL: /admin',
      'Connection: close',
      '',
      '',
    ].join('\r\n');

    await rawRequest(room.port, request, { localAddress: '127.0.0.5' });

    const headers = upstream.requests[0]?.headers ?? {};
    expect(headers['x-forwarded-for']).toBe('127.0.0.5');
    expect(headers['x-real-ip']).toBeUndefined();
    expect(headers['x-forwarded-host']).toBe(host);
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers.forwarded).toBe(`for=127.0.0.5;host="${host}";proto=http`);
    expect(headers['x-original-url']).toBeUndefined();
    expect(upstream.raw).not.toContain('6.6.6.6');
  });

  it('drops the headers that Connection names', async () => {
    const request = `GET /tickets HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nConnection: close, X-Secret, Authorization\r\nX-Secret: s3cret\r\nAuthorization: Basic eDp5\r\nX-Kept: yes\r\n\r\n`;

    await rawRequest(room.port, request);

    const headers = upstream.requests[0]?.headers ?? {};
    expect(headers['x-secret']).toBeUndefined();
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-kept']).toBe('yes');
  });

  it('drops a Set-Cookie from the upstream that sets wr_pass and keeps the others', async () => {
    const response = await fetch(`${room.url}/set-cookie`, {
      headers: { cookie: `wr_pass=${pass}` },
    });

    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual(['session=1; Path=/']);
  });
});

describe('starvation and timeouts', () => {
  it('answers a pass holder within 2 s while 300 slow-body attackers from 60 addresses hold requests open, and after they leave', async () => {
    // Prepare: each attacker announces 100 kB and sends one byte.
    const attackers: Socket[] = [];
    let attackersAnswered = 0;
    for (let i = 0; i < 300; i += 1) {
      const socket = connect({
        port: room.port,
        host: '127.0.0.1',
        localAddress: `127.0.1.${10 + (i % 60)}`,
      });
      socket.on('error', () => {});
      socket.once('data', () => {
        attackersAnswered += 1;
      });
      socket.write(
        `POST /api/orders HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nContent-Length: 100000\r\n\r\nx`,
      );
      attackers.push(socket);
    }
    // The old proxy had forwarded 256 of them by then; this one holds them until their bodies come.
    await until(() => upstream.requests.length >= 256, 500);
    const timed = async () => {
      const started = Date.now();
      const response = await fetch(`${room.url}/tickets`, {
        headers: { cookie: `wr_pass=${pass}` },
        signal: AbortSignal.timeout(2000),
      }).catch((error: Error) => error);
      return { response, ms: Date.now() - started };
    };

    // Act
    const during = await timed();
    const stillHolding = 300 - attackersAnswered;
    for (const socket of attackers) socket.destroy();
    await sleep(200);
    const after = await timed();

    // Assess
    console.info(
      `pass holder under 300 slow bodies: ${during.ms} ms; after they left: ${after.ms} ms`,
    );
    expect(stillHolding).toBe(300);
    expect(during.response).toBeInstanceOf(Response);
    expect((during.response as Response).status).toBe(200);
    expect(after.response).toBeInstanceOf(Response);
    expect((after.response as Response).status).toBe(200);
  });

  it('answers a slow body with 408 after the body timeout, and the upstream never sees it', async () => {
    const started = Date.now();
    const answer = await rawRequest(
      room.port,
      `POST /api/orders HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nContent-Length: 10\r\n\r\nx`,
      { timeoutMs: 4000 },
    );

    expect(answer.status).toBe(408);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(upstream.raw).toBe('');
  });

  it('aborts the upstream request when the client goes away', async () => {
    // Prepare
    const socket = connect(room.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`GET /hang HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\n\r\n`);
    await until(() => upstream.requests.length === 1, 2000);

    // Act
    socket.destroy();
    await until(() => upstream.requests[0]?.abandoned === true, 1000);

    // Assess
    expect(upstream.requests[0]?.abandoned).toBe(true);
  });

  it('answers 504 when the upstream does not answer within its timeout', async () => {
    const started = Date.now();
    const response = await fetch(`${room.url}/hang`, {
      headers: { cookie: `wr_pass=${pass}` },
      signal: AbortSignal.timeout(4000),
    }).catch((error: Error) => error);

    expect(response).toBeInstanceOf(Response);
    expect((response as Response).status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('answers 503 with Retry-After past the in-flight cap of one address, and still serves another', async () => {
    // Prepare: 8 requests the upstream never answers, from one address.
    const held: Socket[] = [];
    for (let i = 0; i < 8; i += 1) {
      const socket = connect({ port: room.port, host: '127.0.0.1', localAddress: '127.0.0.7' });
      socket.on('error', () => {});
      socket.write(`GET /hang HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\n\r\n`);
      held.push(socket);
    }
    await until(() => upstream.requests.length === 8, 1000);

    // Act
    const request = `GET /tickets HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nConnection: close\r\n\r\n`;
    const ninth = await rawRequest(room.port, request, { localAddress: '127.0.0.7' });
    const other = await rawRequest(room.port, request, { localAddress: '127.0.0.8' });
    for (const socket of held) socket.destroy();

    // Assess
    expect(ninth.status).toBe(503);
    expect(ninth.headers.get('retry-after')).toEqual(['1']);
    expect(other.status).toBe(200);
  });

  it('answers 413 to a body over the cap without reading it, and the upstream never sees it', async () => {
    const request = `POST /api/orders HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\nx`;

    const answer = await rawRequest(room.port, request);

    expect(answer.status).toBe(413);
    expect(upstream.raw).toBe('');
  });

  it('lets go of the upstream connection of a client that stops reading a large answer', async () => {
    // Prepare: ask for 32 MiB and never read.
    const socket = connect(room.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.pause();
    socket.write(`GET /big HTTP/1.1\r\nHost: ${host}\r\nCookie: wr_pass=${pass}\r\n\r\n`);
    await until(() => upstream.requests.length === 1, 1000);

    // Act
    await until(() => upstream.requests[0]?.abandoned === true, 4000);
    socket.destroy();

    // Assess
    expect(upstream.requests[0]?.abandoned).toBe(true);
  });
});

describe('upstream failures', () => {
  it('answers 502 when the upstream refuses the connection', async () => {
    // Prepare
    const closedPort = await freePort();
    const lonely = await startProxiedRoom(`http://127.0.0.1:${closedPort}`);
    const lonelyPass = await passFor(lonely);

    // Act
    const response = await fetch(`${lonely.url}/tickets`, {
      headers: { cookie: `wr_pass=${lonelyPass}` },
    });
    await lonely.close();

    // Assess
    expect(response.status).toBe(502);
  });
});
