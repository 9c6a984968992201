/**
 * Parameter Store's throughput quota on the SSM stand-in (`WR_AWS_FAULTS=ssm-rate`), through the
 * real SDK client and the room's SSM readers: over the rate the answer SSM gives, within it the
 * same answers as without, and the functions' retries getting through.
 */
import '../../helpers/aws-sdk-env.ts';
import {
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSsmConfigSource,
  createSsmConfigWriter,
} from '../../../functions/adapters/aws/ssm-config.ts';
import { loadSignerKeysFromSsm } from '../../../functions/adapters/aws/ssm-signing-key.ts';
import { newKeyRing, serializeKeyRing } from '../../../functions/core/key-ring.ts';
import { generateSigningKey } from '../../../functions/core/tokens.ts';
import { createReloadingKeySource, KEY_RELOAD_MS } from '../../../functions/lambda/lazy-signer.ts';
import type { FaultCounters } from '../../../local/aws-local/faults.ts';
import { type SsmStandIn, startSsmStandIn } from '../../../local/aws-local/ssm-stand-in.ts';
import { ManualClock } from '../../helpers/room-harness.ts';

const PREFIX = '/waiting-room/config/';
const KEY_PARAMETER = '/waiting-room/signing-key';

let standIn: SsmStandIn | undefined;
const clients: SSMClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await standIn?.close();
  standIn = undefined;
});

function clientOf(endpoint: string, maxAttempts = 1): SSMClient {
  const client = new SSMClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts,
  });
  clients.push(client);
  return client;
}

/** A stand-in at `getRate` Get calls a second on a clock that moves only when told. */
async function throttledStandIn(getRate: number) {
  let now = 0;
  const counters: FaultCounters = {};
  standIn = await startSsmStandIn({ getRate, counters, now: () => now });
  const operator = clientOf(standIn.operatorUrl);
  await operator.send(new PutParameterCommand({ Name: '/room/a', Value: '1', Type: 'String' }));
  await operator.send(new PutParameterCommand({ Name: '/room/b', Value: '2', Type: 'String' }));
  return {
    client: clientOf(standIn.url),
    operator,
    counters,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const getA = new GetParameterCommand({ Name: '/room/a' });

describe('SSM throttling as Parameter Store does it', () => {
  it('answers a Get call over the rate with 400 ThrottlingException "Rate exceeded", and counts it', async () => {
    // Prepare
    const { client, counters } = await throttledStandIn(2);
    await client.send(getA);
    await client.send(getA);

    // Act
    const error = await client.send(getA).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      name: 'ThrottlingException',
      message: 'Rate exceeded',
      $metadata: { httpStatusCode: 400 },
    });
    expect(counters).toEqual({ 'ssm.throttled': 1 });
  });

  it('shares one rate among GetParameter, GetParameters and GetParametersByPath', async () => {
    // Prepare
    const { client } = await throttledStandIn(3);
    await client.send(getA);
    await client.send(new GetParametersCommand({ Names: ['/room/a', '/room/b'] }));
    await client.send(new GetParametersByPathCommand({ Path: '/room' }));

    // Act
    const outcomes = await Promise.allSettled([
      client.send(getA),
      client.send(new GetParametersCommand({ Names: ['/room/a'] })),
      client.send(new GetParametersByPathCommand({ Path: '/room' })),
    ]);

    // Assess
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });

  it('takes calls again as the rate refills the bucket, one second of the rate at most', async () => {
    // Prepare
    const { client, advance } = await throttledStandIn(2);
    await client.send(getA);
    await client.send(getA);

    // Act
    advance(500);
    const afterHalfASecond = await Promise.allSettled([client.send(getA), client.send(getA)]);
    advance(10_000);
    const afterTenSeconds = await Promise.allSettled([
      client.send(getA),
      client.send(getA),
      client.send(getA),
    ]);

    // Assess
    expect(afterHalfASecond.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect(afterTenSeconds.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
  });

  it('answers within the rate exactly as without it, and never limits writes or the operator', async () => {
    // Prepare
    const { client, operator, counters } = await throttledStandIn(1);

    // Act
    const throttledAnswer = await client.send(getA);
    const operatorAnswer = await operator.send(getA);
    const writes = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) =>
        client.send(new PutParameterCommand({ Name: `/room/w${i}`, Value: 'x', Type: 'String' })),
      ),
    );
    const operatorReads = await Promise.allSettled(
      Array.from({ length: 5 }, () => operator.send(getA)),
    );

    // Assess
    expect(throttledAnswer.Parameter).toEqual(operatorAnswer.Parameter);
    expect(writes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(operatorReads.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(counters).toEqual({});
  });
});

describe('the room under SSM throttling', () => {
  it("gets the functions' config and key ring reads through with the SDK's retries", async () => {
    // Prepare: a container burst at 3 Get calls a second, on the real clock, each reader with
    // the functions' client (standard retries, 5 attempts).
    const counters: FaultCounters = {};
    standIn = await startSsmStandIn({ getRate: 3, counters });
    const operator = clientOf(standIn.operatorUrl);
    await createSsmConfigWriter({ client: operator, prefix: PREFIX }).write({
      enabled: true,
      admitPerMinute: 120,
    });
    const seed = await generateSigningKey();
    const ring = newKeyRing(seed.pkcs8, (await generateSigningKey()).pkcs8, 1_700_000_000);
    await operator.send(
      new PutParameterCommand({
        Name: KEY_PARAMETER,
        Value: serializeKeyRing(ring),
        Type: 'SecureString',
      }),
    );
    const errors: unknown[] = [];

    // Act
    const configs = Array.from({ length: 4 }, () =>
      createSsmConfigSource({
        client: clientOf(standIn?.url as string, 5),
        prefix: PREFIX,
        onError: (error) => errors.push(error),
      }).get(),
    );
    const keys = Array.from({ length: 4 }, () =>
      loadSignerKeysFromSsm({
        client: clientOf(standIn?.url as string, 5),
        name: KEY_PARAMETER,
        keepSeconds: 3600,
      }),
    );
    const [read, loaded] = await Promise.all([Promise.all(configs), Promise.all(keys)]);

    // Assess
    expect(counters['ssm.throttled']).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(read.map((c) => [c.enabled, c.admitPerMinute])).toEqual(
      Array.from({ length: 4 }, () => [true, 120]),
    );
    expect(loaded.map((k) => k.current.kid)).toEqual(
      Array.from({ length: 4 }, () => loaded[0]?.current.kid),
    );
  }, 60_000);
});

describe('a reload while SSM is throttled', () => {
  /**
   * A stand-in that takes one Get call and then none (its clock never moves): every later read
   * is throttled until the functions' client gives up, seconds later.
   */
  async function oneCallThenThrottled() {
    const counters: FaultCounters = {};
    standIn = await startSsmStandIn({ getRate: 1, counters, now: () => 0 });
    const operator = clientOf(standIn.operatorUrl);
    await createSsmConfigWriter({ client: operator, prefix: PREFIX }).write({
      enabled: true,
      admitPerMinute: 60,
    });
    const ring = newKeyRing(
      (await generateSigningKey()).pkcs8,
      (await generateSigningKey()).pkcs8,
      1_700_000_000,
    );
    await operator.send(
      new PutParameterCommand({
        Name: KEY_PARAMETER,
        Value: serializeKeyRing(ring),
        Type: 'SecureString',
      }),
    );
    return { client: clientOf(standIn.url, 5), counters };
  }

  it('holds up no config read: the processor goes on with the last answer while SSM retries', async () => {
    // Prepare
    const { client, counters } = await oneCallThenThrottled();
    const errors: unknown[] = [];
    const clock = new ManualClock();
    const source = createSsmConfigSource({
      client,
      prefix: PREFIX,
      ttlMs: 1000,
      clock,
      onError: (error) => errors.push(error),
    });
    await source.get();

    // Act: the next tick's read is due; SSM throttles it and the SDK backs off for seconds.
    clock.advance(1000);
    const during = await source.get();
    const failuresSoFar = errors.length;
    await until(() => errors.length > 0);

    // Assess: answered with the last good config before the read had even failed.
    expect(during.admitPerMinute).toBe(60);
    expect(failuresSoFar).toBe(0);
    expect(errors[0]).toMatchObject({ name: 'ThrottlingException' });
    expect(counters['ssm.throttled']).toBeGreaterThan(1);
  }, 60_000);

  it('holds up no signature: a due key ring reload goes on behind the keys there are', async () => {
    // Prepare
    const { client } = await oneCallThenThrottled();
    const clock = new ManualClock();
    const reloadErrors: unknown[] = [];
    const keys = createReloadingKeySource({
      load: () => loadSignerKeysFromSsm({ client, name: KEY_PARAMETER, keepSeconds: 3600 }),
      clock,
      onReloadError: (error) => reloadErrors.push(error),
    });
    const first = await keys.get();

    // Act
    clock.advance(KEY_RELOAD_MS);
    const during = await Promise.all([keys.get(), keys.get(), keys.get()]);
    const failuresSoFar = reloadErrors.length;
    await until(() => reloadErrors.length > 0);

    // Assess
    expect(during.map((k) => k.current.kid)).toEqual([
      first.current.kid,
      first.current.kid,
      first.current.kid,
    ]);
    expect(failuresSoFar).toBe(0);
    expect(reloadErrors[0]).toMatchObject({ name: 'ThrottlingException' });
  }, 60_000);
});

const until = async (check: () => boolean, timeoutMs = 45_000) => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};
