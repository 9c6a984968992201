/**
 * Faults in the running local runtime over real sockets: connections that die without their
 * close ever being handled (a lost `$disconnect`), and a config source that fails for a while
 * under the live processor loop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bucketCapacity } from '../../functions/core/admission.ts';
import { adminFetch } from '../../local/admin-secret.ts';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';
import { neverRises, WsVisitor } from '../helpers/ws-visitor.ts';

let room: TestRoom | undefined;
const opened: WsVisitor[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
});

async function lineOf(r: TestRoom, count: number) {
  const line: { visitor: WsVisitor; sessionId: string }[] = [];
  for (let i = 0; i < count; i++) {
    const visitor = await WsVisitor.connect(r.wsUrl);
    opened.push(visitor);
    visitor.send({ action: 'join' });
    line.push({ visitor, sessionId: (await visitor.next('joined')).sessionId });
  }
  await Promise.all(
    line.map(({ visitor }, i) =>
      visitor.next('position', { since: 0, where: (m) => m.position === i + 1 }),
    ),
  );
  return line;
}

/** Kills the server side of a session's socket without its close handler: `$disconnect` lost. */
async function loseDisconnect(r: TestRoom, sessionId: string): Promise<void> {
  const connectionId = (await r.room.store.get(sessionId))?.connectionId as string;
  const connection = r.room.notifier.sockets.get(connectionId);
  if (!connection) throw new Error(`no socket for ${sessionId}`);
  connection.socket.removeAllListeners('close');
  connection.socket.terminate();
}

describe('connections gone without a $disconnect', () => {
  it('are found by posting, dropped after the grace, and everyone behind moves up', async () => {
    // Prepare: 20 in line, admission paused, a one-second grace.
    room = await startTestRoom({
      WR_TICK_MS: '100',
      WR_ADMIT_PER_MINUTE: '0',
      WR_ABANDON_AFTER_SECONDS: '1',
    });
    const line = await lineOf(room, 20);
    const lost = line.filter((_, i) => i % 2 === 1);
    const kept = line.filter((_, i) => i > 0 && i % 2 === 0);

    // Act: every odd one dies silently; the head leaves properly, so the line moves and the
    // processor posts to everyone (and finds the dead) at once.
    for (const { sessionId } of lost) await loseDisconnect(room, sessionId);
    await line[0]?.visitor.close();
    await Promise.all(
      kept.map(({ visitor }, i) =>
        visitor.next('position', {
          since: 0,
          where: (m) => m.position === i + 1,
          timeoutMs: 15_000,
        }),
      ),
    );
    const status = await room.room.status();
    await adminFetch(room.url, 'config', {
      method: 'POST',
      body: JSON.stringify({ admitPerMinute: 6000 }),
    });
    await Promise.all(kept.map(({ visitor }) => visitor.next('admitted')));

    // Assess
    expect(status).toMatchObject({ waiting: kept.length, abandonedTotal: lost.length + 1 });
    for (const { visitor } of kept) expect(neverRises(visitor.positions())).toBe(true);
    const lostSessions = await Promise.all(
      lost.map(({ sessionId }) => room?.room.store.get(sessionId)),
    );
    expect(lostSessions.map((s) => s?.state)).toEqual(lost.map(() => 'abandoned'));
    const admittedAt = await Promise.all(
      kept.map(async ({ sessionId }) => (await room?.room.store.get(sessionId))?.admittedAt ?? 0),
    );
    expect(admittedAt).toEqual([...admittedAt].sort((a, b) => a - b));
    expect(room.errors).toEqual([]);
  });
});

describe('a config source that fails for a while', () => {
  it('costs ticks, not the loop, and the first good tick admits one bucket at most', async () => {
    // Prepare: 40 in line at 600 a minute with 100 ms ticks (one admission a tick).
    room = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '0' });
    const r = room;
    const line = await lineOf(r, 40);
    const admissions: number[] = [];
    const admit = r.room.store.admit.bind(r.room.store);
    r.room.store.admit = async (sessionId, pass, at) => {
      const done = await admit(sessionId, pass, at);
      if (done) admissions.push(at);
      return done;
    };
    const read = r.room.config.get.bind(r.room.config);
    let failing = true;
    r.room.config.get = async () => {
      if (failing) throw new Error('config store unavailable');
      return read();
    };
    r.room.config.set({ admitPerMinute: 600 });

    // Act: a second of failed reads, then the source is back.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const failedTicks = r.errors.filter((e) => e.startsWith('tick failed')).length;
    const admittedWhileFailing = admissions.length;
    failing = false;
    await Promise.all(line.slice(0, 10).map(({ visitor }) => visitor.next('admitted')));

    // Assess
    expect(failedTicks).toBeGreaterThan(0);
    expect(admittedWhileFailing).toBe(0);
    const perTick = new Map<number, number>();
    for (const at of admissions) perTick.set(at, (perTick.get(at) ?? 0) + 1);
    expect(Math.max(...perTick.values())).toBeLessThanOrEqual(bucketCapacity(600, 100));
    for (const { visitor } of line) expect(neverRises(visitor.positions())).toBe(true);
    console.info(
      `config failures: ${failedTicks} ticks failed in a row, the loop went on; the first good tick admitted ${perTick.get(Math.min(...perTick.keys()))}`,
    );
  });
});
