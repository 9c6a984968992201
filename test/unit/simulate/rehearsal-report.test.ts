/**
 * The rehearsal section of the report, from crafted traces: promises kept and broken, joins
 * refused and retried, time to a place, and AWS's errors from the room's usage.
 */
import { describe, expect, it } from 'vitest';
import type { AwsUsage } from '../../../local/aws-local/usage.ts';
import type { TraceEvent, VisitorTrace } from '../../../tools/simulate/events.ts';
import type { InvariantReport } from '../../../tools/simulate/invariants.ts';
import {
  awsErrorsOf,
  buildRehearsalReport,
  formatRehearsal,
  judgePromises,
  type RehearsalRoom,
} from '../../../tools/simulate/rehearsal-report.ts';
import { at, planOf } from './trace-builder.ts';

const trace = (index: number, events: TraceEvent[]): VisitorTrace => ({
  plan: planOf(index),
  events,
});

const position = (seconds: number, next?: number): TraceEvent => ({
  t: at(seconds),
  k: 'position',
  position: 5,
  waiting: 9,
  ...(next === undefined ? {} : { next }),
});

const ROOM: RehearsalRoom = {
  runtime: 'start:aws-local',
  wsUrl: 'ws://127.0.0.1:4321/ws',
  logFile: '/tmp/room.log',
  faultsRequested: 'cold-start',
  ratePerMinute: 600,
  startupSeconds: 12.5,
};

const ALL_HELD: InvariantReport = {
  results: [1, 2, 3, 4, 5].map((id) => ({
    id: id as 1,
    name: `invariant ${id}`,
    ok: true,
    violations: 0,
    examples: [],
  })),
  receiptOrderWarnings: 0,
  receiptOrderMaxMs: 0,
  receiptOrderExamples: [],
  ok: true,
};

describe('the promises of a rehearsal', () => {
  it('are kept when the room is heard from within nextUpdateSeconds plus the grace, else broken', () => {
    // Prepare
    const traces = [
      trace(0, [
        // Promised within 5 s (+2 s): heard at 6.5 s, kept.
        position(1, 5),
        // Promised within 5 s: next word at 15 s, 0.5 s past 14.5 s, broken.
        position(6.5, 5),
        position(15, 5),
        // The visitor drops its socket on purpose before the promise falls due: unjudged.
        { t: at(16), k: 'drop', pauseMs: 1000 },
        { t: at(30), k: 'admitted', pass: 'p', redirectUrl: 'x', expiresAt: 0 },
      ]),
      trace(1, [
        // No promise: not counted.
        position(2),
        // Kept by the admission itself.
        position(3, 1),
        { t: at(5.5), k: 'admitted', pass: 'q', redirectUrl: 'x', expiresAt: 0 },
      ]),
      trace(2, [
        // Promised within 3 s, heard from again only 85 s later: broken, 80 s late.
        position(10, 3),
        // The run stops before this one falls due: unjudged.
        position(95, 5),
        { t: at(100), k: 'stop', state: 'waiting' },
      ]),
    ];

    // Act
    const promises = judgePromises(traces, at(100));

    // Assess
    expect(promises).toMatchObject({
      positions: 6,
      kept: 2,
      broken: 2,
      unjudged: 2,
      unjudgedLeftOnPurpose: 1,
      unjudgedRunEnded: 1,
      withoutPromise: 1,
      worstLateMs: 80_000,
      brokenNeverHeard: 0,
    });
    expect(promises.kept + promises.broken + promises.unjudged).toBe(promises.positions);
    expect(promises.examples.map((e) => e.visitor)).toEqual(['v0', 'v2']);
  });
});

describe('the rehearsal section', () => {
  it('counts joins refused and retried by kind, and times a place from the arrival', () => {
    // Prepare: v0 refused at the handshake (429), then its join answered internal, then in;
    // v1 (not in the burst) joined at once, lost its socket and resumed.
    const v0: TraceEvent[] = [
      { t: at(0), k: 'dial', purpose: 'join', attempt: 1 },
      { t: at(0.1), k: 'socket-error', message: 'Unexpected server response: 429' },
      { t: at(0.1), k: 'retry', reason: 'no connection', purpose: 'join', delayMs: 300 },
      { t: at(0.4), k: 'dial', purpose: 'join', attempt: 2 },
      { t: at(0.5), k: 'open' },
      { t: at(0.5), k: 'send', action: 'join' },
      { t: at(0.6), k: 'error', code: 'internal' },
      { t: at(0.6), k: 'close', code: 1000, expected: true },
      { t: at(0.6), k: 'retry', reason: 'internal', purpose: 'join', delayMs: 600 },
      { t: at(1.2), k: 'dial', purpose: 'join', attempt: 3 },
      { t: at(1.3), k: 'open' },
      { t: at(1.3), k: 'send', action: 'join' },
      { t: at(2), k: 'joined', sessionId: 's0' },
      position(3, 4),
      { t: at(4), k: 'admitted', pass: 'p', redirectUrl: 'x', expiresAt: 0 },
    ];
    const v1: TraceEvent[] = [
      { t: at(1), k: 'dial', purpose: 'join', attempt: 1 },
      { t: at(1.1), k: 'open' },
      { t: at(1.1), k: 'send', action: 'join' },
      { t: at(1.5), k: 'joined', sessionId: 's1' },
      { t: at(2), k: 'close', code: 1006, expected: false },
      { t: at(2), k: 'retry', reason: 'closed', purpose: 'resume', delayMs: 300 },
      { t: at(2.3), k: 'dial', purpose: 'resume', attempt: 1 },
      { t: at(2.4), k: 'open' },
      { t: at(2.4), k: 'send', action: 'resume' },
      { t: at(2.5), k: 'error', code: 'apigw: Too Many Requests' },
      {
        t: at(2.5),
        k: 'retry',
        reason: 'apigw: Too Many Requests',
        purpose: 'resume',
        delayMs: 5000,
      },
      { t: at(7.5), k: 'dial', purpose: 'resume', attempt: 2 },
      { t: at(7.6), k: 'open' },
      { t: at(7.6), k: 'send', action: 'resume' },
      { t: at(7.7), k: 'joined', sessionId: 's1' },
      { t: at(9), k: 'admitted', pass: 'q', redirectUrl: 'x', expiresAt: 0 },
    ];
    const usage = {
      lambda: {
        message: { invocations: 10, durationMs: 1, gbSeconds: 1, errors: 2 },
        connect: { invocations: 5, durationMs: 1, gbSeconds: 1, errors: 0 },
      },
      faults: { on: { 'cold-start': 600 }, struck: { 'lambda.cold-start': 3, 'x.none': 0 } },
    } as unknown as AwsUsage;

    // Act
    const report = buildRehearsalReport({
      room: ROOM,
      traces: [trace(0, v0), trace(1, v1)],
      burst: 1,
      rampSeconds: 2,
      churn: 0.1,
      stopAt: at(10),
      invariants: ALL_HELD,
      usage,
      roomPerMinute: 600,
      observedPerMinute: 300,
      peakInAMinute: 2,
      admitted: 2,
    });

    // Assess
    expect(report.faultsOn).toBe('cold-start=600');
    expect(report.crowd).toEqual({ users: 2, burst: 1, rampSeconds: 2, churn: 0.1 });
    expect(report.joins).toEqual({
      sent: 3,
      visitorsRetried: 1,
      refused: { internal: 1 },
      resumesRefused: { 'apigw: Too Many Requests': 1 },
      handshakesRefused: { '429': 1 },
      retried: { internal: 1, 'no connection': 1 },
      resumesRetried: { 'apigw: Too Many Requests': 1, closed: 1 },
      gaveUp: 0,
    });
    expect(report.timeToJoinedMs).toMatchObject({ count: 2, p50: 500, max: 2000 });
    expect(report.timeToFirstPositionMs).toMatchObject({ count: 1, max: 3000 });
    expect(report.burstTimeToJoinedMs).toMatchObject({ count: 1, max: 2000 });
    expect(report.admissions).toEqual({
      configuredPerMinute: 600,
      roomPerMinute: 600,
      observedPerMinute: 300,
      peakInAMinute: 2,
      ratio: 0.5,
      admitted: 2,
    });
    expect(report.promises).toMatchObject({ positions: 1, kept: 1, broken: 0 });
    expect(report.awsErrors).toEqual({
      faultsStruck: { 'lambda.cold-start': 3 },
      lambdaErrors: { 'message.errors': 2 },
      total: 5,
    });
    expect(report.invariants).toEqual({ held: 5, of: 5, broken: [] });
    const text = formatRehearsal(report).join('\n');
    expect(text).toContain('faults on: cold-start=600');
    expect(text).toContain('refused: internal 1; handshakes refused (HTTP status): 429 1');
    expect(text).toContain('invariants: all 5 held');
  });

  it('reads Lambda timeouts or throttles when the usage counts them apart', () => {
    // Act
    const errors = awsErrorsOf({
      lambda: {
        processor: { invocations: 1, durationMs: 1, gbSeconds: 1, errors: 0, timeouts: 2 },
      },
    } as unknown as AwsUsage);

    // Assess
    expect(errors).toEqual({
      faultsStruck: {},
      lambdaErrors: { 'processor.timeouts': 2 },
      total: 2,
    });
  });
});
