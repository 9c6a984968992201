import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FanoutCandidate,
  type FanoutSettings,
  planPositionUpdates,
} from '../../../functions/core/fanout.ts';

const NOW = 1_000_000;
const SETTINGS: FanoutSettings = {
  budget: 10,
  refreshMs: 10_000,
  maxIntervalMs: 30_000,
  frontCount: 5,
};

function candidate(position: number, change: Partial<FanoutCandidate> = {}): FanoutCandidate {
  return {
    position,
    sentPosition: position,
    sentAt: NOW - 1000,
    joinedAt: NOW - 60_000,
    ...change,
  };
}

const candidateArb = fc
  .record({
    drop: fc.nat(50),
    sent: fc.boolean(),
    age: fc.integer({ min: 0, max: 90_000 }),
  })
  .map(({ drop, sent, age }) => ({ drop, sent, age }));

/** A line of candidates in order: position i + 1, each told some higher (or equal) position. */
function lineOf(specs: { drop: number; sent: boolean; age: number }[]): FanoutCandidate[] {
  return specs.map(({ drop, sent, age }, i) => ({
    position: i + 1,
    sentPosition: sent ? i + 1 + drop : null,
    sentAt: sent ? NOW - age : null,
    joinedAt: NOW - age - 1000,
  }));
}

function isDue(c: FanoutCandidate, s: FanoutSettings): boolean {
  const age = NOW - (c.sentAt ?? c.joinedAt);
  return c.sentPosition !== c.position || age >= s.refreshMs || age >= s.maxIntervalMs;
}

describe('planPositionUpdates', () => {
  it('sends nothing to visitors told their current position recently', () => {
    // Prepare
    const line = [candidate(1), candidate(2), candidate(3)];

    // Act
    const chosen = planPositionUpdates(line, NOW, SETTINGS);

    // Assess
    expect(chosen).toEqual([]);
  });

  it('sends every due update when they fit the budget', () => {
    fc.assert(
      fc.property(fc.array(candidateArb, { maxLength: 10 }), (specs) => {
        // Prepare
        const line = lineOf(specs);

        // Act
        const chosen = planPositionUpdates(line, NOW, SETTINGS);

        // Assess
        const due = line.flatMap((c, i) => (isDue(c, SETTINGS) ? [i] : []));
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
          const chosen = planPositionUpdates(line, NOW, settings);

          // Assess
          const due = line.filter((c) => isDue(c, settings)).length;
          expect(chosen.length).toBe(Math.min(budget, due));
          expect(new Set(chosen).size).toBe(chosen.length);
          expect(chosen).toEqual([...chosen].sort((a, b) => a - b));
          for (const i of chosen) expect(isDue(line[i] as FanoutCandidate, settings)).toBe(true);
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
        const chosen = new Set(planPositionUpdates(line, NOW, SETTINGS));

        // Assess
        const overdueChosen = overdue.filter((i) => chosen.has(i)).length;
        expect(overdueChosen).toBe(Math.min(overdue.length, SETTINGS.budget));
      }),
    );
  });

  it('puts a changed position at the front ahead of a bigger change further back', () => {
    // Prepare: the budget has room for one.
    const line = [
      candidate(2, { sentPosition: 3 }),
      ...Array.from({ length: 10 }, (_, i) => candidate(i + 20, { sentPosition: (i + 20) * 3 })),
    ];

    // Act
    const chosen = planPositionUpdates(line, NOW, { ...SETTINGS, budget: 1 });

    // Assess
    expect(chosen).toEqual([0]);
  });

  it('prefers the visitor whose position moved most among the rest of the line', () => {
    // Prepare
    const line = [
      ...Array.from({ length: 10 }, (_, i) => candidate(i + 1)),
      candidate(50, { sentPosition: 51 }),
      candidate(60, { sentPosition: 600 }),
    ];

    // Act
    const chosen = planPositionUpdates(line, NOW, { ...SETTINGS, budget: 1 });

    // Assess
    expect(chosen).toEqual([11]);
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
          let line = Array.from({ length: waiting }, (_, i) => ({
            id: i,
            sentPosition: null as number | null,
            sentAt: null as number | null,
            joinedAt: 0,
          }));
          let longestGap = 0;

          // Act: two minutes of ticks, the head admitted each tick.
          for (let now = tickMs; now <= 120_000; now += tickMs) {
            line = line.slice(admitPerTick);
            const candidates = line.map((v, i) => ({ ...v, position: i + 1 }));
            for (const i of planPositionUpdates(candidates, now, settings)) {
              const v = line[i] as (typeof line)[number];
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
