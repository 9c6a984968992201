import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  commitmentOf,
  DRAW_SETTLE_MS,
  type DrawnSession,
  drawFor,
  drawRank,
  dueToDraw,
  isMember,
  isPrequeue,
  newDraw,
  placeOf,
  publishedDraw,
  recordDraw,
} from '../../../functions/core/draw.ts';
import { WaitingLine } from '../../../functions/core/line.ts';
import type { Session } from '../../../functions/core/session.ts';

const OPENS_AT = Date.UTC(2026, 11, 1, 10, 0, 0);
const SEED = 'a'.repeat(64);

function session(id: string, seq: string, joinedAt: number): DrawnSession {
  return { id, seq, joinedAt };
}

function waiting(s: DrawnSession): Session {
  return {
    id: s.id,
    state: 'waiting',
    returnPath: '/',
    joinedAt: s.joinedAt,
    seq: s.seq,
    connectionId: `c-${s.id}`,
    disconnectedAt: null,
    connectionVersion: 1,
    pass: null,
    admittedAt: null,
    admissionNotified: false,
  };
}

/** A seed per index, fixed: the statistical tests below always see the same draws. */
function fixedSeed(i: number): string {
  return createHash('sha256').update(`fixed seed ${i}`).digest('hex');
}

/** The order a draw gives `members` (ids), as anyone would recompute it from the seed. */
function drawnOrder(seed: string, members: string[]): string[] {
  return [...members].sort((a, b) => (drawRank(seed, a) < drawRank(seed, b) ? -1 : 1));
}

describe('the draw at a scheduled opening', () => {
  it('publishes a commitment anyone can check with sha256sum once the seed is out', () => {
    // Prepare
    const draw = newDraw(OPENS_AT, SEED);

    // Act
    const before = publishedDraw(draw);
    const after = publishedDraw(recordDraw(draw, [], OPENS_AT + DRAW_SETTLE_MS));

    // Assess
    expect(before.seed).toBeNull();
    expect(after.seed).toBe(SEED);
    expect(draw.commitment).toBe(createHash('sha256').update(SEED).digest('hex'));
    expect(commitmentOf(SEED)).toBe(draw.commitment);
  });

  it('ranks a member by SHA-256 of "<seed>:<session id>", as the README tells a visitor to check', () => {
    expect(drawRank(SEED, 's1')).toBe(createHash('sha256').update(`${SEED}:s1`).digest('hex'));
  });

  it('makes a fresh secret seed for each new draw', () => {
    expect(newDraw(OPENS_AT).seed).not.toBe(newDraw(OPENS_AT).seed);
    expect(newDraw(OPENS_AT).seed).toMatch(/^[0-9a-f]{64}$/);
  });

  it('follows the schedule: new before the opening, moved with it, dropped when cleared, kept once made', () => {
    // Prepare
    const now = OPENS_AT - 60_000;
    const pending = drawFor(null, OPENS_AT, now);

    // Act
    const moved = drawFor(pending, OPENS_AT + 30_000, now);
    const cleared = drawFor(pending, null, now);
    const made = recordDraw(pending as NonNullable<typeof pending>, [], OPENS_AT + 5000);
    const keptWhenCleared = drawFor(made, null, OPENS_AT + 6000);
    const pastWhenFirstSeen = drawFor(null, OPENS_AT, OPENS_AT + 1);

    // Assess
    expect(isPrequeue(pending)).toBe(true);
    expect(moved).toMatchObject({ opensAt: OPENS_AT + 30_000, seed: pending?.seed });
    expect(cleared).toBeNull();
    expect(keptWhenCleared).toBe(made);
    expect(pastWhenFirstSeen).toBeNull();
  });

  it('replaces a draw already made when a later opening is scheduled', () => {
    // Prepare
    const made = recordDraw(newDraw(OPENS_AT, SEED), [], OPENS_AT + 5000);

    // Act
    const next = drawFor(made, OPENS_AT + 3_600_000, OPENS_AT + 60_000);

    // Assess
    expect(next?.opensAt).toBe(OPENS_AT + 3_600_000);
    expect(next?.seed).not.toBe(SEED);
    expect(isPrequeue(next)).toBe(true);
  });

  it('is due only once the arrivals of the last moment before the opening had time to be numbered', () => {
    const draw = newDraw(OPENS_AT, SEED);
    expect(dueToDraw(draw, OPENS_AT)).toBe(false);
    expect(dueToDraw(draw, OPENS_AT + DRAW_SETTLE_MS)).toBe(true);
    expect(dueToDraw(recordDraw(draw, [], OPENS_AT + DRAW_SETTLE_MS), OPENS_AT + 9000)).toBe(false);
  });

  it('counts as members those numbered by the draw that joined before the opening', () => {
    // Prepare
    const early = session('early', '0001', OPENS_AT - 1);
    const late = session('late', '0002', OPENS_AT + 1);
    const straggler = session('straggler', '0000', OPENS_AT - 5);
    const after = session('after', '0003', OPENS_AT + 4000);

    // Act
    const draw = recordDraw(newDraw(OPENS_AT, SEED), [early, late], OPENS_AT + 2000);

    // Assess
    expect(draw).toMatchObject({ lastSeq: '0002', members: 1, drawnAt: OPENS_AT + 2000 });
    expect(isMember(draw, early)).toBe(true);
    expect(isMember(draw, late)).toBe(false);
    // Numbered after the draw but before its last sequence: where the store would put it on
    // any takeover, so the running line puts it there too.
    expect(isMember(draw, straggler)).toBe(true);
    expect(isMember(draw, after)).toBe(false);
  });

  it('puts every member ahead of everyone else, who keep their order of arrival', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 9999 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        fc.integer({ min: 0, max: 60 }),
        (seqs, before, drawnAfter) => {
          // Prepare
          const sessions = seqs.map((n, i) =>
            session(
              `s${n}`,
              String(n).padStart(4, '0'),
              before[i] ? OPENS_AT - 1000 : OPENS_AT + 1000,
            ),
          );
          const numbered = [...sessions].sort((a, b) => (a.seq < b.seq ? -1 : 1));
          const draw = recordDraw(
            newDraw(OPENS_AT, SEED),
            numbered.slice(0, drawnAfter),
            OPENS_AT + DRAW_SETTLE_MS,
          );

          // Act
          const line = WaitingLine.from(sessions.map(waiting), (s) => placeOf(draw, s));
          const order = [...line.entries()];

          // Assess
          const firstOther = order.findIndex((e) => !isMember(draw, e));
          const members = order.filter((e) => isMember(draw, e)).map((e) => e.id);
          const others = order.filter((e) => !isMember(draw, e));
          if (firstOther >= 0) {
            expect(order.slice(firstOther).every((e) => !isMember(draw, e))).toBe(true);
          }
          expect(members).toEqual(drawnOrder(SEED, members));
          expect(others.map((e) => e.seq)).toEqual(others.map((e) => e.seq).sort());
        },
      ),
    );
  });

  it('gives the same order from the store in any order, as a processor that takes over reads it', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 999 }), { minLength: 2, maxLength: 40 }),
        fc.integer(),
        (seqs, shuffleSeed) => {
          // Prepare
          const sessions = seqs.map((n) =>
            waiting(session(`s${n}`, String(n).padStart(3, '0'), OPENS_AT - 1000 + n)),
          );
          const draw = recordDraw(
            newDraw(OPENS_AT, SEED),
            sessions.map((s) => s as DrawnSession),
            OPENS_AT + DRAW_SETTLE_MS,
          );
          const shuffled = [...sessions].sort(
            (a, b) => ((a.id.length * 31 + shuffleSeed) % 7) - ((b.id.length * 17) % 5),
          );

          // Act
          const fromSorted = WaitingLine.from(sessions, (s) => placeOf(draw, s));
          const fromShuffled = WaitingLine.from(shuffled, (s) => placeOf(draw, s));
          const appended = new WaitingLine((s) => placeOf(draw, s));
          for (const s of shuffled) appended.append(s);

          // Assess
          const ids = (line: WaitingLine) => [...line.entries()].map((e) => e.id);
          expect(ids(fromShuffled)).toEqual(ids(fromSorted));
          expect(ids(appended)).toEqual(ids(fromSorted));
        },
      ),
    );
  });
});

describe('the draw is uniformly random (fixed seed sets, so the figures never change)', () => {
  it('makes each of the 24 orders of four members about equally often (chi-square, p > 0.001)', () => {
    // Prepare
    const members = ['s-a', 's-b', 's-c', 's-d'];
    const runs = 4800;
    const counts = new Map<string, number>();

    // Act
    for (let i = 0; i < runs; i++) {
      const order = drawnOrder(fixedSeed(i), members).join(',');
      counts.set(order, (counts.get(order) ?? 0) + 1);
    }

    // Assess: 23 degrees of freedom, critical value 49.73 at p = 0.001.
    expect(counts.size).toBe(24);
    const expected = runs / 24;
    const chiSquare = [...counts.values()].reduce(
      (sum, n) => sum + (n - expected) ** 2 / expected,
      0,
    );
    expect(chiSquare).toBeLessThan(49.73);
  });

  it('gives the first to join any of ten places about equally often (chi-square, p > 0.001)', () => {
    // Prepare
    const members = Array.from({ length: 10 }, (_, i) => `session-${i}`);
    const runs = 5000;
    const places = new Array<number>(10).fill(0);

    // Act
    for (let i = 0; i < runs; i++) {
      const place = drawnOrder(fixedSeed(i), members).indexOf('session-0');
      places[place] = (places[place] ?? 0) + 1;
    }

    // Assess: 9 degrees of freedom, critical value 27.88 at p = 0.001.
    const expected = runs / 10;
    const chiSquare = places.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    expect(chiSquare).toBeLessThan(27.88);
  });
});
