/** The report's figures: percentiles, outcome counts and admission rates from summaries. */
import { describe, expect, it } from 'vitest';
import { checkInvariants, summarize } from '../../../tools/simulate/invariants.ts';
import { defaultsFor } from '../../../tools/simulate/options.ts';
import { checkAllPasses } from '../../../tools/simulate/passes.ts';
import { buildReport, formatReport, percentiles } from '../../../tools/simulate/report.ts';
import { at, T, TraceBuilder, testKey } from './trace-builder.ts';

describe('the simulation report', () => {
  it('takes nearest-rank percentiles', () => {
    // Act
    const p = percentiles(Array.from({ length: 100 }, (_, i) => i + 1));

    // Assess
    expect(p).toEqual({ count: 100, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
    expect(percentiles([])).toMatchObject({ count: 0, p50: null, max: null });
  });

  it('counts outcomes and measures admissions by the pass iat', async () => {
    // Prepare: two visitors admitted in the same tick (iat T+2 s), received 30 ms apart.
    const key = await testKey();
    const a = new TraceBuilder(0).join(0, 0.001);
    a.admitted(2.5, await key.pass(a.sessionId, 2));
    const b = new TraceBuilder(1).join(0.1, 0.101);
    b.admitted(2.53, await key.pass(b.sessionId, 2));
    const c = new TraceBuilder(2).join(0.2, 0.2015).position(0.5, 1).abandon(1);
    const traces = [a.build(), b.build(), c.build()];
    const stopAt = at(3);
    const visitors = traces.map((t) =>
      summarize(t, { stopAt, graceMs: 120_000, staleAfterMs: 45_000 }),
    );
    const invariants = checkInvariants(visitors, {
      stopAt,
      settleMarginMs: 10_000,
      maxExamples: 5,
      passChecks: await checkAllPasses(visitors, key.jwks),
    });

    // Act
    const report = buildReport({
      options: defaultsFor({ url: 'ws://127.0.0.1:8080/ws', users: 3, seed: 1 }),
      sourceAddresses: [],
      traces,
      visitors,
      invariants,
      series: {
        second: [0, 1, 2],
        connected: [3, 2, 0],
        waiting: [3, 2, 0],
        admittedPerSecond: [0, 0, 2],
        receivedPerSecond: [3, 1, 2],
        sentPerSecond: [3, 0, 0],
        errorsPerSecond: [0, 0, 0],
      },
      errorsByCode: new Map(),
      t0: T,
      stopAt,
      stopReason: 'complete',
      problems: [],
      server: null,
      parentPeakRssMb: 1,
      parentLoopDelayMaxMs: 1,
      workers: [],
    });

    // Assess
    expect(report.counts).toMatchObject({ joined: 3, admitted: 2, abandonedOnPurpose: 1, lost: 0 });
    expect(report.latencyMs.join).toMatchObject({ count: 3, p50: 1, max: 1.5 });
    expect(report.latencyMs.admission).toMatchObject({ count: 2, p50: 500, max: 530 });
    expect(report.latencyMs.admissionSpreadInTick).toMatchObject({ p50: 0, max: 30 });
    expect(report.timeseries.admittedPerSecondByIat).toEqual([0, 0, 2]);
    expect(report.throughput.peakAdmittedInAMinute).toBe(2);
    expect(formatReport(report)).toContain('All invariants held.');
  });
});
