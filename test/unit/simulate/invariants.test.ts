/**
 * The simulator's invariant checks over crafted traces: a clean run passes, and each kind of
 * break is caught with the visitor named.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { VisitorTrace } from '../../../tools/simulate/events.ts';
import {
  checkInvariants,
  type InvariantReport,
  summarize,
} from '../../../tools/simulate/invariants.ts';
import { checkAllPasses } from '../../../tools/simulate/passes.ts';
import { at, type TestKey, TraceBuilder, testKey } from './trace-builder.ts';

let room: TestKey;
let otherRoom: TestKey;

beforeAll(async () => {
  room = await testKey();
  otherRoom = await testKey();
});

const STOP = at(60);

async function evaluate(traces: VisitorTrace[], jwks = room.jwks): Promise<InvariantReport> {
  const options = { stopAt: STOP, graceMs: 120_000, staleAfterMs: 45_000 };
  const visitors = traces.map((trace) => summarize(trace, options));
  const passChecks = await checkAllPasses(visitors, jwks);
  return checkInvariants(visitors, {
    ...options,
    passChecks,
    settleMarginMs: 10_000,
    maxExamples: 5,
  });
}

function result(report: InvariantReport, id: number) {
  const found = report.results.find((r) => r.id === id);
  if (!found) throw new Error(`no invariant ${id}`);
  return found;
}

/** Three visitors admitted in order, one who churns and comes back, one who abandons, one still waiting. */
async function cleanRun(): Promise<TraceBuilder[]> {
  const a = new TraceBuilder(0).join(0, 0.01).position(0.5, 1);
  a.admitted(1.2, await room.pass(a.sessionId, 1));
  const b = new TraceBuilder(1).join(0.1, 0.12).position(0.5, 2).churn(0.8, 0.5).position(1.4, 1);
  b.admitted(2.1, await room.pass(b.sessionId, 2));
  const c = new TraceBuilder(2).join(0.2, 0.22).position(0.5, 3).position(1.5, 2).abandon(1.8);
  const d = new TraceBuilder(3).join(0.3, 0.31).position(0.5, 4);
  const dPass = await room.pass(d.sessionId, 50);
  d.admitted(50.1, dPass).recheck(51, dPass);
  const e = new TraceBuilder(4).join(0.4, 0.41).position(0.5, 5).position(1.5, 3).position(55, 1);
  e.stop(60);
  return [a, b, c, d, e];
}

describe('the invariant checks of the simulator', () => {
  it('pass a clean run with churn, abandonment, a recheck and a visitor still waiting', async () => {
    // Prepare
    const traces = (await cleanRun()).map((b) => b.build());

    // Act
    const report = await evaluate(traces);

    // Assess
    expect(report.results.map((r) => [r.id, r.ok, r.examples])).toEqual([
      [1, true, []],
      [2, true, []],
      [3, true, []],
      [4, true, []],
      [5, true, []],
    ]);
    expect(report.ok).toBe(true);
  });

  it('catch a visitor admitted before one whose joined arrived before it sent join', async () => {
    // Prepare: v1 sends join after v0 heard joined, yet its pass is a second older.
    const first = new TraceBuilder(0).join(0, 0.01);
    first.admitted(3.1, await room.pass(first.sessionId, 3));
    const second = new TraceBuilder(1).join(0.5, 0.51);
    second.admitted(2.1, await room.pass(second.sessionId, 2));

    // Act
    const report = await evaluate([first.build(), second.build()]);

    // Assess
    const fifo = result(report, 1);
    expect(fifo.ok).toBe(false);
    expect(fifo.violations).toBe(1);
    expect(fifo.examples[0]?.visitor).toBe('v1');
    expect(fifo.examples[0]?.detail).toContain('v0');
    expect(report.ok).toBe(false);
  });

  it("time a retried join from its first send: its place may be the first try's", async () => {
    // Prepare: v1's first join (0.2 s) went unanswered; v0 joined meanwhile; v1's retry with
    // the same key continued the place its first join made, ahead of v0's.
    const first = new TraceBuilder(0).join(0.3, 0.31);
    first.admitted(3.1, await room.pass(first.sessionId, 3));
    const retried = new TraceBuilder(1).retriedJoin(0.2, 20, 20.5);
    retried.admitted(21, await room.pass(retried.sessionId, 2));

    // Act
    const report = await evaluate([first.build(), retried.build()]);

    // Assess
    expect(result(report, 1).ok).toBe(true);
  });

  it('accept admissions in the same second in any receipt order, counting a receipt-order warning', async () => {
    // Prepare: both passes carry the same iat; v1's admitted simply arrives first.
    const first = new TraceBuilder(0).join(0, 0.01);
    first.admitted(2.2, await room.pass(first.sessionId, 2));
    const second = new TraceBuilder(1).join(0.5, 0.51);
    second.admitted(2.1, await room.pass(second.sessionId, 2));

    // Act
    const report = await evaluate([first.build(), second.build()]);

    // Assess
    expect(result(report, 1).ok).toBe(true);
    expect(report.receiptOrderWarnings).toBe(1);
    expect(report.receiptOrderExamples[0]?.visitor).toBe('v1');
  });

  it('catch a visitor still waiting at the stop behind whom someone was admitted', async () => {
    // Prepare
    const ahead = new TraceBuilder(0).join(0, 0.01).position(50, 1).stop(60);
    const behind = new TraceBuilder(1).join(0.5, 0.51);
    behind.admitted(2.1, await room.pass(behind.sessionId, 2));

    // Act
    const report = await evaluate([ahead.build(), behind.build()]);

    // Assess
    const fifo = result(report, 1);
    expect(fifo.ok).toBe(false);
    expect(fifo.examples[0]?.visitor).toBe('v1');
    expect(fifo.examples[0]?.detail).toContain('v0');
  });

  it('do not hold a visitor who abandoned on purpose against those behind', async () => {
    // Prepare
    const ahead = new TraceBuilder(0).join(0, 0.01).position(0.5, 1).abandon(1);
    const behind = new TraceBuilder(1).join(0.5, 0.51);
    behind.admitted(2.1, await room.pass(behind.sessionId, 2));

    // Act
    const report = await evaluate([ahead.build(), behind.build()]);

    // Assess
    expect(report.ok).toBe(true);
  });

  it('catch a position that rises, across a reconnect', async () => {
    // Prepare
    const riser = new TraceBuilder(7).join(0, 0.01).position(0.5, 5).churn(1, 0.5).position(2, 6);
    riser.admitted(3.1, await room.pass(riser.sessionId, 3));

    // Act
    const report = await evaluate([riser.build()]);

    // Assess
    const positions = result(report, 2);
    expect(positions.ok).toBe(false);
    expect(positions.examples[0]?.visitor).toBe('v7');
    expect(positions.examples[0]?.detail).toContain('rose from 5 to 6');
  });

  it('catch a visitor admitted twice with two different passes', async () => {
    // Prepare
    const twice = new TraceBuilder(3).join(0, 0.01);
    twice.admitted(1.1, await room.pass(twice.sessionId, 1));
    twice.admitted(2.1, await room.pass(twice.sessionId, 2));

    // Act
    const report = await evaluate([twice.build()]);

    // Assess
    const once = result(report, 3);
    expect(once.ok).toBe(false);
    expect(once.examples[0]?.visitor).toBe('v3');
    expect(once.examples[0]?.detail).toContain('2 different passes');
  });

  it('catch a resume after admission that returns another pass', async () => {
    // Prepare
    const visitor = new TraceBuilder(4).join(0, 0.01);
    visitor.admitted(1.1, await room.pass(visitor.sessionId, 1));
    visitor.recheck(2, await room.pass(visitor.sessionId, 2));

    // Act
    const report = await evaluate([visitor.build()]);

    // Assess
    const once = result(report, 3);
    expect(once.ok).toBe(false);
    expect(once.examples[0]?.detail).toContain('returned another pass');
  });

  it('catch a visitor whose resume is refused although it never abandoned', async () => {
    // Prepare: away for 2 s, well within the grace, and told the ticket is no good.
    const lost = new TraceBuilder(5).join(0, 0.01).position(0.5, 3).churn(1, 2, 'invalid_ticket');
    const fine = new TraceBuilder(6).join(0.1, 0.11).position(0.5, 4).position(50, 1).stop(60);

    // Act
    const report = await evaluate([lost.build(), fine.build()]);

    // Assess
    const none = result(report, 4);
    expect(none.ok).toBe(false);
    expect(none.violations).toBe(1);
    expect(none.examples[0]?.visitor).toBe('v5');
    expect(none.examples[0]?.detail).toContain('invalid_ticket');
  });

  it('catch a visitor still in line at the stop that has heard nothing for long', async () => {
    // Prepare
    const silent = new TraceBuilder(8).join(0, 0.01).position(1, 3).stop(60);

    // Act
    const report = await evaluate([silent.build()]);

    // Assess
    expect(result(report, 4).examples[0]?.visitor).toBe('v8');
  });

  it('catch a pass whose sub is another session', async () => {
    // Prepare
    const visitor = new TraceBuilder(9).join(0, 0.01);
    visitor.admitted(1.1, await room.pass('someone-else', 1));

    // Act
    const report = await evaluate([visitor.build()]);

    // Assess
    const passes = result(report, 5);
    expect(passes.ok).toBe(false);
    expect(passes.examples[0]?.visitor).toBe('v9');
    expect(passes.examples[0]?.detail).toContain('sub "someone-else"');
  });

  it('catch a pass signed by a key the JWKS does not hold', async () => {
    // Prepare
    const visitor = new TraceBuilder(10).join(0, 0.01);
    visitor.admitted(1.1, await otherRoom.pass(visitor.sessionId, 1));

    // Act
    const report = await evaluate([visitor.build()]);

    // Assess
    const passes = result(report, 5);
    expect(passes.ok).toBe(false);
    expect(passes.examples[0]?.detail).toContain('does not verify');
  });

  it('catch a redirect that does not carry the return path', async () => {
    // Prepare
    const visitor = new TraceBuilder(11).join(0, 0.01);
    visitor.admitted(1.1, await room.pass(visitor.sessionId, 1), '/');

    // Act
    const report = await evaluate([visitor.build()]);

    // Assess
    expect(result(report, 5).examples[0]?.detail).toContain('path / is not /sim/11');
  });

  it('fail every pass when the JWKS could not be fetched', async () => {
    // Prepare
    const visitor = new TraceBuilder(12).join(0, 0.01);
    visitor.admitted(1.1, await room.pass(visitor.sessionId, 1));
    const visitors = [
      summarize(visitor.build(), { stopAt: STOP, graceMs: 120_000, staleAfterMs: 45_000 }),
    ];

    // Act
    const checks = await checkAllPasses(visitors, { error: 'connection refused' });

    // Assess
    expect([...checks.values()]).toEqual([
      { valid: false, reason: 'no JWKS (connection refused)' },
    ]);
  });
});
