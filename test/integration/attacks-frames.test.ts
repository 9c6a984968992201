/**
 * Hostile frames over real sockets: oversized, binary, deeply nested, 10,000 generated frames
 * and a join flood from one socket, while calm visitors keep asking for their position. Every
 * bad frame gets `error` or `rate_limited`, a connection holds one place at most (also when it
 * resumes another place after joining), a ticket names one place however many sockets resume
 * it, and everyone else keeps getting answers. The status round trip of the calm visitors is
 * measured and printed (no timing is asserted).
 */

import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionRateLimiter } from '../../functions/core/rate-limiter.ts';
import {
  RUNTIMES,
  type RuntimeRoom,
  startRuntimeRoom,
  startTestRoom,
  type TestRoom,
} from '../helpers/local-room.ts';
import { neverRises, WsVisitor } from '../helpers/ws-visitor.ts';
import { sampleFrames } from '../unit/security/hostile-frames.ts';

let room: TestRoom | RuntimeRoom | undefined;
const opened: WsVisitor[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
});

async function connect(r: { wsUrl: string }, count: number): Promise<WsVisitor[]> {
  const visitors = await Promise.all(
    Array.from({ length: count }, () => WsVisitor.connect(r.wsUrl)),
  );
  opened.push(...visitors);
  return visitors;
}

/** Counts the frames the server has taken up, per connection (the rate limiter sees each first). */
function countHandledFrames(r: TestRoom): { busiest(n: number): number } {
  const limiter = r.room.router.limiter as ConnectionRateLimiter;
  const counts = new Map<string, number>();
  r.room.router.limiter = {
    allow(connectionId, now) {
      counts.set(connectionId, (counts.get(connectionId) ?? 0) + 1);
      return limiter.allow(connectionId, now);
    },
    forget: (connectionId) => limiter.forget(connectionId),
  };
  return {
    busiest: (n) =>
      [...counts.values()]
        .sort((a, b) => b - a)
        .slice(0, n)
        .reduce((a, b) => a + b, 0),
  };
}

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

/**
 * Each calm visitor asks for its position every 250 ms (within its own rate limit) until
 * `stop` says so, and records every round trip in milliseconds.
 */
async function measureStatus(calm: WsVisitor[], stop: () => boolean): Promise<number[]> {
  const rtts: number[] = [];
  await Promise.all(
    calm.map(async (visitor) => {
      while (!stop()) {
        const since = visitor.received.length;
        const sent = performance.now();
        visitor.send({ action: 'status' });
        await visitor.next('position', { since, timeoutMs: 20_000 });
        rtts.push(performance.now() - sent);
        await sleep(250);
      }
    }),
  );
  return rtts;
}

function summary(label: string, rtts: readonly number[]): string {
  return `${label}: n=${rtts.length} p50=${percentile(rtts, 50).toFixed(1)} ms p99=${percentile(rtts, 99).toFixed(1)} ms max=${Math.max(...rtts).toFixed(1)} ms`;
}

describe('a flood from one socket', () => {
  it('of 10,000 generated frames and 2,000 joins gets errors, while calm visitors keep their answers', async () => {
    // Prepare: ten calm visitors in line, then the flooders.
    room = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '0' });
    const r = room;
    const calm = await connect(r, 10);
    for (const visitor of calm) {
      visitor.send({ action: 'join' });
      await visitor.next('joined');
    }
    await Promise.all(calm.map((v) => v.next('position', { since: 0 })));
    const [fuzzer, joiner] = (await connect(r, 2)) as [WsVisitor, WsVisitor];
    const handled = countHandledFrames(r);
    const frames = sampleFrames(10_000, 20261125);
    let calmPhase: 'baseline' | 'flood' | 'done' = 'baseline';

    // Act: a quiet baseline, then both floods in bursts while the calm visitors keep asking.
    const baselineStart = performance.now();
    const baseline = await measureStatus(calm, () => performance.now() - baselineStart > 2000);
    calmPhase = 'flood';
    const during = measureStatus(calm, () => calmPhase === 'done');
    let binaryFrames = 0;
    for (let i = 0; i < frames.length; i += 250) {
      for (const frame of frames.slice(i, i + 250)) fuzzer.send(frame);
      for (let j = 0; j < 50; j++) joiner.send({ action: 'join' });
      fuzzer.socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
      binaryFrames += 1;
      await sleep(25);
    }
    await until(() => handled.busiest(2) >= frames.length + binaryFrames + 2000);
    calmPhase = 'done';
    const flood = await during;
    // Every frame has been handled; once the bucket refills, a ping is answered after them all.
    await sleep(400);
    fuzzer.send({ action: 'ping' });
    joiner.send({ action: 'ping' });
    await Promise.all([fuzzer.next('pong'), joiner.next('pong')]);

    // Assess
    const fuzzAnswers = fuzzer.messages();
    const joinAnswers = joiner.messages();
    for (const m of [...fuzzAnswers, ...joinAnswers]) {
      expect(['joined', 'position', 'pong', 'error']).toContain(m.type);
      if (m.type === 'error') expect(m.code).not.toBe('internal');
    }
    const placesOf = (answers: typeof fuzzAnswers) =>
      new Set(answers.flatMap((m) => (m.type === 'joined' ? [m.sessionId] : [])));
    expect(placesOf(fuzzAnswers).size).toBeLessThanOrEqual(1);
    expect(placesOf(joinAnswers).size).toBe(1);
    const rateLimited = [...fuzzAnswers, ...joinAnswers].filter(
      (m) => m.type === 'error' && m.code === 'rate_limited',
    ).length;
    expect(rateLimited).toBeGreaterThan(0);
    const status = await r.room.status();
    expect(status.waiting + status.arriving).toBe(10 + 1 + placesOf(fuzzAnswers).size);
    expect(flood.length).toBeGreaterThanOrEqual(calm.length);
    for (const [i, visitor] of calm.entries()) {
      expect(visitor.positions().every((p) => p === i + 1)).toBe(true);
    }
    expect(r.errors).toEqual([]);
    console.info(
      [
        `flood: ${frames.length} generated text frames + ${binaryFrames} binary frames + 2000 joins from two sockets; answers: ${rateLimited} rate_limited, ${fuzzAnswers.length + joinAnswers.length} in all`,
        summary('calm status round trip, before the flood', baseline),
        summary('calm status round trip, during the flood', flood),
      ].join('\n'),
    );
  });
});

describe.each(RUNTIMES)('bad frames, one by one, on the %s runtime', (runtime) => {
  it('answers oversized, nested and binary frames with bad_request and closes past the message limit', async () => {
    // Prepare: the limit is 64 KiB locally, API Gateway's 128 KB on AWS.
    const r = await startRuntimeRoom(runtime, { WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '0' });
    room = r;
    const [rogue, honest] = (await connect(r, 2)) as [WsVisitor, WsVisitor];
    honest.send({ action: 'join' });
    await honest.next('position');

    // Act
    const frames = [
      `{"action":"join","return":"/${'x'.repeat(4096)}"}`,
      `${'['.repeat(2000)}${']'.repeat(2000)}`,
      `${'{"action":'.repeat(400)}"join"${'}'.repeat(400)}`,
      '{"action":"join","return":"/","extra":1}',
      '{"action":"__proto__"}',
    ];
    for (const frame of frames) rogue.send(frame);
    rogue.socket.send(Buffer.alloc(100), { binary: true });
    // One answer a frame (on AWS in any order).
    await until(() => rogue.messages().length >= frames.length + 1);
    const codes = rogue.messages().map((m) => (m.type === 'error' ? m.code : m.type));
    const closed = new Promise<number>((resolve) =>
      rogue.socket.once('close', (code) => resolve(code)),
    );
    rogue.send(`{"action":"join","return":"/${'x'.repeat(r.maxFrameBytes)}"}`);
    const closeCode = await closed;
    const since = honest.received.length;
    honest.send({ action: 'status' });
    const answer = await honest.next('position', { since });

    // Assess
    expect(codes).toEqual(frames.map(() => 'bad_request').concat('bad_request'));
    expect(closeCode).toBe(1009);
    expect(answer.position).toBe(1);
    expect((await r.status()).waiting).toBe(1);
  });
});

describe.each(RUNTIMES)('zombie places, on the %s runtime', (runtime) => {
  it('holds none of them in line after the grace, in front of the visitor who came next', async () => {
    // Prepare: a place whose ticket the attacker keeps; a grace of one second.
    const r = await startRuntimeRoom(runtime, {
      WR_TICK_MS: '100',
      WR_ADMIT_PER_MINUTE: '0',
      WR_ABANDON_AFTER_SECONDS: '1',
    });
    room = r;
    const [anchor] = (await connect(r, 1)) as [WsVisitor];
    anchor.send({ action: 'join' });
    const { ticket, sessionId: anchorId } = await anchor.next('joined');
    await anchor.close();
    const joinedOn = (v: WsVisitor) =>
      v.messages().flatMap((m) => (m.type === 'joined' ? [m.sessionId] : []));

    // Act: socket after socket joins (a new place), resumes the kept ticket, joins again and
    // closes; every other socket sends its three frames at once (on AWS they then run at once).
    const made = new Set<string>();
    const frames = [{ action: 'join' }, { action: 'resume', ticket }, { action: 'join' }];
    for (let i = 0; i < 40; i++) {
      const [socket] = (await connect(r, 1)) as [WsVisitor];
      for (const [k, frame] of frames.entries()) {
        socket.send(frame);
        if (i % 2 === 0) await until(() => joinedOn(socket).length > k);
      }
      await until(() => joinedOn(socket).length === frames.length);
      for (const id of joinedOn(socket)) made.add(id);
      await socket.close();
    }
    made.delete(anchorId);
    const [honest] = (await connect(r, 1)) as [WsVisitor];
    honest.send({ action: 'join' });
    const { sessionId: honestId } = await honest.next('joined');
    const cleared = await honest.next('position', {
      since: 0,
      where: (m) => m.position === 1,
      timeoutMs: 15_000,
    });

    // Assess: each socket that waited for its answers made a place; none is left in line.
    expect(made.size).toBeGreaterThanOrEqual(20);
    expect(neverRises(honest.positions())).toBe(true);
    expect(cleared.waiting).toBe(1);
    const states = await Promise.all(
      [...made, anchorId].map(async (id) => (await r.store.get(id))?.state),
    );
    expect(states).toEqual(states.map(() => 'abandoned'));
    expect((await r.store.get(honestId))?.state).toBe('waiting');
    expect(r.errors).toEqual([]);
  });
});

describe('a binary flood', () => {
  it('is rate-limited like a text one', async () => {
    // Prepare
    room = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '0' });
    const [rogue] = (await connect(room, 1)) as [WsVisitor];

    // Act
    for (let i = 0; i < 100; i++) rogue.socket.send(Buffer.from([i]), { binary: true });
    await until(() => rogue.received.length >= 100);

    // Assess
    const codes = rogue.messages().map((m) => (m.type === 'error' ? m.code : m.type));
    expect(codes.filter((c) => c === 'bad_request').length).toBeLessThanOrEqual(25);
    expect(codes.filter((c) => c === 'rate_limited').length).toBeGreaterThanOrEqual(75);
  });
});

describe('one place per ticket', () => {
  it('gives two sockets resuming the same ticket the one place, admitted once', async () => {
    // Prepare
    room = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '0' });
    const [owner, ahead] = (await connect(room, 2)) as [WsVisitor, WsVisitor];
    ahead.send({ action: 'join' });
    await ahead.next('position');
    owner.send({ action: 'join' });
    const { ticket, sessionId } = await owner.next('joined');
    await owner.next('position');
    const [first, second] = (await connect(room, 2)) as [WsVisitor, WsVisitor];

    // Act: both resume at once (the later one takes the place, the other is told superseded
    // and closed), then the holder also sends a join of its own.
    first.send({ action: 'resume', ticket });
    second.send({ action: 'resume', ticket });
    const resumed = await Promise.all([first.next('joined'), second.next('joined')]);
    const loser = await Promise.race([
      first.next('superseded', { since: 0 }).then(() => first),
      second.next('superseded', { since: 0 }).then(() => second),
    ]);
    const holder = loser === first ? second : first;
    holder.send({ action: 'join' });
    const rejoined = await holder.next('joined', { since: holder.received.length });
    const inLine = await room.room.status();
    room.room.config.set({ admitPerMinute: 6000 });
    await ahead.next('admitted');
    const pushed = await holder.next('admitted');
    const late = await WsVisitor.connect(room.wsUrl);
    opened.push(late);
    late.send({ action: 'resume', ticket });
    const again = await late.next('admitted');

    // Assess
    expect(resumed.map((j) => j.sessionId)).toEqual([sessionId, sessionId]);
    expect(rejoined.sessionId).toBe(sessionId);
    expect(owner.messages().map((m) => m.type)).toContain('superseded');
    expect(inLine.waiting + inLine.arriving).toBe(2);
    const admittedOn = [owner, first, second].map(
      (v) => v.messages().filter((m) => m.type === 'admitted').length,
    );
    expect(admittedOn.reduce((a, b) => a + b)).toBe(1);
    expect(again.pass).toBe(pushed.pass);
    expect((await room.room.status()).admittedTotal).toBe(2);
  });
});
