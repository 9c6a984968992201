/**
 * The merge of arrivals from many message groups (`arrival-merge.ts`): order behind the settle
 * window, late arrivals behind the tail, a takeover's hold, and the queue's clock.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrivalOrder } from '../../../functions/adapters/aws/sqs-arrival-queue.ts';
import { ArrivalMerge } from '../../../functions/core/arrival-merge.ts';
import type { ReceivedArrival } from '../../../functions/core/ports.ts';
import type { Session } from '../../../functions/core/session.ts';

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);

function arrival(id: string, acceptedAt: number, group = 'g00', sequence = 1): ReceivedArrival {
  return {
    sessionId: id,
    joinedAt: acceptedAt,
    acceptedAt,
    order: arrivalOrder(acceptedAt, group, String(sequence)),
    group,
    receipt: `r-${id}`,
  };
}

function numbered(id: string, seq: string): Session {
  return {
    id,
    seq,
    state: 'waiting',
    joinedAt: T0,
    returnPath: '/',
    connectionId: `c-${id}`,
    disconnectedAt: null,
    connectionVersion: 1,
    admittedAt: null,
    pass: null,
    admissionNotified: false,
  };
}

/** Numbers arrivals as the processor does: the merge picks each order, then takes them. */
function take(merge: ArrivalMerge, arrivals: ReceivedArrival[], now: number): string[] {
  const orders = arrivals.map((a) => merge.orderFor(a, now));
  merge.add(
    arrivals.map((a, i) => ({
      session: numbered(a.sessionId, orders[i] as string),
      acceptedAt: a.acceptedAt,
    })),
  );
  return orders;
}

const ids = (sessions: Session[]) => sessions.map((s) => s.id);

/** A tick that found the queue empty (it drains it every tick), then puts the settled in line. */
function tick(merge: ArrivalMerge, now: number): Session[] {
  merge.drained(now);
  return merge.release(now);
}

describe('ArrivalMerge', () => {
  it('puts arrivals of several groups in line by SQS timestamp once the window has passed', () => {
    // Prepare: B (group 2) is received before A (group 1), though SQS accepted A first.
    const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
    take(merge, [arrival('B', T0 + 300, 'g02', 7)], T0 + 350);
    take(merge, [arrival('A', T0 + 100, 'g01', 9)], T0 + 600);

    // Act
    const early = tick(merge, T0 + 900);
    const settled = tick(merge, T0 + 1400);

    // Assess
    expect(early).toEqual([]);
    expect(ids(settled)).toEqual(['A', 'B']);
    expect(merge.late).toBe(0);
    expect(merge.size).toBe(0);
  });

  it('releases only the settled prefix, in order', () => {
    // Prepare
    const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
    take(merge, [arrival('A', T0, 'g01'), arrival('B', T0 + 800, 'g02')], T0 + 900);

    // Act
    const first = tick(merge, T0 + 1100);
    const second = tick(merge, T0 + 1900);

    // Assess
    expect(ids(first)).toEqual(['A']);
    expect(ids(second)).toEqual(['B']);
  });

  it('puts a late arrival right behind the tail and counts it', () => {
    // Prepare: A and C are in line; B, accepted between them, comes after the window.
    const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
    take(merge, [arrival('A', T0, 'g01'), arrival('C', T0 + 200, 'g03')], T0 + 300);
    const inLine = tick(merge, T0 + 1300);
    take(merge, [arrival('D', T0 + 1250, 'g04')], T0 + 1300);

    // Act
    const [order] = take(merge, [arrival('B', T0 + 100, 'g02')], T0 + 1400);
    const next = tick(merge, T0 + 2400);

    // Assess: B is numbered behind C (nobody in line moves back), ahead of D.
    expect(ids(inLine)).toEqual(['A', 'C']);
    expect(ArrivalMerge.isLate(order as string)).toBe(true);
    expect((order as string) > (inLine[1]?.seq as string)).toBe(true);
    expect(ids(next)).toEqual(['B', 'D']);
    expect(merge.late).toBe(1);
  });

  it('does not shorten the window when the processor clock runs ahead of the queue', () => {
    // Prepare: the processor's clock is 5 s ahead of SQS's.
    const skew = 5000;
    const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
    take(merge, [arrival('B', T0 + 300, 'g02')], T0 + 350 + skew);

    // Act: 500 ms later on both clocks, A (accepted earlier) is received.
    const before = tick(merge, T0 + 850 + skew);
    take(merge, [arrival('A', T0 + 100, 'g01')], T0 + 850 + skew);
    const after = tick(merge, T0 + 1400 + skew);

    // Assess
    expect(before).toEqual([]);
    expect(ids(after)).toEqual(['A', 'B']);
  });

  it('holds what was accepted before the takeover until the visibility timeout has passed', () => {
    // Prepare: the predecessor's last tick ended at T0; a session it numbered (S) is read back.
    const merge = new ArrivalMerge({
      settleMs: 1000,
      releasedUpTo: null,
      holdAcceptedUpTo: T0 + 3000,
      holdUntil: T0 + 12_000,
    });
    merge.add([{ session: numbered('S', arrivalOrder(T0 + 500, 'g05', '3')), acceptedAt: 0 }]);

    // Act: an arrival the predecessor held in flight (R, accepted before S) comes back at 11 s.
    const during = tick(merge, T0 + 5000);
    take(merge, [arrival('R', T0 + 200, 'g06')], T0 + 11_000);
    const after = tick(merge, T0 + 12_000);

    // Assess
    expect(during).toEqual([]);
    expect(ids(after)).toEqual(['R', 'S']);
    expect(merge.late).toBe(0);
  });

  it('applies connection changes to a session still settling', () => {
    // Prepare
    const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
    take(merge, [arrival('A', T0)], T0);

    // Act
    const known = merge.apply({
      sessionId: 'A',
      connectionId: 'c-new',
      disconnectedAt: null,
      version: 2,
    });
    const stale = merge.apply({
      sessionId: 'A',
      connectionId: 'c-old',
      disconnectedAt: T0,
      version: 1,
    });
    const unknown = merge.apply({
      sessionId: 'Z',
      connectionId: 'c',
      disconnectedAt: null,
      version: 9,
    });
    const [session] = tick(merge, T0 + 2000);

    // Assess
    expect([known, stale, unknown]).toEqual([true, true, false]);
    expect(session?.connectionId).toBe('c-new');
    expect(session?.connectionVersion).toBe(2);
  });

  it('waits for a group read behind the others, however far behind, while it is being read', () => {
    // Prepare: a backlog: group 1 is read up to 10 s, group 2 only up to 2 s so far.
    const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
    take(merge, [arrival('A1', T0, 'g01', 1), arrival('B1', T0 + 100, 'g02', 2)], T0 + 20_000);
    take(
      merge,
      [arrival('A2', T0 + 10_000, 'g01', 3), arrival('B2', T0 + 2000, 'g02', 4)],
      T0 + 20_100,
    );

    // Act
    const first = merge.release(T0 + 20_200);
    take(
      merge,
      [arrival('B3', T0 + 5000, 'g02', 5), arrival('B4', T0 + 11_000, 'g02', 6)],
      T0 + 20_300,
    );
    const second = merge.release(T0 + 20_400);

    // Assess: nothing goes past the slowest group's last read (a group may hold more of the
    // same millisecond); all in SQS order, none late.
    expect(ids(first)).toEqual(['A1', 'B1']);
    expect(ids(second)).toEqual(['B2', 'B3']);
    expect(merge.late).toBe(0);
  });

  it('stops waiting for the groups once the queue is found empty', () => {
    // Prepare: group 2 was read once, long ago in queue time; group 1 since.
    const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
    take(merge, [arrival('B1', T0, 'g02', 1)], T0);
    take(merge, [arrival('A1', T0 + 500, 'g01', 2)], T0 + 600);
    take(merge, [arrival('A2', T0 + 3000, 'g01', 3)], T0 + 3000);

    // Act
    const before = merge.release(T0 + 4500);
    merge.drained(T0 + 4600);
    const after = merge.release(T0 + 4700);

    // Assess: group 2 may still hold more of its millisecond until the queue is found empty.
    expect(ids(before)).toEqual([]);
    expect(ids(after)).toEqual(['B1', 'A1', 'A2']);
  });

  it('keeps SQS order with a backlog read unevenly across the groups (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            group: fc.integer({ min: 0, max: 5 }),
            gap: fc.integer({ min: 0, max: 400 }),
          }),
          {
            minLength: 1,
            maxLength: 80,
          },
        ),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 200 }),
        (specs, readOrder) => {
          // Prepare: every group has a first arrival at T0 (all groups busy, as a backlog makes
          // them); then arrivals at rising times, each in its group.
          const arrivals: ReceivedArrival[] = [];
          let at = T0;
          for (let g = 0; g <= 5; g++) arrivals.push(arrival(`first${g}`, T0, `g0${g}`, g + 1));
          specs.forEach((spec, i) => {
            at += spec.gap;
            arrivals.push(arrival(`s${i}`, at, `g0${spec.group}`, 100 + i));
          });
          const queues = new Map<string, ReceivedArrival[]>();
          for (const a of arrivals)
            queues.set(a.group as string, [...(queues.get(a.group as string) ?? []), a]);
          const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
          const line: Session[] = [];
          // The processor is far behind: its clock is 60 s past the last arrival throughout.
          let now = at + 60_000;
          const later = (ms: number) => {
            now += ms;
            return now;
          };

          // Act: the first of every group read first (one receive round), then the groups read
          // in an arbitrary order, each in its own order, releasing as it goes; then drained.
          take(
            merge,
            [...queues.values()].map((q) => q.shift() as ReceivedArrival),
            now,
          );
          for (const g of readOrder) {
            const next = queues.get(`g0${g}`)?.shift();
            if (next) take(merge, [next], later(10));
            line.push(...merge.release(later(10)));
          }
          for (const q of queues.values()) for (const a of q.splice(0)) take(merge, [a], later(10));
          // The queue found empty, and the window passed.
          merge.drained(later(2000));
          line.push(...merge.release(now));

          // Assess
          const expected = [...arrivals].sort((x, y) => (x.order < y.order ? -1 : 1));
          expect(ids(line)).toEqual(expected.map((a) => a.sessionId));
          expect(merge.late).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps SQS order whenever every arrival is received within the window (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            acceptedAfter: fc.integer({ min: 0, max: 5000 }),
            receiveDelay: fc.integer({ min: 0, max: 999 }),
            group: fc.integer({ min: 0, max: 31 }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 20 }),
        (specs, releaseTimes) => {
          // Prepare: arrivals in SQS order (timestamp, group, sequence), received in the order
          // of their receive time, each within the window of its acceptance.
          const arrivals = specs.map((spec, i) =>
            arrival(
              `s${i}`,
              T0 + spec.acceptedAfter,
              `g${String(spec.group).padStart(2, '0')}`,
              i + 1,
            ),
          );
          const byReceive = arrivals
            .map((a, i) => ({ a, at: a.acceptedAt + (specs[i]?.receiveDelay ?? 0) }))
            .sort((x, y) => x.at - y.at);
          const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
          const released: Session[] = [];
          const checks = [...releaseTimes].map((t) => T0 + t).sort((x, y) => x - y);
          let c = 0;

          // Act: receives and releases interleaved in time.
          for (const { a, at } of byReceive) {
            while (c < checks.length && (checks[c] as number) < at) {
              released.push(...tick(merge, checks[c] as number));
              c += 1;
            }
            take(merge, [a], at);
          }
          released.push(...tick(merge, T0 + 100_000));

          // Assess
          const expected = [...arrivals].sort((x, y) => (x.order < y.order ? -1 : 1));
          expect(ids(released)).toEqual(expected.map((a) => a.sessionId));
          expect(merge.late).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never puts anyone ahead of someone already in line, however late it comes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            acceptedAfter: fc.integer({ min: 0, max: 5000 }),
            receiveDelay: fc.integer({ min: 0, max: 8000 }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (specs) => {
          // Prepare
          const arrivals = specs.map((spec, i) =>
            arrival(`s${i}`, T0 + spec.acceptedAfter, 'g01', i + 1),
          );
          const byReceive = arrivals
            .map((a, i) => ({ a, at: a.acceptedAt + (specs[i]?.receiveDelay ?? 0) }))
            .sort((x, y) => x.at - y.at);
          const merge = new ArrivalMerge({ settleMs: 1000, releasedUpTo: null });
          const line: Session[] = [];

          // Act
          for (const { a, at } of byReceive) {
            line.push(...tick(merge, at));
            take(merge, [a], at);
          }
          line.push(...tick(merge, T0 + 100_000));

          // Assess: everyone is in line once, the line's orders only rise, and the late are
          // exactly those numbered behind someone accepted after them.
          expect(line).toHaveLength(arrivals.length);
          const seqs = line.map((s) => s.seq as string);
          expect(seqs).toEqual([...seqs].sort());
          expect(merge.late).toBe(seqs.filter((seq) => ArrivalMerge.isLate(seq)).length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
