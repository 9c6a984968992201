import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FanoutEntry,
  type FanoutSettings,
  planPositionUpdates,
} from '../../../functions/core/fanout.ts';

const NOW = 1_000_000;

/** The line as candidates: the i-th at position i + 1. */
function inLine(line: readonly FanoutEntry[]) {
  return line.map((entry, i) => ({ entry, position: i + 1 }));
}
const SETTINGS: FanoutSettings = {
  budget: 10,
  refreshMs: 10_000,
  maxIntervalMs: 30_000,
  frontCount: 5,
};

const LIVE = { connectionId: 'c', disconnectedAt: null };

/** The session at `position`, told that position a second ago unless `change` says otherwise. */
function told(position: number, change: Partial<FanoutEntry> = {}): FanoutEntry {
  return { ...LIVE, sentPosition: position, sentAt: NOW - 1000, joinedAt: NOW - 60_000, ...change };
}

const candidateArb = fc
  .record({
    drop: fc.nat(50),
    sent: fc.boolean(),
    age: fc.integer({ min: 0, max: 90_000 }),
  })
  .map(({ drop, sent, age }) => ({ drop, sent, age }));

/** A line in order: position i + 1, each told some higher (or equal) position, or none. */
function lineOf(specs: { drop: number; sent: boolean; age: number }[]): FanoutEntry[] {
  return specs.map(({ drop, sent, age }, i) => ({
    ...LIVE,
    sentPosition: sent ? i + 1 + drop : null,
    sentAt: sent ? NOW - age : null,
    joinedAt: NOW - age - 1000,
  }));
}

/**
 * The model: never told on this connection, or told a refresh ago, or (at the front) told
 * another place than its own.
 */
function isDue(line: readonly FanoutEntry[], i: number, s: FanoutSettings): boolean {
  const c = line[i] as FanoutEntry;
  const age = NOW - (c.sentAt ?? c.joinedAt);
  const moved = c.sentPosition !== i + 1;
  return (
    c.sentPosition === null ||
    c.sentAt === null ||
    age >= s.refreshMs ||
    (moved && i + 1 <= s.frontCount)
  );
}

describe('planPositionUpdates', () => {
  it('sends nothing to visitors told their current position recently', () => {
    // Prepare
    const line = [told(1), told(2), told(3)];

    // Act
    const chosen = planPositionUpdates(inLine(line), NOW, SETTINGS);

    // Assess
    expect(chosen).toEqual([]);
  });

  it('sends every due update when they fit the budget', () => {
    fc.assert(
      fc.property(fc.array(candidateArb, { maxLength: 10 }), (specs) => {
        // Prepare
        const line = lineOf(specs);

        // Act
        const chosen = planPositionUpdates(inLine(line), NOW, SETTINGS);

        // Assess
        const due = line.flatMap((_, i) => (isDue(line, i, SETTINGS) ? [i] : []));
        expect(chosen).toEqual(due);
      }),
    );
  });

  it('never spends more than the budget, and spends all of it when enough are due', () => {
    fc.assert(
      fc.property(
        fc.array(candidateArb, { maxLength: 200 }),
        fc.integer({ min: 0, max: 50 }),
        (specs, budget) => {
          // Prepare
          const line = lineOf(specs);
          const settings = { ...SETTINGS, budget };

          // Act
          const chosen = planPositionUpdates(inLine(line), NOW, settings);

          // Assess
          const due = line.filter((_, i) => isDue(line, i, settings)).length;
          expect(chosen.length).toBe(Math.min(budget, due));
          expect(new Set(chosen).size).toBe(chosen.length);
          expect(chosen).toEqual([...chosen].sort((a, b) => a - b));
          for (const i of chosen) expect(isDue(line, i, settings)).toBe(true);
        },
      ),
    );
  });

  it('serves the overdue before anyone else when the budget is short', () => {
    fc.assert(
      fc.property(fc.array(candidateArb, { minLength: 20, maxLength: 200 }), (specs) => {
        // Prepare
        const line = lineOf(specs);
        const overdue = line.flatMap((c, i) =>
          NOW - (c.sentAt ?? c.joinedAt) >= SETTINGS.maxIntervalMs ? [i] : [],
        );

        // Act
        const chosen = new Set(planPositionUpdates(inLine(line), NOW, SETTINGS));

        // Assess
        const overdueChosen = overdue.filter((i) => chosen.has(i)).length;
        expect(overdueChosen).toBe(Math.min(overdue.length, SETTINGS.budget));
      }),
    );
  });

  it('puts a changed position at the front ahead of a bigger change further back', () => {
    // Prepare: the budget has room for one; the front is positions 1 to 5.
    const line = [
      told(1),
      told(2, { sentPosition: 3 }),
      ...Array.from({ length: 10 }, (_, i) => told(i + 3, { sentPosition: (i + 3) * 3 })),
    ];

    // Act
    const chosen = planPositionUpdates(inLine(line), NOW, { ...SETTINGS, budget: 1 });

    // Assess
    expect(chosen).toEqual([1]);
  });

  it('prefers the visitor whose position moved most among the rest of the line', () => {
    // Prepare: both told a refresh ago.
    const line = [
      ...Array.from({ length: 10 }, (_, i) => told(i + 1)),
      told(11, { sentPosition: 12, sentAt: NOW - 10_000 }),
      told(12, { sentPosition: 600, sentAt: NOW - 10_000 }),
    ];

    // Act
    const chosen = planPositionUpdates(inLine(line), NOW, { ...SETTINGS, budget: 1 });

    // Assess
    expect(chosen).toEqual([11]);
  });

  it('tells a place behind the front that moved at most once a refresh, and the front at once', () => {
    // Prepare: 5 at the front (all moved up by one), then 5 behind that moved too.
    const line = Array.from({ length: 10 }, (_, i) => told(i + 1, { sentPosition: i + 2 }));

    // Act
    const now = planPositionUpdates(inLine(line), NOW, SETTINGS);
    const aRefreshLater = planPositionUpdates(inLine(line), NOW + 9000, SETTINGS);

    // Assess: told a second ago; behind the front they hear at the refresh (10 s after).
    expect(now).toEqual([0, 1, 2, 3, 4]);
    expect(aRefreshLater).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('skips visitors without a live connection', () => {
    // Prepare
    const line = [
      told(1, { sentPosition: 2, disconnectedAt: NOW - 500 }),
      told(2, { sentPosition: 3, connectionId: null }),
      told(3, { sentPosition: 4 }),
    ];

    // Act
    const chosen = planPositionUpdates(inLine(line), NOW, SETTINGS);

    // Assess
    expect(chosen).toEqual([2]);
  });

  it('tells a visitor who just came back on a new connection at once', () => {
    // Prepare: position unchanged, but the new connection has heard nothing.
    const line = [told(1), told(2, { sentAt: null, joinedAt: NOW - 2000 })];

    // Act
    const chosen = planPositionUpdates(inLine(line), NOW, SETTINGS);

    // Assess
    expect(chosen).toEqual([1]);
  });

  it('updates every visitor within the bounded interval when the budget can carry the line', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 5 }),
        (waiting, admitPerTick) => {
          // Prepare: a budget of 20 a tick at one tick a second carries 600 per 30 s.
          const tickMs = 1000;
          const settings = { ...SETTINGS, budget: 20, frontCount: 50 };
          let line: FanoutEntry[] = Array.from({ length: waiting }, () => ({
            ...LIVE,
            sentPosition: null,
            sentAt: null,
            joinedAt: 0,
          }));
          let longestGap = 0;

          // Act: two minutes of ticks, the head admitted each tick.
          for (let now = tickMs; now <= 120_000; now += tickMs) {
            line = line.slice(admitPerTick);
            for (const i of planPositionUpdates(inLine(line), now, settings)) {
              const v = line[i] as FanoutEntry;
              v.sentPosition = i + 1;
              v.sentAt = now;
            }
            for (const v of line) longestGap = Math.max(longestGap, now - (v.sentAt ?? v.joinedAt));
          }

          // Assess
          expect(longestGap).toBeLessThanOrEqual(settings.maxIntervalMs + tickMs);
        },
      ),
      { numRuns: 40 },
    );
  });
});
