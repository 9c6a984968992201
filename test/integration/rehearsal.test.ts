/**
 * The launch rehearsal end to end: `runRehearsal` starts `npm run start:aws-local` itself with
 * AWS faults on, plays a flash crowd against it, reports the launch, and stops the room.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runRehearsal } from '../../tools/simulate/rehearsal.ts';
import type { SimulationReport } from '../../tools/simulate/report.ts';

let dir: string | undefined;

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Whether anything still answers on the room's port. */
async function answers(wsUrl: string): Promise<boolean> {
  const url = wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '/.well-known/jwks.json');
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

describe('the launch rehearsal', () => {
  it('starts the AWS build with faults on, plays a flash crowd of 300 (150 at once) with churn, reports the launch and stops the room', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'rehearsal-'));
    const jsonFile = join(dir, 'report.json');
    const htmlFile = join(dir, 'report.html');
    const roomLogFile = join(dir, 'room.log');

    // Act
    const { report, exitCode, logFile } = await runRehearsal({
      users: 300,
      burst: 150,
      rampSeconds: 3,
      // Lambda's faults: cold starts, skewed clocks, and an account that runs 8 at once (the burst
      // needs more: throttled joins and handshakes are retried, as by the page).
      faults: 'cold-start,clock-skew,lambda-concurrency=8',
      // Several minutes when the whole suite shares two cores; under a minute alone.
      durationSeconds: 240,
      progress: 'none',
      seed: 20_261_208,
      jsonFile,
      htmlFile,
      roomLogFile,
    });

    // Assess: every invariant held, everyone admitted.
    expect(report.invariants.results.filter((r) => !r.ok)).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.run.stopReason).toBe('complete');
    expect(report.counts.admitted).toBe(300);
    expect(report.counts.lost + report.counts.unjoined + report.counts.waitingAtStop).toBe(0);
    expect(report.counts.churnPlanned).toBe(30);

    // The rehearsal section, filled and consistent.
    const r = report.rehearsal;
    if (!r) throw new Error('no rehearsal section');
    expect(logFile).toBe(roomLogFile);
    expect(r.room).toMatchObject({ runtime: 'start:aws-local', logFile: roomLogFile });
    expect(r.room.startupSeconds).toBeGreaterThan(0);
    expect(r.faultsOn).toContain('cold-start=');
    expect(r.faultsOn).toContain('clock-skew=');
    expect(r.crowd).toEqual({ users: 300, burst: 150, rampSeconds: 3, churn: 0.1 });
    expect(r.joins.sent).toBeGreaterThanOrEqual(300);
    expect(r.joins.gaveUp).toBe(0);
    expect(r.timeToJoinedMs.count).toBe(300);
    expect(r.burstTimeToJoinedMs.count).toBe(150);
    expect(r.timeToJoinedMs.p50).toBeGreaterThan(0);
    expect(r.timeToFirstPositionMs.count).toBeLessThanOrEqual(300);
    expect(r.admissions.configuredPerMinute).toBe(6000);
    expect(r.admissions.roomPerMinute).toBe(6000);
    expect(r.admissions.admitted).toBe(300);
    expect(r.admissions.observedPerMinute).toBeGreaterThan(0);
    // Every position heard is judged (or could not be: the visitor left, the run ended).
    expect(r.promises.kept + r.promises.broken + r.promises.unjudged).toBe(r.promises.positions);
    expect(r.promises.unjudgedLeftOnPurpose + r.promises.unjudgedRunEnded).toBe(
      r.promises.unjudged,
    );
    // The room says nextUpdateSeconds with every position.
    expect(r.promises.withoutPromise).toBe(0);
    expect(r.awsErrors).not.toBeNull();
    // A cold start strikes at least once: every function starts cold.
    const struck = Object.values(r.awsErrors?.faultsStruck ?? {}).reduce((a, b) => a + b, 0);
    expect(struck).toBeGreaterThan(0);
    expect(r.invariants).toEqual({ held: 5, of: 5, broken: [] });

    // In the JSON and the HTML too.
    const json = JSON.parse(await readFile(jsonFile, 'utf8')) as SimulationReport;
    expect(json.rehearsal?.promises).toEqual(r.promises);
    expect(json.config.burst).toBe(150);
    const html = await readFile(htmlFile, 'utf8');
    expect(html).toContain('<h2>Rehearsal</h2>');

    // The room is gone, and its output went to the log.
    expect(await answers(r.room.wsUrl)).toBe(false);
    expect(await readFile(roomLogFile, 'utf8')).toContain('Waiting room ready');
  }, 420_000);
});
