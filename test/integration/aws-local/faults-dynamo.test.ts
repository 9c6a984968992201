/**
 * The room through `start:aws-local` with DynamoDB at AWS's limits, scaled down (`WR_AWS_FAULTS`:
 * the `line` index lagging, hot partitions and the table throttled): visitors join, churn and
 * are admitted, and every invariant the simulator checks still holds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runSimulation } from '../../../tools/simulate/run.ts';
import { type RuntimeRoom, startRuntimeRoom } from '../../helpers/local-room.ts';

let room: RuntimeRoom | undefined;

afterEach(async () => {
  await room?.close();
  room = undefined;
});

describe('start:aws-local under the DynamoDB faults', () => {
  it('admits everyone with every invariant holding while the index lags and DynamoDB throttles', async () => {
    // Prepare: the index up to 1.5 s behind; 25 write units a second per partition key and 400
    // for the table (AWS: 1,000 and 4,000), so that the room's own partition (its state, lease
    // and admission notices) is throttled at 20 admissions a second; a processor that hands
    // over every few seconds, each successor reading the line from the lagging index.
    room = await startRuntimeRoom('aws-local', {
      WR_ADMIT_PER_MINUTE: '1200',
      WR_AWS_FAULTS: 'index-lag=1500,dynamo-partition=25,dynamo-table=400',
      WR_AWS_PROCESSOR_TIMEOUT_SECONDS: '15',
    });

    // Act
    const { report, exitCode } = await runSimulation({
      url: room.wsUrl,
      users: 200,
      rampSeconds: 2,
      churn: 0.1,
      // About 30 s alone; four times that when the whole suite shares the two cores.
      durationSeconds: 170,
      progress: 'none',
      seed: 20_261_201,
    });

    // Assess
    expect(report.invariants.results.filter((r) => !r.ok)).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.counts.admitted).toBe(200);
    const struck = report.aws?.usage.faults?.struck ?? {};
    // Throttling strikes every run. The index is read only when a processor takes over, two
    // seconds after the last tick, so how often it shows a write late depends on what was
    // written just before (usually a few items a run; `dynamo-faults.test.ts` pins the lag down).
    expect(struck['dynamodb.partition-throttled'] ?? 0).toBeGreaterThan(0);
    console.info('DynamoDB faults struck:', JSON.stringify(struck));
  }, 240_000);
});
