/**
 * The operator console's server against a scripted room: access by token only, loopback Host
 * and same-origin only, the stream of samples, and changes passed to the room (the ones that let
 * everyone in or stop admission only when confirmed; malformed ones never).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigChange } from '../../../local/admin.ts';
import type { RoomReading } from '../../../tools/console/history.ts';
import type { ConsoleSample, ConsoleSnapshot } from '../../../tools/console/protocol.ts';
import {
  CONSOLE_SECURITY_POLICY,
  type ConsoleServer,
  startConsoleServer,
} from '../../../tools/console/server.ts';
import type { RoomSource } from '../../../tools/console/sources.ts';

const TOKEN = 'a'.repeat(43);

/** A room that answers with what the test sets and records the changes it gets. */
function scriptedRoom() {
  const reading: RoomReading = {
    enabled: true,
    admitPerMinute: 60,
    waiting: 10,
    arriving: 0,
    admittedLastMinute: 5,
    admittedTotal: 100,
    abandonedTotal: 3,
    connections: 12,
    schedule: null,
    error: null,
  };
  const changes: ConfigChange[] = [];
  const source: RoomSource = {
    target: { kind: 'local', label: 'scripted', notes: [] },
    read: async () => ({ ...reading }),
    async change(change) {
      changes.push(change);
      Object.assign(reading, change);
    },
  };
  return { reading, changes, source };
}

let server: ConsoleServer;
let room: ReturnType<typeof scriptedRoom>;

beforeEach(async () => {
  const dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>');
  room = scriptedRoom();
  server = await startConsoleServer({
    source: room.source,
    distDir: dist,
    port: 0,
    intervalMs: 50,
    token: TOKEN,
  });
});

afterEach(async () => {
  await server.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, so that Host, Origin and the rest are exactly what the test says. */
function call(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: options.method ?? 'GET',
        headers: { host: `127.0.0.1:${server.port}`, ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const withCookie = (headers: Record<string, string> = {}) => ({
  cookie: `${server.cookieName}=${TOKEN}`,
  ...headers,
});

function post(body: unknown, headers: Record<string, string> = {}) {
  return call('/api/config', {
    method: 'POST',
    headers: withCookie({
      'content-type': 'application/json',
      origin: server.origin,
      'sec-fetch-site': 'same-origin',
      ...headers,
    }),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('access', () => {
  it('answers 401 to the page and the API without the token', async () => {
    // Act
    const page = await call('/');
    const api = await call('/api/state');
    const events = await call('/api/events');

    // Assess
    expect([page.status, api.status, events.status]).toEqual([401, 401, 401]);
    expect(api.body).not.toContain('"samples"');
  });

  it('answers 401 to a wrong token, in the address, the cookie or the header', async () => {
    // Act
    const inAddress = await call(`/?token=${'b'.repeat(43)}`);
    const inCookie = await call('/api/state', {
      headers: { cookie: `${server.cookieName}=${'b'.repeat(43)}` },
    });
    const inHeader = await call('/api/state', { headers: { authorization: 'Bearer nope' } });

    // Assess
    expect([inAddress.status, inCookie.status, inHeader.status]).toEqual([401, 401, 401]);
    expect(inAddress.headers['set-cookie']).toBeUndefined();
  });

  it('exchanges the token in the address for an HttpOnly SameSite=Strict cookie and drops it from the address', async () => {
    // Act
    const answer = await call(`/?token=${TOKEN}`, { headers: { 'sec-fetch-site': 'none' } });

    // Assess
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toBe('/');
    const cookie = String(answer.headers['set-cookie']);
    expect(cookie).toContain(`${server.cookieName}=${TOKEN}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
  });

  it('serves the page with the cookie, under a self-only Content-Security-Policy', async () => {
    // Act
    const answer = await call('/', { headers: withCookie() });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('<title>console</title>');
    expect(answer.headers['content-security-policy']).toBe(CONSOLE_SECURITY_POLICY);
    expect(CONSOLE_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONSOLE_SECURITY_POLICY).not.toMatch(/unsafe|\*/);
  });

  it('refuses a Host that is not its loopback address (DNS rebinding), even with the token', async () => {
    // Act
    const rebound = await call('/api/state', {
      headers: withCookie({ host: `attacker.example:${server.port}` }),
    });
    const otherPort = await call('/api/state', {
      headers: withCookie({ host: `127.0.0.1:${server.port + 1}` }),
    });
    const localhost = await call('/api/state', {
      headers: withCookie({ host: `localhost:${server.port}` }),
    });

    // Assess
    expect(rebound.status).toBe(403);
    expect(otherPort.status).toBe(403);
    expect(localhost.status).toBe(200);
  });

  it('refuses other pages: a foreign Origin, or a same-site page on another local port', async () => {
    // Act
    const foreign = await post({ admitPerMinute: 10 }, { origin: 'https://attacker.example' });
    const otherPort = await post(
      { admitPerMinute: 10 },
      { origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-site' },
    );
    const crossSiteRead = await call('/api/state', {
      headers: withCookie({ 'sec-fetch-site': 'cross-site' }),
    });

    // Assess
    expect([foreign.status, otherPort.status, crossSiteRead.status]).toEqual([403, 403, 403]);
    expect(room.changes).toEqual([]);
  });
});

describe('samples', () => {
  it('streams a snapshot of the history, then each new sample', async () => {
    // Prepare
    const events: { event: string; data: string }[] = [];
    const controller = new AbortController();

    // Act
    const response = await fetch(`${server.origin}/api/events`, {
      headers: withCookie(),
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (events.filter((e) => e.event === 'sample').length < 2) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      const frames = text.split('\n\n');
      text = frames.pop() ?? '';
      for (const frame of frames) {
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event && data) events.push({ event, data });
      }
      room.reading.waiting = (room.reading.waiting ?? 0) + 1;
    }
    controller.abort();

    // Assess
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(events[0]?.event).toBe('snapshot');
    const snapshot = JSON.parse(events[0]?.data ?? '{}') as ConsoleSnapshot;
    expect(snapshot.samples.length).toBeGreaterThanOrEqual(1);
    expect(snapshot.intervalMs).toBe(50);
    const sample = JSON.parse(events[1]?.data ?? '{}') as ConsoleSample;
    expect(sample).toMatchObject({ origin: 'live', enabled: true, admitPerMinute: 60 });
    expect(sample.waiting).toBeGreaterThanOrEqual(10);
  });
});

describe('changes', () => {
  it('passes a rate change to the room and answers with a sample taken after it', async () => {
    // Act
    const answer = await post({ admitPerMinute: 120 });

    // Assess
    expect(answer.status).toBe(200);
    expect(room.changes).toEqual([{ admitPerMinute: 120 }]);
    expect(JSON.parse(answer.body).sample.admitPerMinute).toBe(120);
  });

  it('turns the room on without a confirmation', async () => {
    // Act
    const answer = await post({ enabled: true });

    // Assess
    expect(answer.status).toBe(200);
    expect(room.changes).toEqual([{ enabled: true }]);
  });

  it('refuses to turn the room off or pause admission unless the change is confirmed', async () => {
    // Act
    const off = await post({ enabled: false });
    const pause = await post({ admitPerMinute: 0 });
    const confirmed = await post({ admitPerMinute: 0, confirm: true });

    // Assess
    expect([off.status, pause.status]).toEqual([409, 409]);
    expect(JSON.parse(off.body).confirmationRequired).toBe(true);
    expect(confirmed.status).toBe(200);
    expect(room.changes).toEqual([{ admitPerMinute: 0 }]);
  });

  it('refuses malformed changes and changes nothing', async () => {
    // Act
    const answers = await Promise.all([
      post('{"admitPerMinute": '),
      post({ admitPerMinute: -1 }),
      post({ admitPerMinute: 1.5 }),
      post({ admitPerMinute: '60' }),
      post({ admitPerMinute: 2_000_000 }),
      post({ enabled: 'false' }),
      post({}),
      post({ admitPerMinute: 60, extra: true }),
      post({ admitPerMinute: 60 }, { 'content-type': 'text/plain' }),
      post(JSON.stringify({ admitPerMinute: 60, pad: 'x'.repeat(2000) })),
    ]);

    // Assess
    expect(answers.map((a) => a.status)).toEqual([
      400, 400, 400, 400, 400, 400, 400, 400, 415, 413,
    ]);
    expect(room.changes).toEqual([]);
  });

  it('says so when the room refuses the change', async () => {
    // Prepare
    room.source.change = async () => {
      throw new Error('SSM said no');
    };

    // Act
    const answer = await post({ admitPerMinute: 10 });

    // Assess
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body).error).toContain('SSM said no');
  });
});
