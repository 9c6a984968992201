/**
 * The AWS build (`start:aws-local`) with SSM's, SQS's and API Gateway's limits switched on at
 * figures two cores can reach (`WR_AWS_FAULTS`), played by the load simulator: the limits strike,
 * the room and the visitors ride them out, and every invariant holds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runSimulation } from '../../../tools/simulate/run.ts';
import { type RuntimeRoom, startRuntimeRoom } from '../../helpers/local-room.ts';

let room: RuntimeRoom | undefined;

afterEach(async () => {
  await room?.close();
  room = undefined;
});

describe("the AWS build under SSM's, SQS's and API Gateway's limits", () => {
  it('admits 300 visitors with churn through throttled SSM, SQS and API Gateway, every invariant holding', async () => {
    // Prepare: the limits scaled down to what 300 visitors meet. API Gateway: 40 new
    // connections and 150 requests a second. SSM: 2 Get calls a second (the functions make
    // about one a second, the processor's config, and one per new container). SQS: 5 requests
    // a second per group and per queue (40 connections a second bring at most 40 arrivals, four
    // receives and four deletes of ten).
    room = await startRuntimeRoom('aws-local', {
      WR_AWS_FAULTS: 'ssm-rate=1,sqs-rate=5,apigw-rate=100,apigw-connections=40',
      WR_ADMIT_PER_MINUTE: '6000',
    });

    // Act: half of them at once, a flash crowd, the rest over five seconds.
    const { report, exitCode } = await runSimulation({
      url: room.wsUrl,
      users: 300,
      burst: 150,
      rampSeconds: 5,
      churn: 0.1,
      // Under a minute alone; the rest is for a machine the whole suite shares.
      durationSeconds: 360,
      progress: 'none',
      seed: 20_261_204,
    });
    const struck = (await room.usage?.())?.faults?.struck ?? {};

    // Assess
    expect(report.invariants.results.filter((r) => !r.ok)).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.counts.admitted).toBe(300);
    expect(struck['apigateway.connection-throttled']).toBeGreaterThan(0);
    expect(struck['apigateway.throttled']).toBeGreaterThan(0);
    expect(struck['ssm.throttled']).toBeGreaterThan(0);
    expect(struck['sqs.throttled']).toBeGreaterThan(0);
    console.info('faults struck:', JSON.stringify(struck));
  }, 450_000);
});
