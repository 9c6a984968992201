import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WaitingLine } from '../../../functions/core/line.ts';
import { newSession, type Session } from '../../../functions/core/session.ts';

const seq = (n: number) => String(n).padStart(20, '0');

function waiting(n: number, change: Partial<Session> = {}): Session {
  return { ...newSession(`s${n}`, `c${n}`, '/', n), state: 'waiting', seq: seq(n), ...change };
}

type Op =
  | { op: 'append'; n: number }
  | { op: 'remove'; pick: number }
  | { op: 'head' }
  | { op: 'candidates'; window: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('append' as const), n: fc.nat(40) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'head' } as const) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('candidates' as const),
      window: fc.integer({ min: 1, max: 20 }),
    }),
  },
);

describe('WaitingLine', () => {
  it('gives every session its exact position through appends (in order or not) and departures', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 3000 }), (ops) => {
        const line = new WaitingLine();
        let model: number[] = [];
        let next = 1000;
        for (const op of ops) {
          if (op.op === 'append') {
            // Mostly in order; now and then one that belongs further ahead.
            const n = op.n === 0 && model.length > 0 ? (model[0] as number) - 1 : next++;
            if (model.includes(n) || n < 0) continue;
            line.append(waiting(n));
            model = [...model, n].sort((a, b) => a - b);
          } else if (op.op === 'remove' && model.length > 0) {
            const n = model[op.pick % model.length] as number;
            line.remove(`s${n}`);
            model = model.filter((m) => m !== n);
          } else if (op.op === 'head' && model.length > 0) {
            expect(line.heads(1)[0]?.id).toBe(`s${model[0]}`);
          } else if (op.op === 'candidates') {
            for (const { entry, position } of line.candidates(3, op.window)) {
              expect(position).toBe(model.indexOf(Number(entry.id.slice(1))) + 1);
            }
          }
        }
        expect(line.size).toBe(model.length);
        expect([...line.entries()].map((e) => e.id)).toEqual(model.map((n) => `s${n}`));
        model.forEach((n, i) => {
          expect(line.positionOf(`s${n}`)).toBe(i + 1);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('brings every connected session round within size / window ticks', () => {
    // Prepare: 100 in line, all told long ago; a window of 10.
    const line = WaitingLine.from(Array.from({ length: 100 }, (_, i) => waiting(i + 1)));
    for (const entry of line.entries()) line.told(entry, 1000, 0);
    const seen = new Set<string>();

    // Act
    for (let tick = 0; tick < 10; tick++) {
      for (const { entry } of line.candidates(0, 10)) seen.add(entry.id);
    }

    // Assess
    expect(seen.size).toBe(100);
  });

  it('offers the untold first, then the front, and never the disconnected', () => {
    // Prepare
    const line = WaitingLine.from([
      waiting(1),
      waiting(2, { disconnectedAt: 5, connectionId: 'c2' }),
      waiting(3),
      waiting(4, { connectionId: null }),
    ]);
    for (const entry of line.entries()) line.told(entry, 9, 0);
    line.apply({ sessionId: 's3', connectionId: 'c3-new', disconnectedAt: null, version: 1 });

    // Act
    const candidates = line.candidates(1, 1);

    // Assess
    expect(candidates.map(({ entry, position }) => [entry.id, position])).toEqual([
      ['s3', 3],
      ['s1', 1],
    ]);
  });

  it('ignores a connection change older than what it holds, and hears a question', () => {
    // Prepare
    const line = WaitingLine.from([waiting(1)]);
    line.apply({ sessionId: 's1', connectionId: null, disconnectedAt: 50, version: 2 });

    // Act: the reconnect logged before the disconnect arrives late.
    line.apply({ sessionId: 's1', connectionId: 'c1', disconnectedAt: null, version: 1 });
    const gone = line.disconnectedBefore(100).map((e) => e.id);
    line.apply({ sessionId: 's1', connectionId: 'c9', disconnectedAt: null, version: 3 });
    line.told(line.entry('s1') as NonNullable<ReturnType<typeof line.entry>>, 1, 10);
    line.apply({
      sessionId: 's1',
      connectionId: null,
      disconnectedAt: null,
      version: 0,
      asked: true,
      at: 20,
    });

    // Assess
    expect(gone).toEqual(['s1']);
    expect(line.disconnectedBefore(100)).toEqual([]);
    expect(line.candidates(0, 1).map(({ entry }) => entry.id)).toEqual(['s1']);
  });
});

describe('the span the rotating window walks', () => {
  it('compacts the holes departures leave once they are half of it, positions unchanged', () => {
    // Prepare: 4,000 waiting.
    const line = new WaitingLine();
    for (let n = 1; n <= 4000; n++) line.append(waiting(n));

    // Act: three in four leave, the first stays (the head never moves).
    for (let n = 4000; n >= 2; n -= 1) if (n % 4 !== 1) line.remove(`s${n}`);

    // Assess
    expect(line.size).toBe(1000);
    expect(line.span).toBeLessThanOrEqual(2 * line.size);
    expect(line.positionOf('s1')).toBe(1);
    expect(line.positionOf('s3997')).toBe(1000);
  });
});

describe('a line built from the store', () => {
  it('is in the order of its places, whatever order the store lists them in, small or large', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9000 }),
        fc.integer(),
        fc.constantFrom('0', '1', '2', '3'),
        (size, salt, prefix) => {
          // Prepare: places like a draw's ranks (hex, random) and like sequences (in order).
          const sessions = Array.from({ length: size }, (_, i) => waiting(i + 1));
          const placeOf = (s: { id: string; seq: string }) =>
            Number(s.seq) % 3 === 0
              ? `${prefix}${((Number(s.seq) * 2654435761 + salt) >>> 0).toString(16)}`
              : `4${s.seq}`;
          const listed = [...sessions].reverse();

          // Act
          const line = WaitingLine.from(listed, placeOf);

          // Assess
          const places = [...line.entries()].map((e) => e.place);
          expect(places).toEqual([...places].sort());
          expect(line.size).toBe(size);
        },
      ),
      { numRuns: 20 },
    );
  });
});
