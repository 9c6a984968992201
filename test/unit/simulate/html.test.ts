/** The HTML report is one self-contained page with its charts drawn inline. */
import { describe, expect, it } from 'vitest';
import { renderHtmlReport, svgChart } from '../../../tools/simulate/html.ts';
import type { SimulationReport } from '../../../tools/simulate/report.ts';

function reportWith(overrides: Partial<SimulationReport> = {}): SimulationReport {
  const none = { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  return {
    tool: 'waiting-room simulate',
    config: {
      url: 'ws://127.0.0.1:8080/ws',
      users: 3,
      rampSeconds: 1,
      churn: 0,
      abandon: 0,
      recheck: 0,
      durationSeconds: 60,
      workers: 1,
      jwksUrl: 'http://127.0.0.1:8080/.well-known/jwks.json',
      sourceAddresses: [],
      graceSeconds: 120,
      seed: 1,
    },
    run: {
      startedAt: '2025-01-01T00:00:00.000Z',
      stoppedAt: '2025-01-01T00:00:03.000Z',
      elapsedSeconds: 3,
      stopReason: 'complete',
      problems: [],
      parentPeakRssMb: 80,
      parentLoopDelayMaxMs: 12,
      workers: [],
    },
    counts: {
      users: 3,
      started: 3,
      joined: 3,
      admitted: 3,
      abandonedOnPurpose: 0,
      waitingAtStop: 0,
      expired: 0,
      opened: 0,
      unjoined: 0,
      unstarted: 0,
      lost: 0,
      churnPlanned: 0,
      churnDone: 0,
      reconnects: 0,
      abandonPlanned: 0,
      rechecks: 0,
      recheckSamePass: 0,
    },
    invariants: {
      results: [
        {
          id: 1,
          name: 'FIFO',
          ok: false,
          violations: 1,
          examples: [{ visitor: 'v1', detail: '<b>v1</b> jumped' }],
        },
      ],
      receiptOrderWarnings: 0,
      receiptOrderMaxMs: 0,
      receiptOrderExamples: [],
      ok: false,
    },
    latencyMs: {
      join: none,
      resume: none,
      admission: none,
      admissionSpreadInTick: none,
      note: 'n',
    },
    throughput: {
      admittedPerMinuteObserved: 60,
      peakAdmittedInAMinute: 3,
      peakReceivedPerSecond: 5,
      peakSentPerSecond: 3,
      messagesReceived: 9,
      messagesSent: 3,
    },
    errorsByCode: {},
    timeseries: {
      second: [0, 1, 2],
      connected: [3, 2, 0],
      waiting: [3, 1, 0],
      admittedPerSecond: [0, 2, 1],
      receivedPerSecond: [3, 4, 2],
      sentPerSecond: [3, 0, 0],
      errorsPerSecond: [0, 0, 0],
      admittedPerSecondByIat: [0, 2, 1],
    },
    positionSamples: [
      {
        visitor: 'v0',
        points: [
          [0.1, 3],
          [1.2, 1],
        ],
        admittedAt: 1.5,
        outcome: 'admitted',
      },
    ],
    server: null,
    aws: null,
    ...overrides,
  };
}

describe('the HTML report', () => {
  it('is one page with inline SVG charts and nothing fetched from elsewhere', () => {
    // Act
    const html = renderHtmlReport(reportWith());

    // Assess
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<svg /g)?.length).toBe(4);
    expect(html).not.toMatch(
      /<script[^>]*src=|<link[^>]*href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)[a-z]/i,
    );
    expect(html).toContain('Invariants broken');
  });

  it('escapes what it shows', () => {
    // Act
    const html = renderHtmlReport(reportWith());

    // Assess
    expect(html).toContain('&#60;b&#62;v1&#60;/b&#62; jumped');
    expect(html).not.toContain('<b>v1</b>');
  });

  it('draws a series as a path within the chart', () => {
    // Act
    const svg = svgChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 'a',
          color: '#000',
          kind: 'line',
          points: [
            [0, 0],
            [10, 5],
          ],
        },
      ],
    });

    // Assess
    expect(svg).toMatch(/<path d="M64\.0,256\.0 L880\.0,\d+\.\d"/);
  });
});
