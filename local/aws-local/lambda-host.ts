/**
 * One Lambda function's container, as a child process of `npm run start:aws-local`: it imports
 * the function's real entry point (`functions/lambda/*.ts`) with the environment the CDK app
 * would give it, and runs the invocations its parent sends over IPC with a Lambda `Context`
 * (request id, remaining time from the function's timeout). Invocations run concurrently, as
 * they would on several warm containers of one function.
 *
 * Before the entry point loads, the AWS SDK clients it will use (`functions/adapters/aws/
 * clients.ts`) get a counting middleware, so the parent can ask what the function has called.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import {
  defaultDocumentClient,
  defaultSqsClient,
  defaultSsmClient,
} from '../../functions/adapters/aws/clients.ts';
import { countCalls, emptySdkUsage, type SdkUsage } from './usage.ts';

export type HostRequest =
  | { type: 'invoke'; id: number; event: unknown; timeoutMs: number }
  | { type: 'usage'; id: number };

/** Every result carries the container's SDK usage so far, so a killed one loses none of it. */
export type HostReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; ok: true; value: unknown; durationMs: number; usage?: SdkUsage }
  | {
      type: 'result';
      id: number;
      ok: false;
      error: string;
      durationMs: number;
      usage?: SdkUsage;
      /** The container is gone (set by the parent, never by the host). */
      exited?: boolean;
    }
  | { type: 'usage'; id: number; usage: SdkUsage };

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const [entry, functionName = 'function', memoryMb = '512', clockSkewMs = '0'] =
  process.argv.slice(2);

/**
 * Sets this container's clock off by `skewMs` (`clock-skew` in `WR_AWS_FAULTS`): `Date.now()`
 * and `new Date()` read the skewed time, as code on a host whose clock is off reads it. Timers
 * and `performance.now()` measure durations and stay as they are.
 */
function skewClock(skewMs: number): void {
  if (skewMs === 0) return;
  const RealDate = Date;
  class SkewedDate extends RealDate {
    constructor(...args: ConstructorParameters<DateConstructor> | []) {
      if (args.length === 0) super(RealDate.now() + skewMs);
      else super(...(args as ConstructorParameters<DateConstructor>));
    }
    static override now(): number {
      return RealDate.now() + skewMs;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}

async function main(): Promise<void> {
  if (!entry || !process.send)
    throw new Error('lambda-host: run me with fork(entry, name, memory, clockSkewMs)');
  skewClock(Number(clockSkewMs));
  const usage = emptySdkUsage();
  countCalls(defaultDocumentClient(), 'dynamodb', usage);
  countCalls(defaultSsmClient(), 'ssm', usage);
  countCalls(defaultSqsClient(), 'sqs', usage);
  const { handler } = (await import(pathToFileURL(entry).href)) as { handler: Handler };
  const reply = (message: HostReply) => process.send?.(message);

  process.on('message', (request: HostRequest) => {
    if (request.type === 'usage') {
      reply({ type: 'usage', id: request.id, usage });
      return;
    }
    const started = performance.now();
    const deadline = Date.now() + request.timeoutMs;
    const requestId = randomUUID();
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
      memoryLimitInMB: memoryMb,
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => {},
      fail: () => {},
      succeed: () => {},
    } satisfies Context;
    handler(request.event, context).then(
      (value) =>
        reply({
          type: 'result',
          id: request.id,
          ok: true,
          value: value ?? null,
          durationMs: performance.now() - started,
          usage,
        }),
      (error: unknown) =>
        reply({
          type: 'result',
          id: request.id,
          ok: false,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          durationMs: performance.now() - started,
          usage,
        }),
    );
  });
  // The parent going away ends the container.
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `lambda-host ${functionName}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
