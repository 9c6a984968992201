/**
 * Open-redirect attempts, end to end on the running local runtime: the gate's redirect to the
 * waiting room (raw HTTP, so the request target reaches the server exactly as written), the
 * `return` of a `join` through to `admitted.redirectUrl` and `open.redirectUrl`, and the whole
 * chain gate → page → join → admitted. A visitor is only ever sent to a path on the main origin.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

let room: TestRoom;
const opened: WsVisitor[] = [];

beforeAll(async () => {
  room = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '6000' });
});

afterAll(async () => {
  await Promise.all(opened.map((v) => v.close()));
  await room.close();
});

/** Return values a visitor (or a link an attacker crafted) may hand the waiting room. */
const hostileReturns = [
  '//evil.example',
  '//evil.example/path',
  'https://evil.example',
  'https://evil.example/',
  'http://127.0.0.1.evil.example/',
  '/\\evil.example',
  '\\\\evil.example',
  '%2F%2Fevil.example',
  '/%2F%2Fevil.example',
  '/%2f%5cevil.example',
  '/.//evil.example',
  'javascript:alert(document.cookie)',
  'JaVaScRiPt:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  '/ok\r\nSet-Cookie: wr_pass=stolen',
  '/ok%0d%0aLocation:%20https://evil.example',
  '/\t/evil.example',
  'https:evil.example',
];

/** Sends a request exactly as written and returns the status and headers of the answer. */
function rawRequest(target: string): Promise<{ status: number; headers: Map<string, string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(room.port, '127.0.0.1', () => {
      socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers });
    });
  });
}

/** Whether `url` is an absolute URL on the main site's origin with a plain path. */
function onMainSite(url: string): boolean {
  const parsed = new URL(url);
  return (
    parsed.origin === room.url &&
    parsed.pathname.startsWith('/') &&
    !parsed.pathname.startsWith('//') &&
    !url.includes('\\') &&
    !/[\r\n]/.test(url)
  );
}

async function joinWith(returnValue: string) {
  const visitor = await WsVisitor.connect(room.wsUrl);
  opened.push(visitor);
  visitor.send({ action: 'join', return: returnValue });
  return visitor;
}

describe('the return of a join', () => {
  it.each(hostileReturns)('%j leads admitted.redirectUrl to the main site root', async (value) => {
    // Prepare
    const visitor = await joinWith(value);

    // Act
    const admitted = await visitor.next('admitted');

    // Assess
    expect(admitted.redirectUrl).toBe(`${room.url}/?wr_pass=${admitted.pass}`);
    expect(onMainSite(admitted.redirectUrl)).toBe(true);
  });

  it('keeps a genuine path and query, so the cases above can fail', async () => {
    const visitor = await joinWith('/tickets?show=evening');

    const admitted = await visitor.next('admitted');

    expect(admitted.redirectUrl).toBe(`${room.url}/tickets?show=evening&wr_pass=${admitted.pass}`);
  });
});

describe('the return of a join with the room off', () => {
  it('leads open.redirectUrl of every hostile value to the main site root', async () => {
    // Prepare
    room.room.config.set({ enabled: false });

    // Act
    const answers = [];
    for (const value of hostileReturns) answers.push(await (await joinWith(value)).next('open'));
    room.room.config.set({ enabled: true });

    // Assess
    expect(answers.map((a) => a.redirectUrl)).toEqual(hostileReturns.map(() => `${room.url}/`));
  });
});

/** Request targets as an attacker can put them on the wire. */
const hostileTargets = [
  '//evil.example',
  '//evil.example/path?x=1',
  '/\\evil.example',
  '/%2F%2Fevil.example',
  '/%2f%5cevil.example',
  '/.//evil.example',
  '/%0d%0aLocation:%20https://evil.example',
  '/%0d%0aSet-Cookie:%20wr_pass=stolen',
  'https://evil.example/',
  'http://evil.example//evil.example',
];

describe("the gate's redirect to the waiting room", () => {
  it.each(hostileTargets)('for %j names only a path on the main site as return', async (target) => {
    // Act
    const answer = await rawRequest(target);

    // Assess
    expect(answer.status).toBe(302);
    const location = new URL(answer.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(`${room.url}/waiting-room/`);
    const back = location.searchParams.get('return') ?? '';
    expect(back).toMatch(/^\/(?![/\\])/);
    expect(new URL(back, room.url).origin).toBe(room.url);
    expect(answer.headers.has('set-cookie')).toBe(false);
  });

  it('answers a request line with raw CR LF in it on the main site only, with no cookie', async () => {
    const answer = await rawRequest('/a\r\nLocation: https://evil.example');

    expect(answer.headers.get('location') ?? room.url).toMatch(new RegExp(`^${room.url}/`));
    expect(answer.headers.has('set-cookie')).toBe(false);
  });

  it.each(hostileTargets)(
    'for %j ends, after join and admission, on the main site',
    async (target) => {
      // Prepare: what the page does: read `return` from its URL and send it in `join`.
      const answer = await rawRequest(target);
      const back = new URL(answer.headers.get('location') ?? '').searchParams.get('return') ?? '/';

      // Act
      const admitted = await (await joinWith(back)).next('admitted');

      // Assess
      expect(onMainSite(admitted.redirectUrl)).toBe(true);
      const landing = new URL(admitted.redirectUrl);
      landing.searchParams.delete('wr_pass');
      expect(new URL(back, room.url).href.startsWith(`${room.url}/`)).toBe(true);
      expect(`${landing.pathname}${landing.search}`).toBe(back);
    },
  );
});
