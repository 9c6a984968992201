/**
 * The load simulator against the real local room: a few hundred visitors over two worker
 * processes, with churn and abandonment, and every invariant holding.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatAwsUsage } from '../../tools/simulate/report.ts';
import { runSimulation } from '../../tools/simulate/run.ts';
import {
  type RuntimeRoom,
  startRuntimeRoom,
  startTestRoom,
  type TestRoom,
} from '../helpers/local-room.ts';

let room: TestRoom | RuntimeRoom | undefined;
let dir: string | undefined;

afterEach(async () => {
  await room?.close();
  room = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the load simulator', () => {
  it('plays 300 visitors with churn and abandonment over two workers and finds every invariant holding', async () => {
    // Prepare
    room = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '6000' });
    dir = await mkdtemp(join(tmpdir(), 'simulate-'));
    const jsonFile = join(dir, 'report.json');
    const htmlFile = join(dir, 'report.html');

    // Act
    const { report, exitCode } = await runSimulation({
      url: room.wsUrl,
      users: 300,
      rampSeconds: 1,
      churn: 0.2,
      abandon: 0.05,
      workers: 2,
      durationSeconds: 60,
      jsonFile,
      htmlFile,
      progress: 'none',
      seed: 20_251_125,
    });

    // Assess
    expect(report.invariants.results.filter((r) => !r.ok)).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.run.stopReason).toBe('complete');
    expect(report.run.workers).toHaveLength(2);
    // Planned for 15; one admitted before its planned moment simply does not abandon.
    expect(report.counts.abandonPlanned).toBe(15);
    expect(report.counts.abandonedOnPurpose).toBeGreaterThan(0);
    expect(report.counts.admitted).toBe(300 - report.counts.abandonedOnPurpose);
    expect(report.counts.lost + report.counts.unjoined + report.counts.waitingAtStop).toBe(0);
    expect(report.counts.churnDone).toBeGreaterThan(0);
    expect(report.latencyMs.resume.count).toBeGreaterThanOrEqual(report.counts.churnDone);
    expect(report.counts.recheckSamePass).toBe(report.counts.rechecks);
    const json = JSON.parse(await readFile(jsonFile, 'utf8')) as typeof report;
    expect(json.config.users).toBe(300);
    expect(json.timeseries.admittedPerSecond.reduce((a, b) => a + b, 0)).toBe(
      report.counts.admitted,
    );
    const html = await readFile(htmlFile, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('All invariants held');
  }, 90_000);

  it('plays a scheduled opening: the pre-queue is drawn, admitted in the seed order ahead of later joins, churn keeping membership', async () => {
    // Prepare: the opening 3 s into a 6 s ramp, so about half join the pre-queue. The simulator
    // schedules it itself through the room's admin endpoint, as `npm run room` would.
    const testRoom = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '1200' });
    room = testRoom;

    // Act
    const { report, exitCode } = await runSimulation({
      url: testRoom.wsUrl,
      users: 30,
      rampSeconds: 6,
      churn: 0.2,
      workers: 0,
      durationSeconds: 60,
      progress: 'none',
      seed: 20_261_128,
      prequeue: true,
      opensAfterSeconds: 3,
    });

    // Assess
    expect(report.invariants.results.filter((r) => !r.ok)).toEqual([]);
    expect(report.invariants.results.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(exitCode).toBe(0);
    expect(report.counts.admitted).toBe(30);
    const prequeue = report.prequeue;
    expect(prequeue?.scheduledBy).toBe('simulator');
    expect(prequeue?.members).toBeGreaterThan(5);
    expect(prequeue?.laterJoins).toBeGreaterThan(5);
    expect(prequeue?.seedMatchesCommitment).toBe(true);
    expect(prequeue?.churnedBeforeOpening).toBeGreaterThan(0);
    // The schedule was taken off after the run; the draw it made stays, with the seed heard.
    const status = await testRoom.room.status();
    expect(status.opensAt).toBeNull();
    expect(status.draw?.seed).toBe(prequeue?.seed);
    expect(status.draw?.members).toBe(prequeue?.members);
  }, 90_000);

  it('plays proofs of work: every proof taken once, every replay of a spent one refused with invalid_proof', async () => {
    // Prepare: the simulator sets the cost through the admin endpoint and puts it back after.
    const testRoom = await startTestRoom({ WR_TICK_MS: '100', WR_ADMIT_PER_MINUTE: '6000' });
    room = testRoom;

    // Act
    const { report, exitCode } = await runSimulation({
      url: testRoom.wsUrl,
      users: 30,
      rampSeconds: 2,
      workers: 1,
      durationSeconds: 60,
      progress: 'none',
      seed: 20_261_128,
      powCost: 200,
      replay: 0.1,
    });

    // Assess
    expect(report.invariants.results.filter((r) => !r.ok)).toEqual([]);
    expect(report.invariants.results.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 9]);
    expect(exitCode).toBe(0);
    expect(report.counts.admitted).toBe(30);
    const pow = report.pow;
    expect(pow?.costSet).toBe(200);
    expect(pow?.challenges).toBeGreaterThanOrEqual(30);
    expect(pow?.solved).toBe(pow?.challenges);
    expect(pow?.failed).toBe(0);
    expect(pow?.invalidProof).toBe(0);
    expect(pow?.replaysPlanned).toBe(3);
    expect(pow?.replaysRefused).toBe(3);
    expect(pow?.replaysOther).toEqual({});
    // The replays took no place: the room holds the 30 places it admitted, and its cost is back.
    const status = await testRoom.room.status();
    expect(status.admittedTotal).toBe(30);
    expect(status.waiting + status.arriving).toBe(0);
    expect(status.powCost).toBe(0);
  }, 90_000);

  it('plays 2,000 visitors with churn through the AWS build (start:aws-local), every invariant holding, and prices the run', async () => {
    // Prepare: the run, at a rate that lets everyone in within the test's time.
    room = await startRuntimeRoom('aws-local', { WR_ADMIT_PER_MINUTE: '6000' });

    // Act
    const { report, exitCode } = await runSimulation({
      url: room.wsUrl,
      users: 2000,
      rampSeconds: 10,
      churn: 0.1,
      // About 30 s alone; three times that when the whole suite shares the two cores.
      durationSeconds: 150,
      // This run measures calls per visitor: on two shared cores a join may wait longer than
      // the page's 20 s for one of the stand-in's few containers, and a page-like visitor
      // would then join again, adding calls (the launch rehearsal shows that on purpose).
      replyTimeoutSeconds: 120,
      connectTimeoutSeconds: 60,
      progress: 'none',
      seed: 20_261_128,
    });

    // Assess
    expect(report.invariants.results.filter((r) => !r.ok)).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.counts.admitted).toBe(2000);
    const summary = report.aws?.summary;
    expect(summary?.visitors).toBe(2000);
    expect(summary?.ticks).toBeGreaterThan(0);
    // Every visitor connects, joins (one enqueue) and is told at least joined and admitted.
    expect(summary?.perVisitor.lambdaInvocations).toBeGreaterThanOrEqual(3);
    // A join writes its session and its connection (a write unit each at least) and sends its
    // arrival to SQS, which the processor receives and deletes in batches.
    expect(summary?.perVisitor.dynamoWriteUnits).toBeGreaterThanOrEqual(2);
    expect(summary?.perVisitor.sqsRequests).toBeGreaterThanOrEqual(1);
    expect(summary?.perVisitor.sqsRequests).toBeLessThan(3);
    expect(summary?.perVisitor.postToConnection).toBeGreaterThanOrEqual(2);
    expect(summary?.per100kVisitors.total).toBeGreaterThan(0);
    console.info(formatAwsUsage(summary as NonNullable<typeof summary>).join('\n'));
  }, 200_000);
});
