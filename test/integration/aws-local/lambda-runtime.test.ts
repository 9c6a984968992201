/**
 * The Lambda runtime of `start:aws-local`: a function's container in its own process, one
 * invocation at a time each, an invocation past the timeout fails and its container alone is
 * killed (as on Lambda), the next one starts cold, invocations beyond the machine's containers
 * wait their turn, the account's concurrency throttles, and nothing counted is lost on the way.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { FaultCounters } from '../../../local/aws-local/faults.ts';
import {
  AccountConcurrency,
  BusyError,
  type LambdaFunction,
  type LambdaFunctionSpec,
  startLambdaFunction,
  ThrottledError,
} from '../../../local/aws-local/lambda-runtime.ts';

const ENTRY = fileURLToPath(new URL('../../fixtures/sleepy-handler.ts', import.meta.url));
let fn: LambdaFunction | undefined;

afterEach(async () => {
  await fn?.close();
  fn = undefined;
});

type Answer = { pid: number; now: number };

function sleepy(spec: Partial<LambdaFunctionSpec> = {}): Promise<LambdaFunction> {
  return startLambdaFunction({
    name: 'sleepy',
    entry: ENTRY,
    environment: { PATH: process.env.PATH ?? '' },
    memoryMb: 512,
    timeoutMs: 10_000,
    ...spec,
  });
}

describe('a Lambda function on one machine', () => {
  it('fails an invocation past its timeout, kills that container and answers the next from a fresh one', async () => {
    // Prepare
    fn = await startLambdaFunction({
      name: 'sleepy',
      entry: ENTRY,
      environment: { PATH: process.env.PATH ?? '' },
      memoryMb: 512,
      timeoutMs: 300,
    });
    const first = (await fn.invoke({ sleepMs: 0 })) as { pid: number };

    // Act
    const late = await fn.invoke({ sleepMs: 5000 }).catch((error: Error) => error);
    const next = (await fn.invoke({ sleepMs: 0 })) as { pid: number };

    // Assess
    expect((late as Error).message).toMatch(/sleepy: Task timed out after 0.30 seconds/);
    expect(() => process.kill(first.pid, 0)).toThrow();
    expect(next.pid).not.toBe(first.pid);
    expect(fn.usage()).toMatchObject({ invocations: 3, errors: 1 });
    expect(fn.usage().gbSeconds).toBeGreaterThanOrEqual(0.3 * 0.5);
  });

  it('lets invocations beyond its containers wait their turn, each timed from when it runs', async () => {
    // Prepare: one container, a timeout longer than one invocation but shorter than three.
    fn = await sleepy({ maxContainers: 1, timeoutMs: 1500 });

    // Act: three at once.
    const answers = (await Promise.all(
      [0, 1, 2].map(() => fn?.invoke({ sleepMs: 600 })),
    )) as Answer[];

    // Assess: all answered, by the one container, none timed out.
    expect(new Set(answers.map((a) => a.pid)).size).toBe(1);
    expect(fn.usage()).toMatchObject({ invocations: 3, errors: 0 });
  });

  it('answers an urgent invocation before those that waited longer without it', async () => {
    // Prepare: the one container busy, two invocations waiting.
    fn = await sleepy({ maxContainers: 1 });
    const order: string[] = [];
    const track = (name: string, done: Promise<unknown>) => done.then(() => order.push(name));
    const busy = track('busy', fn.invoke({ sleepMs: 1000 }));
    const joins = [track('join-1', fn.invoke({})), track('join-2', fn.invoke({}))];

    // Act
    const status = track('status', fn.invoke({}, 'sync', { urgent: true }));
    await Promise.all([busy, ...joins, status]);

    // Assess
    expect(order).toEqual(['busy', 'status', 'join-1', 'join-2']);
  });

  it('refuses a synchronous invocation at once when its containers are too far behind, and queues an asynchronous one', async () => {
    // Prepare: one container, busy; nothing may wait.
    fn = await sleepy({ maxContainers: 1, shedAfterMs: 0 });
    const busy = fn.invoke({ sleepMs: 1000 });
    await new Promise((resolve) => setImmediate(resolve));

    // Act
    const refused = await fn.invoke({}).catch((error: Error) => error);
    const queued = fn.invoke({}, 'async');
    await busy;

    // Assess
    expect(refused).toBeInstanceOf(BusyError);
    expect(((await queued) as Answer).pid).toBeGreaterThan(0);
    expect(fn.usage()).toMatchObject({ invocations: 2, shed: 1 });
  });

  it('kills only the container of the invocation that ran past its timeout', async () => {
    // Prepare
    fn = await sleepy({ maxContainers: 2, timeoutMs: 2000 });

    // Act: a slow invocation beside a quick one.
    const [slow, quick] = await Promise.all([
      fn.invoke({ sleepMs: 30_000 }).catch((error: Error) => error),
      fn.invoke({ sleepMs: 100 }),
    ]);

    // Assess
    expect((slow as Error).message).toMatch(/Task timed out/);
    expect(() => process.kill((quick as Answer).pid, 0)).not.toThrow();
    expect(fn.usage()).toMatchObject({ invocations: 2, errors: 1 });
  });

  it('throttles a synchronous invocation beyond the account concurrency, and runs an asynchronous one later', async () => {
    // Prepare: an account that runs one invocation at once.
    const counters: FaultCounters = {};
    fn = await sleepy({ maxContainers: 2, concurrency: new AccountConcurrency(1), counters });
    const busy = fn.invoke({ sleepMs: 1500 });
    // Running once the microtasks that hand it its container are done.
    await new Promise((resolve) => setImmediate(resolve));

    // Act
    const refused = await fn.invoke({ sleepMs: 0 }).catch((error: Error) => error);
    const later = fn.invoke({ sleepMs: 0 }, 'async');
    await busy;
    const ran = (await later) as Answer | null;

    // Assess
    expect(refused).toBeInstanceOf(ThrottledError);
    expect((refused as Error).message).toMatch(/TooManyRequestsException/);
    expect(ran?.pid).toBeGreaterThan(0);
    expect(counters['lambda.throttled']).toBe(1);
    expect(counters['lambda.async-throttled']).toBeGreaterThanOrEqual(1);
  });

  it('drops an asynchronous invocation still throttled past its event age', async () => {
    // Prepare
    const counters: FaultCounters = {};
    fn = await sleepy({
      maxContainers: 2,
      concurrency: new AccountConcurrency(1),
      maxEventAgeMs: 1500,
      counters,
    });
    const busy = fn.invoke({ sleepMs: 5000 });
    await new Promise((resolve) => setImmediate(resolve));

    // Act
    const dropped = await fn.invoke({ sleepMs: 0 }, 'async');
    await busy;

    // Assess
    expect(dropped).toBeNull();
    expect(counters['lambda.async-dropped']).toBe(1);
    expect(fn.usage().invocations).toBe(1);
  });

  it("sets each container's clock off by half the skew to all of it, either way", async () => {
    // Prepare: clocks half a minute to a minute off.
    const counters: FaultCounters = {};
    fn = await sleepy({ maxContainers: 2, clockSkewMs: 60_000, counters });

    // Act: two at once, so the second starts a container of its own.
    const answers = (await Promise.all([0, 1].map(() => fn?.invoke({ sleepMs: 500 })))) as Answer[];
    const skews = answers.map((a) => Math.abs(a.now - Date.now()));

    // Assess
    for (const skew of skews) {
      expect(skew).toBeGreaterThan(29_000);
      expect(skew).toBeLessThan(61_000);
    }
    expect(counters['lambda.skewed-containers']).toBeGreaterThanOrEqual(1);
  });

  it('makes the first invocation of a new container wait for its cold start', async () => {
    // Prepare
    const counters: FaultCounters = {};
    fn = await sleepy({ maxContainers: 2, coldStartMs: 2000, counters });
    const warm = fn.invoke({ sleepMs: 3000 });

    // Act: the warm container is busy, so this one starts a container.
    const started = performance.now();
    await fn.invoke({ sleepMs: 0 });
    const took = performance.now() - started;
    await warm;

    // Assess: at least half the cold start (the other half is random).
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(counters['lambda.cold-start']).toBe(1);
  });
});
