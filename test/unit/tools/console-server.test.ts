/**
 * The operator console's server against a scripted room: its API by bearer token only (no
 * cookie), loopback Host and same-origin only, the stream of samples, and changes passed to the
 * room (the ones that let everyone in or stop admission only when confirmed; malformed ones
 * never), each answered with a sample read after it.
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

/**
 * A room that answers with what the test sets and records the changes it gets. A read takes
 * its figures when it starts, and finishes when `hold` (if set) resolves.
 */
function scriptedRoom() {
  const reading: RoomReading = {
    enabled: true,
    admitPerMinute: 60,
    waiting: 500,
    arriving: 0,
    admittedLastMinute: 5,
    admittedTotal: 100,
    abandonedTotal: 3,
    connections: 12,
    schedule: null,
    powCost: 0,
    message: null,
    closed: null,
    error: null,
  };
  const changes: ConfigChange[] = [];
  const script = {
    reading,
    changes,
    hold: null as Promise<void> | null,
    readsStarted: 0,
    source: {
      target: { kind: 'local', label: 'scripted', notes: [] },
      async read() {
        const figures = { ...reading };
        script.readsStarted += 1;
        await script.hold;
        return figures;
      },
      async change(change) {
        changes.push(change);
        Object.assign(reading, change);
      },
    } as RoomSource,
  };
  return script;
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

const withToken = (headers: Record<string, string> = {}) => ({
  authorization: `Bearer ${TOKEN}`,
  ...headers,
});

function post(body: unknown, headers: Record<string, string> = {}) {
  return call('/api/config', {
    method: 'POST',
    headers: withToken({
      'content-type': 'application/json',
      origin: server.origin,
      'sec-fetch-site': 'same-origin',
      ...headers,
    }),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Until the console has sampled the room as it is now. */
async function sampled(check: (s: ConsoleSample) => boolean): Promise<void> {
  await expect
    .poll(() => {
      const latest = server.samples().at(-1);
      return latest !== undefined && check(latest);
    })
    .toBe(true);
}

describe('access', () => {
  it('prints an address with the token in its fragment, which no request carries', () => {
    // Assess
    expect(server.url).toBe(`${server.origin}/#token=${TOKEN}`);
  });

  it('answers 401 on every API route without the token, and sets no cookie', async () => {
    // Act
    const answers = await Promise.all([
      call('/api/state'),
      call('/api/events'),
      call('/api/config', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"admitPerMinute":10}',
      }),
    ]);

    // Assess
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401]);
    expect(answers.map((a) => a.headers['set-cookie'])).toEqual([undefined, undefined, undefined]);
    expect(answers[0]?.body).not.toContain('"samples"');
    expect(room.changes).toEqual([]);
  });

  it('answers 401 on the API to a wrong bearer, and to the right token in a cookie or the address', async () => {
    // Act
    const wrong = await call('/api/state', {
      headers: { authorization: `Bearer ${'b'.repeat(43)}` },
    });
    const shorter = await call('/api/state', { headers: { authorization: 'Bearer nope' } });
    const notBearer = await call('/api/state', { headers: { authorization: `Basic ${TOKEN}` } });
    const cookie = await call('/api/state', { headers: { cookie: `wr_console=${TOKEN}` } });
    const query = await call(`/api/state?token=${TOKEN}`);

    // Assess
    expect([wrong.status, shorter.status, notBearer.status, cookie.status]).toEqual([
      401, 401, 401, 401,
    ]);
    expect(query.status).toBe(400);
  });

  it('answers the API with the token as a bearer', async () => {
    // Act
    const answer = await call('/api/state', { headers: withToken() });

    // Assess
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as ConsoleSnapshot).samples.length).toBeGreaterThan(0);
  });

  it('serves the page shell without the token (it holds no data), under a self-only Content-Security-Policy', async () => {
    // Act
    const answer = await call('/', { headers: { 'sec-fetch-site': 'none' } });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('<title>console</title>');
    expect(answer.headers['set-cookie']).toBeUndefined();
    expect(answer.headers['content-security-policy']).toBe(CONSOLE_SECURITY_POLICY);
    expect(CONSOLE_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONSOLE_SECURITY_POLICY).not.toMatch(/unsafe|\*/);
  });

  it('does not honour a token in the query string of an earlier version', async () => {
    // Act
    const answer = await call(`/?token=${TOKEN}`, { headers: { 'sec-fetch-site': 'none' } });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('#token=');
    expect(answer.body).not.toContain(TOKEN);
    expect(answer.headers.location).toBeUndefined();
  });

  it('refuses a Host that is not its loopback address (DNS rebinding), even with the token', async () => {
    // Act
    const rebound = await call('/api/state', {
      headers: withToken({ host: `attacker.example:${server.port}` }),
    });
    const otherPort = await call('/api/state', {
      headers: withToken({ host: `127.0.0.1:${server.port + 1}` }),
    });
    const localhost = await call('/api/state', {
      headers: withToken({ host: `localhost:${server.port}` }),
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
      headers: withToken({ 'sec-fetch-site': 'cross-site' }),
    });
    const crossSiteShell = await call('/', { headers: { 'sec-fetch-site': 'cross-site' } });

    // Assess
    expect([foreign.status, otherPort.status, crossSiteRead.status, crossSiteShell.status]).toEqual(
      [403, 403, 403, 403],
    );
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
      headers: withToken(),
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

  it('refuses to close the sale unless the change is confirmed, and reopens without one', async () => {
    // Act
    const close = await post({ closed: 'Sold out' });
    const confirmed = await post({ closed: 'Sold out', confirm: true });
    const reopen = await post({ closed: null });

    // Assess
    expect(close.status).toBe(409);
    expect(JSON.parse(close.body).error).toContain('closing the sale');
    expect([confirmed.status, reopen.status]).toEqual([200, 200]);
    expect(room.changes).toEqual([{ closed: 'Sold out' }, { closed: null }]);
  });

  it('passes the schedule, the pow cost and the message to the room, and samples them after', async () => {
    // Act
    const answer = await post({ opensAt: 1_900_000_000_000, powCost: 500, message: 'Hold on' });

    // Assess
    expect(answer.status).toBe(200);
    expect(room.changes).toEqual([
      { opensAt: 1_900_000_000_000, powCost: 500, message: 'Hold on' },
    ]);
    expect(JSON.parse(answer.body).sample).toMatchObject({ powCost: 500, message: 'Hold on' });
  });

  it('refuses a message on more than one line, naming the field', async () => {
    // Act
    const answer = await post({ message: 'one\ntwo' });

    // Assess
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toContain('message: ');
    expect(room.changes).toEqual([]);
  });

  it('refuses a rate that lets the whole line in within a minute unless it is confirmed', async () => {
    // Prepare: 40 numbered and 10 arriving are in line.
    room.reading.waiting = 40;
    room.reading.arriving = 10;
    await sampled((s) => s.waiting === 40);

    // Act
    const below = await post({ admitPerMinute: 49 });
    const wholeLine = await post({ admitPerMinute: 50 });
    const confirmed = await post({ admitPerMinute: 50, confirm: true });

    // Assess
    expect([below.status, wholeLine.status, confirmed.status]).toEqual([200, 409, 200]);
    expect(JSON.parse(wholeLine.body)).toMatchObject({ confirmationRequired: true });
    expect(JSON.parse(wholeLine.body).error).toContain('all 50 in line');
    expect(room.changes).toEqual([{ admitPerMinute: 49 }, { admitPerMinute: 50 }]);
  });

  it('refuses a rate more than ten times the current one and above 600 unless it is confirmed', async () => {
    // Prepare: a long line at 60 a minute.
    room.reading.waiting = 100_000;
    await sampled((s) => s.waiting === 100_000);

    // Act
    const tenTimes = await post({ admitPerMinute: 600 });
    room.reading.admitPerMinute = 60;
    await sampled((s) => s.admitPerMinute === 60);
    const surge = await post({ admitPerMinute: 601 });
    const confirmed = await post({ admitPerMinute: 601, confirm: true });

    // Assess
    expect([tenTimes.status, surge.status, confirmed.status]).toEqual([200, 409, 200]);
    expect(JSON.parse(surge.body).error).toContain('more than 10 times the current 60');
    expect(room.changes).toEqual([{ admitPerMinute: 600 }, { admitPerMinute: 601 }]);
  });

  it('answers a change with a sample read after it, not one read already under way', async () => {
    // Prepare: a read of the room, before the change, is under way and not back yet.
    let release = () => {};
    room.hold = new Promise<void>((done) => {
      release = done;
    });
    const before = room.readsStarted;
    const first = post({ admitPerMinute: 100 });
    await expect.poll(() => room.readsStarted).toBeGreaterThan(before);
    await expect.poll(() => room.changes.length).toBe(1);

    // Act: a second change, while that read (which saw 100) is still out.
    const second = post({ admitPerMinute: 200 });
    await expect.poll(() => room.changes.length).toBe(2);
    room.hold = null;
    release();
    const [, answer] = await Promise.all([first, second]);

    // Assess
    expect(JSON.parse(answer.body).sample.admitPerMinute).toBe(200);
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
      post(JSON.stringify({ admitPerMinute: 60, pad: 'x'.repeat(9000) })),
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
