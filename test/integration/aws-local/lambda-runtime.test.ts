/**
 * The Lambda runtime of `start:aws-local`: a function's container in its own process, an
 * invocation past the timeout fails and its container is killed (as on Lambda), the next one
 * starts cold, and nothing counted is lost on the way.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type LambdaFunction,
  startLambdaFunction,
} from '../../../local/aws-local/lambda-runtime.ts';

const ENTRY = fileURLToPath(new URL('../../fixtures/sleepy-handler.ts', import.meta.url));
let fn: LambdaFunction | undefined;

afterEach(async () => {
  await fn?.close();
  fn = undefined;
});

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
});
