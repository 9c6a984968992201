/**
 * A fair launch, run over the in-process adapters (in memory and kept on disk) and the AWS
 * adapters wired together (as `scenarios.test.ts`): the pre-queue before a scheduled opening,
 * the draw at the opening across takeovers and crashes, the operator's message and a closed sale.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commitmentOf, DRAW_SETTLE_MS, drawRank } from '../../../functions/core/draw.ts';
import type { TickReport } from '../../../functions/core/processor.ts';
import { forgetLine, runTick } from '../../../functions/core/processor.ts';
import { type AwsStandIns, startAwsStandIns } from '../../helpers/aws-stand-ins.ts';
import {
  closeDurableRooms,
  createDurableHarness,
  durableData,
  freshDataDir,
  removeDurableRooms,
} from '../../helpers/durable-harness.ts';
import { createHarness, joinedOf } from '../../helpers/room-harness.ts';
import {
  joinMany,
  lastOfType,
  roomKinds,
  type ScenarioRoom,
} from '../../helpers/scenario-rooms.ts';

type Room = ScenarioRoom;

let db: AwsStandIns;
beforeAll(async () => {
  db = await startAwsStandIns();
});
afterAll(async () => {
  await db.close();
});
afterEach(async () => {
  await removeDurableRooms();
});

const rooms = roomKinds(() => db);

/** The opening, 10 s after the harness clock starts. */
const START = Date.UTC(2026, 10, 25, 12, 0, 0);
const OPENS_AT = START + 10_000;

/** Ticks until the clock passes `at`. */
async function tickPast(room: Room, at: number): Promise<TickReport> {
  let report = await room.tick();
  while (room.clock.now() < at) report = await room.tick();
  return report;
}

/** The order the draw gives `members`, recomputed as anyone can from the published seed. */
function drawnOrder(seed: string, members: string[]): string[] {
  return [...members].sort((a, b) => (drawRank(seed, a) < drawRank(seed, b) ? -1 : 1));
}

/** The draw's seed as the first of the pre-queue's `count` connections that was told it heard it. */
function seedHeardBy(room: Room, count: number): string {
  for (let i = 0; i < count; i++) {
    const seed = lastOfType(room, `p${i}`, 'position')?.draw?.seed;
    if (seed) return seed;
  }
  throw new Error('nobody in the pre-queue heard the seed');
}

/** Each connection's last position, as a map from connection to place. */
function positionsOf(room: Room, connections: string[]): number[] {
  return connections.map((c) => lastOfType(room, c, 'position')?.position ?? Number.NaN);
}

describe.each(rooms)('a fair launch on the %s', (_adapters, createRoom) => {
  it('tells the pre-queue when the room opens and how many wait, and admits nobody before', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT, admitPerMinute: 600 } });
    await joinMany(room, 3, 'p');

    // Act
    const report = await room.tick();

    // Assess
    expect(report.admitted).toEqual([]);
    expect(report.prequeuesSent).toBe(3);
    const heard = lastOfType(room, 'p1', 'prequeue');
    expect(heard).toEqual({
      type: 'prequeue',
      opensAt: OPENS_AT / 1000,
      waiting: 3,
      commitment: expect.stringMatching(/^[0-9a-f]{64}$/),
      now: room.clock.now() / 1000,
    });
    expect(lastOfType(room, 'p1', 'position')).toBeUndefined();
  });

  it('draws the pre-queue at the opening, ahead of everyone who joins after, as the seed says', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT, admitPerMinute: 0 } });
    const early = await joinMany(room, 8, 'p');
    await room.tick();
    const commitment = lastOfType(room, 'p0', 'prequeue')?.commitment as string;
    room.clock.advance(OPENS_AT - room.clock.now());
    const late = await joinMany(room, 3, 'l');

    // Act
    const report = await tickPast(room, OPENS_AT + DRAW_SETTLE_MS);
    await room.tick();

    // Assess
    expect(report.draw).toMatchObject({ members: 8, drawnAt: expect.any(Number) });
    const drawn = lastOfType(room, 'p0', 'position')?.draw;
    expect(drawn?.commitment).toBe(commitment);
    expect(commitmentOf(drawn?.seed as string)).toBe(commitment);
    const order = drawnOrder(drawn?.seed as string, early);
    const places = positionsOf(
      room,
      order.map((id) => `p${early.indexOf(id)}`),
    );
    expect(places).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(positionsOf(room, ['l0', 'l1', 'l2'])).toEqual([9, 10, 11]);
    expect(lastOfType(room, 'l0', 'position')?.draw).toBeUndefined();
    expect(late).toHaveLength(3);
  });

  it('admits in the drawn order, and every position after the opening is exact and never rises', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT, admitPerMinute: 60 } });
    const early = await joinMany(room, 6, 'p');
    // The tick that draws admits the first drawn at once.
    const admitted = [...(await tickPast(room, OPENS_AT + DRAW_SETTLE_MS)).admitted];
    const seed = seedHeardBy(room, early.length);
    const order = drawnOrder(seed, early);
    const told = new Map<string, number>();

    // Act
    for (let t = 0; t < 12 && admitted.length < 6; t++) {
      admitted.push(...(await room.tick()).admitted);
      for (const [i, id] of early.entries()) {
        const position = lastOfType(room, `p${i}`, 'position')?.position;
        if (position === undefined || admitted.includes(id)) continue;
        // Assess: exact (1 + those of the draw still ahead) and never up.
        const ahead = order.slice(0, order.indexOf(id)).filter((a) => !admitted.includes(a));
        expect(position).toBeGreaterThanOrEqual(ahead.length + 1);
        expect(position).toBeLessThanOrEqual(told.get(id) ?? Number.POSITIVE_INFINITY);
        told.set(id, position);
      }
    }

    // Assess
    expect(admitted).toEqual(order);
  });

  it('keeps the drawn order when another processor takes over, or one crashes once it is drawn', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT, admitPerMinute: 0 } });
    const early = await joinMany(room, 7, 'p');
    await room.tick();
    room.clock.advance(OPENS_AT + DRAW_SETTLE_MS - room.clock.now());
    const put = room.store.putRoomState.bind(room.store);
    let crash = true;
    room.store.putRoomState = async (state) => {
      const saved = await put(state);
      // Dies right after the draw is saved, before anyone is told a place.
      if (crash && state.draw?.drawnAt != null) {
        crash = false;
        throw new Error('crash after the draw');
      }
      return saved;
    };
    await expect(runTick(room.processor)).rejects.toThrow('crash after the draw');
    Object.assign(room.processor.memory, forgetLine());
    const late = await joinMany(room, 2, 'l');

    // Act
    await room.tick();
    await room.tick();
    const before = positionsOf(room, [...early.map((_, i) => `p${i}`), 'l0', 'l1']);
    Object.assign(room.processor.memory, forgetLine());
    room.clock.advance(11_000);
    const report = await room.tick();

    // Assess
    expect(report.lineRead).toBe(true);
    const seed = lastOfType(room, 'p0', 'position')?.draw?.seed as string;
    const order = drawnOrder(seed, early);
    expect(
      positionsOf(
        room,
        order.map((id) => `p${early.indexOf(id)}`),
      ),
    ).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(positionsOf(room, [...early.map((_, i) => `p${i}`), 'l0', 'l1'])).toEqual(before);
    expect(late).toHaveLength(2);
  });

  it('keeps a pre-queue visitor who reloads in the draw, with its ticket', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT, admitPerMinute: 0 } });
    const [first] = await joinMany(room, 1, 'p');
    const ticket = joinedOf(await room.send('x0', { action: 'join' })).ticket;
    await room.tick();
    await room.disconnect('x0');
    room.clock.advance(OPENS_AT - 500 - room.clock.now());
    const later = await joinMany(room, 1, 'l');

    // Act
    const resumed = await room.send('x1', { action: 'resume', ticket });
    await room.tick();
    const waitingBefore = lastOfType(room, 'x1', 'prequeue');
    await tickPast(room, OPENS_AT + DRAW_SETTLE_MS + 1000);

    // Assess
    expect(resumed[0]?.type).toBe('joined');
    expect(waitingBefore?.waiting).toBe(3);
    expect(lastOfType(room, 'x1', 'position')?.draw).toBeDefined();
    expect(lastOfType(room, 'l0', 'position')?.draw).toBeDefined();
    expect(first).toBeDefined();
    expect(later).toHaveLength(1);
  });

  it('keeps arrival order when the schedule is cleared before the opening', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT, admitPerMinute: 0 } });
    await joinMany(room, 4, 'p');
    await room.tick();

    // Act
    await room.config.set({ opensAt: null });
    const report = await room.tick();

    // Assess
    expect(report.draw).toBeNull();
    expect(positionsOf(room, ['p0', 'p1', 'p2', 'p3'])).toEqual([1, 2, 3, 4]);
  });

  it('draws everyone who joined before the opening, even when numbering them takes several ticks', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT, admitPerMinute: 0 } });
    room.processor.settings.maxArrivalsPerTick = 5;
    await room.tick();
    room.clock.advance(OPENS_AT - 100 - room.clock.now());
    const early = await joinMany(room, 12, 'p');
    // The processor is away over the opening: its first tick after it finds them all queued.
    room.clock.advance(DRAW_SETTLE_MS);

    // Act
    const reports: TickReport[] = [];
    for (let t = 0; t < 5; t++) reports.push(await room.tick());

    // Assess
    const made = reports.find((r) => r.draw?.drawnAt != null);
    expect(made?.draw?.members).toBe(12);
    expect(early).toHaveLength(12);
  });

  it('keeps the places of those in line before a schedule was set, and draws only who joined after', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    await joinMany(room, 3, 'a');
    await room.tick();
    await room.config.set({ opensAt: OPENS_AT });
    await room.tick();
    const early = await joinMany(room, 5, 'p');

    // Act
    await tickPast(room, OPENS_AT + DRAW_SETTLE_MS);
    await room.tick();

    // Assess
    expect(positionsOf(room, ['a0', 'a1', 'a2'])).toEqual([1, 2, 3]);
    const seed = lastOfType(room, 'p0', 'position')?.draw?.seed as string;
    const order = drawnOrder(seed, early);
    expect(
      positionsOf(
        room,
        order.map((id) => `p${early.indexOf(id)}`),
      ),
    ).toEqual([4, 5, 6, 7, 8]);
    expect(lastOfType(room, 'a0', 'position')?.draw).toBeUndefined();
  });

  it('opens at once, with everyone who joined until then, when the schedule is moved into the past', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT + 60_000, admitPerMinute: 0 } });
    await room.tick();
    await joinMany(room, 4, 'p');
    room.clock.advance(20_000);
    await joinMany(room, 4, 'q');

    // Act
    await room.config.set({ opensAt: START + 5000 });
    const reports: TickReport[] = [];
    for (let t = 0; t < 4; t++) reports.push(await room.tick());

    // Assess
    expect(reports.find((r) => r.draw?.drawnAt != null)?.draw?.members).toBe(8);
  });

  it('keeps a draw that another processor changed meanwhile: the draw is written only over the one read', async () => {
    // Prepare
    const room = await createRoom({ config: { opensAt: OPENS_AT, admitPerMinute: 0 } });
    await room.tick();
    const stored = (await room.store.getRoomState()).draw ?? null;

    // Act
    const stale = await room.store.putDraw(null, {
      ...(stored as NonNullable<typeof stored>),
      commitment: 'f'.repeat(64),
    });
    const fresh = await room.store.putDraw(null, stored);
    const again = await room.store.putDraw(stored, stored);

    // Assess
    expect(stored?.commitment).toMatch(/^[0-9a-f]{64}$/);
    expect(stale).toBe(false);
    expect(fresh).toBe(true);
    expect(again).toBe(false);
    expect((await room.store.getRoomState()).draw ?? null).toBeNull();
  });

  it('tells the whole line open with a message up, the message going round on its own window', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    room.processor.settings.positionBudgetPerSecond = 10;
    await joinMany(room, 40, 'c');
    await room.config.set({ message: 'Doors at ten' });
    for (let t = 0; t < 8; t++) await room.tick();

    // Act
    await room.config.set({ enabled: false });
    for (let t = 0; t < 5; t++) await room.tick();

    // Assess
    const told = Array.from({ length: 40 }, (_, i) => `c${i}`).filter((c) =>
      room.notifier.messages(c).some((m) => m.type === 'open'),
    );
    expect(told).toHaveLength(40);
    const heard = Array.from({ length: 40 }, (_, i) => `c${i}`).filter((c) =>
      room.notifier.messages(c).some((m) => m.type === 'notice'),
    );
    expect(heard.length).toBeGreaterThanOrEqual(40);
  });

  it('does not tell the message again after a takeover, and tells a message cleared meanwhile', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    await joinMany(room, 3, 'c');
    await room.config.set({ message: 'Doors at ten' });
    await room.tick();
    Object.assign(room.processor.memory, forgetLine());

    // Act
    const again = await room.tick();
    await room.config.set({ message: null });
    Object.assign(room.processor.memory, forgetLine());
    const cleared = await room.tick();

    // Assess
    expect(again.noticesSent).toBe(0);
    expect(cleared.noticesSent).toBe(3);
    expect(lastOfType(room, 'c1', 'notice')).toEqual({ type: 'notice', message: null });
  });

  it('shows the operator message to everyone waiting at the next tick, and to whoever joins later', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 0 } });
    await joinMany(room, 3, 'c');
    await room.tick();

    // Act
    await room.config.set({ message: 'Sizes S and M are sold out.' });
    const report = await room.tick();
    const joined = await room.send('n0', { action: 'join' });
    await room.config.set({ message: null });
    await room.tick();

    // Assess
    expect(report.noticesSent).toBe(3);
    expect(room.notifier.messages('c2').filter((m) => m.type === 'notice')).toEqual([
      { type: 'notice', message: 'Sizes S and M are sold out.' },
      { type: 'notice', message: null },
    ]);
    expect(joined).toContainEqual({ type: 'notice', message: 'Sizes S and M are sold out.' });
    expect(lastOfType(room, 'n0', 'notice')).toEqual({ type: 'notice', message: null });
  });

  it('ends the sale: everyone waiting and every later join hears closed, and nobody more is admitted', async () => {
    // Prepare
    const room = await createRoom({ config: { admitPerMinute: 600 } });
    await joinMany(room, 3, 'c');
    await room.tick();

    // Act
    await room.config.set({ closed: 'Sold out. Thank you!' });
    const report = await room.tick();
    const later = await room.tick();
    const joined = await room.send('n0', { action: 'join' });

    // Assess
    expect(report.closedSent + report.admitted.length).toBeLessThanOrEqual(3);
    expect(later.admitted).toEqual([]);
    expect(later.closedSent).toBe(0);
    const closedOf = (c: string) => lastOfType(room, c, 'closed');
    const stillWaiting = ['c0', 'c1', 'c2'].filter((c) => !lastOfType(room, c, 'admitted'));
    for (const c of stillWaiting) {
      expect(closedOf(c)).toEqual({ type: 'closed', message: 'Sold out. Thank you!' });
    }
    expect(joined).toEqual([{ type: 'closed', message: 'Sold out. Thank you!' }]);
  });
});

describe('a fair launch kept on disk', () => {
  it('keeps the drawn order after the process restarts', async () => {
    // Prepare
    const dir = freshDataDir();
    const options = { config: { opensAt: OPENS_AT, admitPerMinute: 0 } };
    const first = await createDurableHarness(options, dir);
    const tickets: string[] = [];
    const early: string[] = [];
    for (let i = 0; i < 6; i++) {
      const joined = joinedOf(await first.send(`p${i}`, { action: 'join' }));
      tickets.push(joined.ticket);
      early.push(joined.sessionId);
    }
    await tickPast(first, OPENS_AT + DRAW_SETTLE_MS);
    const seed = lastOfType(first, 'p0', 'position')?.draw?.seed as string;
    await closeDurableRooms();

    // Act
    const second = await createHarness(
      { ...options, clock: first.clock, idPrefix: 'r' },
      durableData(dir),
    );
    for (const [i, ticket] of tickets.entries()) {
      await second.send(`q${i}`, { action: 'resume', ticket });
    }
    await second.tick();

    // Assess
    const order = drawnOrder(seed, early);
    const places = positionsOf(
      second,
      order.map((id) => `q${early.indexOf(id)}`),
    );
    expect(places).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await second.store.getRoomState()).draw?.seed).toBe(seed);
  });
});
