/**
 * Both runtimes over real sockets, from the same test code (`npm start` in process and
 * `npm run start:aws-local` through the Lambda handlers): many visitors, FIFO at the configured
 * rate, resume within the grace, abandonment after it, and bad frames that hurt nobody.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { adminFetch } from '../../local/admin-secret.ts';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';
import { neverRises, WsVisitor } from '../helpers/ws-visitor.ts';

let room: RuntimeRoom | undefined;
const visitors: WsVisitor[] = [];

afterEach(async () => {
  await Promise.all(visitors.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
});

async function connect(count: number): Promise<WsVisitor[]> {
  const url = (room as RuntimeRoom).wsUrl;
  const opened = await Promise.all(Array.from({ length: count }, () => WsVisitor.connect(url)));
  visitors.push(...opened);
  return opened;
}

async function sessionIdOf(visitor: WsVisitor): Promise<string> {
  return (await visitor.next('joined', { since: 0 })).sessionId;
}

async function setRoom(change: { enabled?: boolean; admitPerMinute?: number }): Promise<void> {
  const response = await adminFetch((room as RuntimeRoom).url, 'config', {
    method: 'POST',
    body: JSON.stringify(change),
  });
  expect(response.status).toBe(200);
}

describe.each(RUNTIMES)('the %s waiting room over real sockets', (runtime) => {
  it('admits 200 visitors joining at once in FIFO order at the configured rate', async () => {
    // Prepare: 3,000 a minute at 100 ms ticks is 5 a tick.
    room = await startRuntimeRoom(runtime, { WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '0' });
    const firstWave = await connect(100);
    const secondWave = await connect(100);

    // Act: the first wave is joined before the second sends its join.
    for (const v of firstWave) v.send({ action: 'join', return: '/tickets' });
    const firstJoined = await Promise.all(firstWave.map((v) => v.next('joined')));
    for (const v of secondWave) v.send({ action: 'join', return: '/tickets' });
    await Promise.all(secondWave.map((v) => v.next('joined')));
    await Promise.all(secondWave.map((v) => v.next('position', { since: 0 })));
    const started = Date.now();
    await setRoom({ admitPerMinute: 3000 });
    const all = [...firstWave, ...secondWave];
    const timeoutMs = 20_000 + room.settleMs;
    const admitted = await Promise.all(all.map((v) => v.next('admitted', { timeoutMs })));
    const seconds = (Date.now() - started) / 1000;

    // Assess: every place was kept, in order, at the rate, and no position ever rose.
    const store = room.store;
    const sessions = await Promise.all(all.map(async (v) => store.get(await sessionIdOf(v))));
    const seqs = sessions.map((s) => s?.seq ?? '');
    const firstWaveLast = [...seqs.slice(0, 100)].sort().at(-1) as string;
    const secondWaveFirst = [...seqs.slice(100)].sort()[0] as string;
    expect(firstWaveLast < secondWaveFirst).toBe(true);
    const bySeq = [...sessions].sort((a, b) => ((a?.seq ?? '') < (b?.seq ?? '') ? -1 : 1));
    const admittedAt = bySeq.map((s) => s?.admittedAt ?? Infinity);
    expect(admittedAt).toEqual([...admittedAt].sort((a, b) => a - b));
    for (const v of all) expect(neverRises(v.positions())).toBe(true);
    for (const v of all) expect(v.messages()[0]?.type).toBe('joined');
    expect(new Set(admitted.map((a) => a.pass)).size).toBe(200);
    for (const a of admitted) expect(new URL(a.redirectUrl).pathname).toBe('/tickets');
    const perMinute = (200 / seconds) * 60;
    expect(perMinute).toBeLessThanOrEqual(3000 * 1.1);
    expect(firstJoined).toHaveLength(100);
    console.info(
      `${runtime}: 200 visitors admitted in ${seconds.toFixed(1)} s: ${perMinute.toFixed(0)}/min observed, 3000/min configured`,
    );
  });

  it('keeps the place of a visitor who reconnects within the grace and drops one who does not', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, {
      WR_TICK_MS: '100',
      WR_ADMIT_PER_MINUTE: '0',
      WR_ABANDON_AFTER_SECONDS: '1',
    });
    const line = await connect(5);
    const tickets: string[] = [];
    for (const v of line) {
      v.send({ action: 'join' });
      tickets.push((await v.next('joined')).ticket);
    }
    // Since the first frame: a visitor may hear its place before the last of them joined.
    await Promise.all(
      line.map((v, i) => v.next('position', { since: 0, where: (m) => m.position === i + 1 })),
    );
    const [, comesBack, leaves, behind] = line as [WsVisitor, WsVisitor, WsVisitor, WsVisitor];

    // Act
    await comesBack.close();
    await leaves.close();
    await new Promise((r) => setTimeout(r, 400));
    await comesBack.open();
    comesBack.send({ action: 'resume', ticket: tickets[1] });
    const resumed = await comesBack.next('joined');
    const moved = await behind.next('position', {
      where: (m) => m.position === 3,
      timeoutMs: 5000,
    });

    // Assess
    expect(resumed.ticket).toBe(tickets[1]);
    expect(
      await comesBack.next('position', { since: 0, where: (m) => m.position === 2 }),
    ).toBeDefined();
    expect(moved.waiting).toBe(4);
    expect(neverRises(comesBack.positions())).toBe(true);
    expect(neverRises(behind.positions())).toBe(true);
  });

  it('answers bad frames with errors and keeps everyone else moving', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, { WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '0' });
    const [rogue, honest] = (await connect(2)) as [WsVisitor, WsVisitor];
    honest.send({ action: 'join' });
    await honest.next('position');
    rogue.send({ action: 'join' });
    await rogue.next('joined');

    // Act
    const mark = rogue.received.length;
    const frames = [
      'not json',
      '{"action":"dance"}',
      '{"action":"resume","ticket":"forged.ticket.here"}',
      `{"action":"join","return":"${'x'.repeat(5000)}"}`,
      '[]',
    ];
    for (const frame of frames) rogue.send(frame);
    rogue.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    const errors: string[] = [];
    for (let i = 0; i < frames.length + 1; i++) {
      const error = await rogue.next('error', { since: mark + i });
      errors.push(error.code);
    }
    await setRoom({ admitPerMinute: 600 });
    const admitted = await honest.next('admitted', { timeoutMs: 5000 + room.settleMs });

    // Assess: one answer per frame (API Gateway keeps no order between frames, so sorted).
    expect(errors.sort()).toEqual([
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'invalid_ticket',
    ]);
    expect(admitted.type).toBe('admitted');
    expect(room.errors).toEqual([]);
  });

  it('rate-limits a flood from one socket without slowing another visitor', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, { WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '0' });
    const [flooder, calm] = (await connect(2)) as [WsVisitor, WsVisitor];
    calm.send({ action: 'join' });
    await calm.next('position');

    // Act
    for (let i = 0; i < 500; i++) flooder.send({ action: 'join' });
    await flooder.next('error', { where: (m) => m.code === 'rate_limited' });
    calm.send({ action: 'status' });
    const answer = await calm.next('position');
    // Every join is answered once, by `joined` or an error (in any order on AWS), or by API
    // Gateway's own error frame when the AWS build's containers are too far behind to take it.
    const answered = () =>
      flooder
        .messages()
        .filter(
          (m) =>
            m.type === 'joined' ||
            m.type === 'error' ||
            (m.type === undefined && typeof (m as { message?: unknown }).message === 'string'),
        ).length;
    for (const end = Date.now() + 60_000; answered() < 500 && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 50));
    }

    // Assess: one place for the flooding connection, however many joins it sent.
    const joinedIds = new Set(
      flooder.messages().flatMap((m) => (m.type === 'joined' ? [m.sessionId] : [])),
    );
    expect(answered()).toBe(500);
    expect(joinedIds.size).toBe(1);
    // On AWS the count is the last tick's (and the queue's): a numbering may sit between the two.
    let status = await room.status();
    for (
      const end = Date.now() + 5000;
      status.waiting + status.arriving < 2 && Date.now() < end;
    ) {
      await new Promise((r) => setTimeout(r, 100));
      status = await room.status();
    }
    expect(status.waiting + status.arriving).toBe(2);
    expect(answer.position).toBe(1);
  }, 120_000);
});
