/**
 * One machine against the line, on both runtimes: a review's client took 5,000 places in 3.5 s
 * and held 5,000 idle sockets from one address, every limit per connection holding. Now each
 * source address holds at most `WR_MAX_PLACES_PER_SOURCE` places (a join over it gets
 * `rate_limited`, admission and abandonment give places back), opens new sockets at a bounded
 * rate and, locally, keeps a bounded number open. Visitors come from distinct loopback
 * addresses (127.0.0.x), as distinct machines would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import { adminFetch } from '../../local/admin-secret.ts';
import {
  RUNTIMES,
  type RuntimeRoom,
  startRuntimeRoom,
  startTestRoom,
  type TestRoom,
} from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

const LIMITS = { WR_SOURCE_LIMITS: 'on', WR_MAX_PLACES_PER_SOURCE: '5' };

let room: RuntimeRoom | TestRoom | undefined;
const visitors: WsVisitor[] = [];
afterEach(async () => {
  await Promise.all(visitors.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
});

/** A visitor from `address` that sends `join` and resolves with its first answer. */
async function joinFrom(
  r: { wsUrl: string },
  address: string,
): Promise<{ visitor: WsVisitor; answer: ServerMessage }> {
  const visitor = await WsVisitor.connect(r.wsUrl, { localAddress: address });
  visitors.push(visitor);
  const since = visitor.received.length;
  visitor.send({ action: 'join' });
  const answer = await new Promise<ServerMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from ${address}`)), 15_000);
    const poll = setInterval(() => {
      const first = visitor.received[since];
      if (!first) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(first.message);
    }, 10);
  });
  return { visitor, answer };
}

const kinds = (answers: { answer: ServerMessage }[]) =>
  answers.map(({ answer }) => (answer.type === 'error' ? answer.code : answer.type));

async function setRate(r: RuntimeRoom, admitPerMinute: number): Promise<void> {
  const response = await adminFetch(r.url, 'config', {
    method: 'POST',
    body: JSON.stringify({ admitPerMinute }),
  });
  expect(response.status).toBe(200);
}

/** Opens a socket from `address`: 'open', or the HTTP status that refused the handshake. */
function handshake(
  url: string,
  address: string,
): Promise<{ outcome: 'open' | number; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress: address });
    ws.once('open', () => resolve({ outcome: 'open', ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ outcome: res.statusCode ?? 0, ws });
      ws.terminate();
    });
    ws.once('error', () => resolve({ outcome: 0, ws }));
  });
}

describe.each(RUNTIMES)('places per source address (%s)', (runtime) => {
  it('lets one address hold at most its places, leaves other addresses alone, and gives places back on admission and abandonment', async () => {
    // Prepare
    const r = await startRuntimeRoom(runtime, {
      ...LIMITS,
      WR_ADMIT_PER_MINUTE: '0',
      WR_ABANDON_AFTER_SECONDS: '1',
      WR_TICK_MS: '200',
    });
    room = r;

    // Act: eight joins from one address, one from another.
    const crowd = [];
    for (let i = 0; i < 8; i++) crowd.push(await joinFrom(r, '127.0.0.2'));
    const neighbour = await joinFrom(r, '127.0.0.3');
    const position = await neighbour.visitor.next('position', { timeoutMs: 15_000 });

    // Assess
    expect(kinds(crowd)).toEqual([...Array(5).fill('joined'), ...Array(3).fill('rate_limited')]);
    expect(crowd[5]?.answer).toMatchObject({
      type: 'error',
      message: expect.stringMatching(/too many places/),
    });
    expect(kinds([neighbour])).toEqual(['joined']);
    expect(position.position).toBe(6);
    // The refused pages back off and close their sockets.
    for (const { visitor } of crowd.slice(5)) await visitor.close();

    // Act: two of the address's visitors leave for good; their places come back.
    await crowd[0]?.visitor.close();
    await crowd[1]?.visitor.close();
    const deadline = Date.now() + 20_000;
    while ((await r.status()).abandonedTotal < 2 && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 200));
    }
    const afterAbandon = [await joinFrom(r, '127.0.0.2'), await joinFrom(r, '127.0.0.2')];
    const stillFull = await joinFrom(r, '127.0.0.2');

    // Assess
    expect((await r.status()).abandonedTotal).toBe(2);
    expect(kinds(afterAbandon)).toEqual(['joined', 'joined']);
    expect(kinds([stillFull])).toEqual(['rate_limited']);
    await stillFull.visitor.close();

    // Act: everyone is let in; the address's places all come back.
    await setRate(r, 6000);
    for (const { visitor } of [...crowd.slice(2, 5), ...afterAbandon, neighbour]) {
      await visitor.next('admitted', { timeoutMs: 20_000, since: 0 });
      // The page goes on to the main site.
      await visitor.close();
    }
    const again = [];
    for (let i = 0; i < 5; i++) again.push(await joinFrom(r, '127.0.0.2'));

    // Assess
    expect(kinds(again)).toEqual(Array(5).fill('joined'));
  }, 90_000);

  it('refuses the handshakes of an address that opens sockets by the hundred (429), and lets another address in meanwhile', async () => {
    // Prepare
    const r = await startRuntimeRoom(runtime, LIMITS);
    room = r;

    // Act
    const started = Date.now();
    const flood = await Promise.all(
      Array.from({ length: 200 }, () => handshake(r.wsUrl, '127.0.0.4')),
    );
    const windows = Math.floor(Date.now() / 5000) - Math.floor(started / 5000) + 1;
    const bystander = await handshake(r.wsUrl, '127.0.0.5');
    for (const { ws } of [...flood, bystander]) ws.terminate();

    // Assess: 5 places a source means a burst of 10 new sockets, 10 a second, and (locally) 10
    // open at once; on AWS 50 in each 5-second window the flood spans.
    const opened = flood.filter((f) => f.outcome === 'open').length;
    const refused = flood.filter((f) => f.outcome === 429).length;
    expect(opened).toBeGreaterThanOrEqual(5);
    expect(opened).toBeLessThanOrEqual(runtime === 'local' ? 10 : 50 * windows);
    if (runtime === 'aws-local' && windows <= 2) expect(refused).toBeGreaterThanOrEqual(100);
    expect(opened + refused).toBe(200);
    expect(bystander.outcome).toBe('open');
  }, 60_000);
});

describe.each(RUNTIMES)('WR_SOURCE_LIMITS=off (%s)', (runtime) => {
  it('lets one address take any number of places and open sockets in bursts', async () => {
    // Prepare
    const r = await startRuntimeRoom(runtime, {
      WR_SOURCE_LIMITS: 'off',
      WR_MAX_PLACES_PER_SOURCE: '2',
      WR_ADMIT_PER_MINUTE: '0',
    });
    room = r;

    // Act
    const joins = [];
    for (let i = 0; i < 5; i++) joins.push(await joinFrom(r, '127.0.0.31'));
    const burst = await Promise.all(
      Array.from({ length: 30 }, () => handshake(r.wsUrl, '127.0.0.31')),
    );
    for (const { ws } of burst) ws.terminate();

    // Assess
    expect(kinds(joins)).toEqual(Array(5).fill('joined'));
    expect(burst.map((b) => b.outcome)).toEqual(Array(30).fill('open'));
  }, 60_000);
});

describe('places per source address, npm start', () => {
  it('holds a client that tries to take 5,000 places to the default 100, and the next address joins right behind them', async () => {
    // Prepare: the default limits (100 places, 200 sockets open, a burst of 100 new sockets).
    const r = await startTestRoom({ WR_SOURCE_LIMITS: 'on', WR_ADMIT_PER_MINUTE: '0' });
    room = r;

    // Act: the review's attack, one address opening 5,000 sockets and joining on each.
    const started = Date.now();
    const attempts = await Promise.all(
      Array.from({ length: 5000 }, async () => {
        const { outcome, ws } = await handshake(r.wsUrl, '127.0.0.6');
        if (outcome !== 'open') return String(outcome);
        const answer = await new Promise<ServerMessage>((resolve) => {
          ws.once('message', (data) => resolve(JSON.parse(data.toString()) as ServerMessage));
          ws.send(JSON.stringify({ action: 'join' }));
        });
        return answer.type === 'error' ? answer.code : answer.type;
      }),
    );
    const elapsedMs = Date.now() - started;
    const neighbour = await joinFrom(r, '127.0.0.7');
    const position = await neighbour.visitor.next('position', { timeoutMs: 10_000 });

    // Assess
    const tally = Object.fromEntries(
      [...new Set(attempts)].map((k) => [k, attempts.filter((a) => a === k).length]),
    );
    console.log(`5,000 attempts from one address in ${elapsedMs} ms:`, tally);
    expect(tally.joined).toBe(100);
    expect((tally.joined ?? 0) + (tally.rate_limited ?? 0)).toBeLessThanOrEqual(200);
    expect(tally['429']).toBeGreaterThanOrEqual(4800);
    expect(kinds([neighbour])).toEqual(['joined']);
    expect(position.position).toBe(101);
    expect(r.errors).toEqual([]);
  }, 120_000);

  it('counts the places still in line after a restart on the same data directory', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'wr-sources-'));
    try {
      const env = { ...LIMITS, WR_ADMIT_PER_MINUTE: '0', WR_DATA_DIR: dir };
      room = await startTestRoom(env);
      for (let i = 0; i < 5; i++) await joinFrom(room, '127.0.0.8');
      // Still connected when the room stops: the places stay in line.
      await room.close();

      // Act
      room = await startTestRoom(env);
      const sixth = await joinFrom(room, '127.0.0.8');
      const other = await joinFrom(room, '127.0.0.9');

      // Assess
      expect(kinds([sixth, other])).toEqual(['rate_limited', 'joined']);
      expect(room.room.sources?.held('127.0.0.8')).toBe(5);
    } finally {
      await room?.close();
      room = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
