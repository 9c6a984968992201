import { describe, expect, it } from 'vitest';
import { verifierFor, verifyPass } from '../../../functions/core/tokens.ts';
import {
  createHarness,
  type Harness,
  joinedOf,
  MAIN_ORIGIN,
  ROOM_ID,
} from '../../helpers/room-harness.ts';

async function joinMany(h: Harness, count: number, prefix = 'c'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(joinedOf(await h.send(`${prefix}${i}`, { action: 'join' })).sessionId);
  }
  return ids;
}

function lastOfType<T extends string>(h: Harness, connectionId: string, type: T) {
  return h.notifier
    .messages(connectionId)
    .filter((m) => m.type === type)
    .at(-1);
}

describe('processor tick', () => {
  it('numbers arrivals in the order they joined and tells each its position', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    await joinMany(h, 3);

    // Act
    await h.tick();

    // Assess
    expect(lastOfType(h, 'c0', 'position')).toEqual({
      type: 'position',
      position: 1,
      waiting: 3,
      etaSeconds: null,
      nextUpdateSeconds: 11,
    });
    expect(lastOfType(h, 'c2', 'position')).toMatchObject({ position: 3, waiting: 3 });
  });

  it('admits from the head at the configured rate with a pass back to the return path', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 120 } });
    await h.send('c0', { action: 'join', return: '/tickets?show=evening' });
    await joinMany(h, 4, 'd');

    // Act
    const report = await h.tick();

    // Assess
    expect(report.admitted).toHaveLength(2);
    const admitted = lastOfType(h, 'c0', 'admitted');
    expect(admitted?.type).toBe('admitted');
    if (admitted?.type !== 'admitted') return;
    const url = new URL(admitted.redirectUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${MAIN_ORIGIN}/tickets`);
    expect(url.searchParams.get('show')).toBe('evening');
    expect(url.searchParams.get('wr_pass')).toBe(admitted.pass);
    const verified = await verifyPass(verifierFor(h.jwks), admitted.pass, {
      roomId: ROOM_ID,
      mainOrigin: MAIN_ORIGIN,
      now: h.clock.now() / 1000,
    });
    expect(verified?.expiresAt).toBe(admitted.expiresAt);
    expect(lastOfType(h, 'd1', 'position')).toMatchObject({ position: 1, waiting: 3 });
  });

  it('keeps admitting strictly in join order across ticks', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 180 } });
    const ids = await joinMany(h, 10);

    // Act
    const admitted: string[] = [];
    for (let i = 0; i < 5; i++) admitted.push(...(await h.tick()).admitted);

    // Assess
    expect(admitted).toEqual(ids);
  });

  it('moves everyone up when a visitor ahead is gone longer than the grace', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 }, abandonAfterMs: 5000 });
    await joinMany(h, 3);
    await h.tick();
    await h.disconnect('c0');

    // Act
    for (let i = 0; i < 6; i++) await h.tick();

    // Assess
    expect(lastOfType(h, 'c1', 'position')).toMatchObject({ position: 1, waiting: 2 });
    expect(lastOfType(h, 'c2', 'position')).toMatchObject({ position: 2, waiting: 2 });
  });

  it('keeps the place of a visitor who resumes within the grace', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 }, abandonAfterMs: 5000 });
    const [ticket] = [joinedOf(await h.send('c0', { action: 'join' })).ticket];
    await joinMany(h, 2, 'd');
    await h.tick();
    await h.disconnect('c0');
    for (let i = 0; i < 4; i++) await h.tick();

    // Act
    const replies = await h.send('c0-again', { action: 'resume', ticket });
    for (let i = 0; i < 4; i++) await h.tick();

    // Assess: the place is answered at once, its position by the next tick.
    expect(replies).toEqual([expect.objectContaining({ type: 'joined', ticket })]);
    expect(lastOfType(h, 'c0-again', 'position')).toMatchObject({ position: 1, waiting: 3 });
  });

  it('tells a visitor who comes back after the grace that the place is gone', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 }, abandonAfterMs: 1000 });
    const { ticket } = joinedOf(await h.send('c0', { action: 'join' }));
    await h.tick();
    await h.disconnect('c0');
    await h.tick();
    await h.tick();

    // Act
    const replies = await h.send('c0-again', { action: 'resume', ticket });

    // Assess
    expect(replies).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_ticket' })]);
  });

  it('hands the same pass back to an admitted visitor who resumes', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 60 } });
    const { ticket } = joinedOf(await h.send('c0', { action: 'join' }));
    await h.tick();
    const first = lastOfType(h, 'c0', 'admitted');

    // Act
    const replies = await h.send('c0-reload', { action: 'resume', ticket });
    await h.tick();

    // Assess
    expect(replies[1]).toEqual(first);
    expect(h.notifier.messages('c0-reload').filter((m) => m.type === 'admitted')).toHaveLength(0);
  });

  it('admits a visitor who is briefly away and gives the pass on return', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    const { ticket } = joinedOf(await h.send('c0', { action: 'join' }));
    await h.tick();
    await h.disconnect('c0');
    h.config.set({ admitPerMinute: 60 });

    // Act
    const report = await h.tick();
    const replies = await h.send('c0-back', { action: 'resume', ticket });

    // Assess
    expect(report.admitted).toHaveLength(1);
    expect(replies[1]).toMatchObject({ type: 'admitted' });
  });

  it('retries an admitted message that could not be delivered', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 60 } });
    await h.send('c0', { action: 'join' });
    h.notifier.failNext = 1;

    // Act
    const first = await h.tick();
    const second = await h.tick();

    // Assess
    expect(first.admitted).toHaveLength(1);
    expect(first.admissionsDelivered).toBe(0);
    expect(second.admitted).toHaveLength(0);
    expect(second.admissionsDelivered).toBe(1);
    expect(h.notifier.messages('c0').filter((m) => m.type === 'admitted')).toHaveLength(1);
  });

  it('finds a gone connection by posting to it and drops its session after the grace', async () => {
    // Prepare: the connection vanished without a `$disconnect`.
    const h = await createHarness({ config: { admitPerMinute: 0 }, abandonAfterMs: 2000 });
    await joinMany(h, 2);
    await h.tick();
    h.notifier.gone.add('c0');

    // Act
    for (let i = 0; i < 14; i++) await h.tick();

    // Assess
    expect((await h.store.counts()).abandoned).toBe(1);
    expect(lastOfType(h, 'c1', 'position')).toMatchObject({ position: 1, waiting: 1 });
  });

  it('numbers an arrival delivered twice only once', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    const [id] = await joinMany(h, 1);
    await h.tick();

    // Act: the same arrival comes again (read twice, or logged twice).
    await h.queue.enqueue({ sessionId: id as string, joinedAt: 0 });
    await joinMany(h, 1, 'late');
    await h.tick();

    // Assess
    expect((await h.store.get(id as string))?.seq).toBe('1'.padStart(40, '0'));
    expect(lastOfType(h, 'late0', 'position')).toMatchObject({ position: 2, waiting: 2 });
  });

  it('pauses admission at rate 0 and shows no ETA, then resumes on the next tick', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    await joinMany(h, 2);
    const paused = await h.tick();

    // Act
    h.config.set({ admitPerMinute: 60 });
    const resumed = await h.tick();

    // Assess
    expect(paused.admitted).toHaveLength(0);
    expect(resumed.admitted).toHaveLength(1);
    expect(lastOfType(h, 'c1', 'position')).toMatchObject({ position: 1, etaSeconds: 1 });
  });

  it('sends everyone in line straight in when the room is turned off', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    await h.send('c0', { action: 'join', return: '/about' });
    await h.tick();

    // Act
    h.config.set({ enabled: false });
    await h.tick();

    // Assess
    expect(lastOfType(h, 'c0', 'open')).toEqual({
      type: 'open',
      redirectUrl: `${MAIN_ORIGIN}/about`,
    });
  });

  it('tells the line open once per connection, a budget a tick, and again after the room was on', async () => {
    // Prepare: 50 in line, 20 pushes a second.
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    h.processor.settings.positionBudgetPerSecond = 20;
    await joinMany(h, 50);
    await h.tick();
    const opens = () =>
      Array.from({ length: 50 }, (_, i) => h.notifier.messages(`c${i}`))
        .flat()
        .filter((m) => m.type === 'open').length;

    // Act
    h.config.set({ enabled: false });
    const perTick: number[] = [];
    for (let t = 0; t < 4; t++) perTick.push((await h.tick()).opensSent);
    h.config.set({ enabled: true });
    await h.tick();
    h.config.set({ enabled: false });
    for (let t = 0; t < 5; t++) await h.tick();

    // Assess
    expect(perTick).toEqual([20, 20, 10, 0]);
    expect(opens()).toBe(100);
  });
});

describe('fan-out budget in the tick', () => {
  it('delivers every admission at once even past the position budget', async () => {
    // Prepare: a budget of 2 messages a tick, 5 admissions a tick.
    const h = await createHarness({ config: { admitPerMinute: 300 } });
    h.processor.settings.positionBudgetPerSecond = 2;
    await joinMany(h, 20);

    // Act
    const report = await h.tick();

    // Assess
    expect(report.admitted).toHaveLength(5);
    expect(report.admissionsDelivered).toBe(5);
    expect(report.positionsSent).toBe(0);
  });

  it('spends what admissions leave of the budget on the front of the line', async () => {
    // Prepare: the line numbered (c0 admitted) in a first tick.
    const h = await createHarness({ config: { admitPerMinute: 60 } });
    h.processor.settings.positionBudgetPerSecond = 4;
    await joinMany(h, 10);
    await h.tick();

    // Act
    const report = await h.tick();

    // Assess: one admission (c1), three positions, to the first three still waiting.
    expect(report.positionsSent).toBe(3);
    expect(lastOfType(h, 'c2', 'position')).toMatchObject({ position: 1 });
    expect(lastOfType(h, 'c4', 'position')).toMatchObject({ position: 3 });
    expect(lastOfType(h, 'c5', 'position')).toBeUndefined();
  });

  it("takes the arrivals' own messages off the push budget, down to a fifth of it", async () => {
    // Prepare: 100 pushes a second; 25 arrivals cost 75 messages, 40 arrivals 120.
    const few = await createHarness({ config: { admitPerMinute: 0 } });
    few.processor.settings.positionBudgetPerSecond = 100;
    await joinMany(few, 25);
    const many = await createHarness({ config: { admitPerMinute: 0 } });
    many.processor.settings.positionBudgetPerSecond = 100;
    await joinMany(many, 40);

    // Act
    const fewReport = await few.tick();
    const manyReport = await many.tick();

    // Assess
    expect(fewReport.positionsSent).toBe(25);
    expect(manyReport.positionsSent).toBe(20);
  });
});

describe('how often a waiting visitor hears', () => {
  it('keeps the promise each position makes: every visitor hears again within nextUpdateSeconds', async () => {
    // Prepare: 200 waiting and nobody moving, 20 messages a second: the line comes round
    // every 10 ticks, so the promise is a 10 s refresh plus that round.
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    h.processor.settings.positionBudgetPerSecond = 20;
    await joinMany(h, 200);
    const heard = new Map<string, number[]>();
    const promises = new Set<number>();

    // Act: two minutes of ticks after the one that numbers the line (whose budget the
    // arrivals' own messages take).
    for (let t = 0; t <= 120; t++) {
      await h.tick();
      for (let i = 0; i < 200; i++) {
        const messages = h.notifier.messages(`c${i}`).filter((m) => m.type === 'position');
        const times = heard.get(`c${i}`) ?? [];
        const before = times.length;
        while (times.length < messages.length) times.push(h.clock.now());
        heard.set(`c${i}`, times);
        const last = messages.at(-1);
        if (t > 0 && times.length > before && last?.type === 'position') {
          promises.add(last.nextUpdateSeconds);
        }
      }
    }

    // Assess
    expect([...promises]).toEqual([20]);
    const longestSilence = Math.max(
      ...[...heard.values()].flatMap((times) =>
        times.slice(1).map((at, i) => at - (times[i] ?? 0)),
      ),
    );
    expect(longestSilence).toBeLessThanOrEqual(20_000);
    expect(Math.min(...[...heard.values()].map((times) => times.length))).toBeGreaterThanOrEqual(6);
  });

  it('promises a longer wait to a longer line at the same budget', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    h.processor.settings.positionBudgetPerSecond = 20;
    await joinMany(h, 1000);
    await h.tick();

    // Act
    await h.tick();

    // Assess: 50 ticks a round, plus the refresh.
    const told = Array.from({ length: 1000 }, (_, i) => lastOfType(h, `c${i}`, 'position'));
    expect(told.filter((m) => m !== undefined).at(-1)).toMatchObject({ nextUpdateSeconds: 60 });
  });
});

describe('visitor actions', () => {
  it('answers a join with the room off by opening the way in', async () => {
    // Prepare
    const h = await createHarness({ config: { enabled: false } });

    // Act
    const replies = await h.send('c0', { action: 'join', return: '/tickets' });

    // Assess
    expect(replies).toEqual([{ type: 'open', redirectUrl: `${MAIN_ORIGIN}/tickets` }]);
    expect((await h.store.counts()).arriving).toBe(0);
  });

  it('keeps one place per connection however often it joins', async () => {
    // Prepare
    const h = await createHarness();
    const first = joinedOf(await h.send('c0', { action: 'join' }));

    // Act
    const again = joinedOf(await h.send('c0', { action: 'join' }));

    // Assess
    expect(again.sessionId).toBe(first.sessionId);
    expect((await h.store.counts()).arriving).toBe(1);
  });

  it('refuses a forged ticket and moves nobody', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    const { ticket } = joinedOf(await h.send('c0', { action: 'join' }));
    await h.tick();
    const [head, body] = ticket.split('.');
    const forged = `${head}.${body}.${'A'.repeat(86)}`;

    // Act
    const replies = await h.send('x', { action: 'resume', ticket: forged });
    await h.tick();

    // Assess
    expect(replies).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_ticket' })]);
    expect((await h.store.counts()).waiting).toBe(1);
  });

  it('answers status with the current position at the next tick', async () => {
    // Prepare
    const h = await createHarness({ config: { admitPerMinute: 0 } });
    await joinMany(h, 2);
    await h.tick();
    const before = h.notifier.messages('c1').length;

    // Act
    const replies = await h.send('c1', { action: 'status' });
    await h.tick();

    // Assess
    expect(replies).toEqual([]);
    expect(h.notifier.messages('c1').slice(before)).toEqual([
      { type: 'position', position: 2, waiting: 2, etaSeconds: null, nextUpdateSeconds: 11 },
    ]);
  });

  it('asks a connection with no place to join first', async () => {
    // Prepare
    const h = await createHarness();

    // Act
    const replies = await h.send('c0', { action: 'status' });

    // Assess
    expect(replies).toEqual([expect.objectContaining({ type: 'error', code: 'bad_request' })]);
  });

  it('answers ping with pong', async () => {
    // Prepare
    const h = await createHarness();

    // Act
    const replies = await h.send('c0', { action: 'ping' });

    // Assess
    expect(replies).toEqual([{ type: 'pong' }]);
  });

  it('gives internal, not a crash, when the store fails', async () => {
    // Prepare
    const h = await createHarness();
    h.store.create = async () => {
      throw new Error('disk on fire');
    };

    // Act
    const replies = await h.send('c0', { action: 'join' });

    // Assess
    expect(replies).toEqual([expect.objectContaining({ type: 'error', code: 'internal' })]);
  });
});
