/**
 * Runs the real Lambda entry points the way Lambda does, for `npm run start:aws-local`: each
 * function in its own process ({@link ./lambda-host.ts}) with the environment the CDK app sets,
 * invoked with an event and a timeout, every invocation counted with its duration.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HostReply, HostRequest } from './lambda-host.ts';
import type { LambdaUsage, SdkUsage } from './usage.ts';

const HOST = fileURLToPath(new URL('./lambda-host.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface LambdaFunctionSpec {
  name: string;
  /** Absolute path of the entry point (a `functions/lambda/*.ts` file exporting `handler`). */
  entry: string;
  environment: Record<string, string>;
  memoryMb: number;
  timeoutMs: number;
}

/** An invocation failed: the handler threw, timed out, or its container died. */
export class InvocationError extends Error {
  constructor(functionName: string, reason: string) {
    super(`${functionName}: ${reason}`);
    this.name = 'InvocationError';
  }
}

export interface LambdaFunction {
  readonly name: string;
  invoke(event: unknown): Promise<unknown>;
  /** What the function's SDK clients have called so far. */
  sdkUsage(): Promise<SdkUsage>;
  /** Invocations so far; the time of those still running is counted up to now. */
  usage(): LambdaUsage;
  /**
   * Sums of the CloudWatch metrics the function published (EMF lines on its stdout, which
   * Lambda would hand to CloudWatch): `ticks`, `admitted`, `joins`, ...
   */
  readonly metrics: Record<string, number>;
  close(): Promise<void>;
}

/** Starts the function's container and resolves once its entry point has loaded. */
export async function startLambdaFunction(spec: LambdaFunctionSpec): Promise<LambdaFunction> {
  const child: ChildProcess = fork(HOST, [spec.entry, spec.name, String(spec.memoryMb)], {
    execArgv: ['--import', TSX],
    env: spec.environment,
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const metrics: Record<string, number> = {};
  if (child.stdout) {
    createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on(
      'line',
      (line) => {
        if (!addEmfMetrics(line, metrics)) process.stdout.write(`${line}\n`);
      },
    );
  }
  const usage: LambdaUsage = { invocations: 0, durationMs: 0, gbSeconds: 0, errors: 0 };
  const gbSeconds = (ms: number) => (Math.ceil(ms) / 1000) * (spec.memoryMb / 1024);
  /** Start times of the invocations still running. */
  const running = new Map<number, number>();
  const pending = new Map<number, (reply: HostReply) => void>();
  let nextId = 0;
  let exited: string | undefined;

  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new InvocationError(spec.name, `container exited (${code}) before it was ready`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.once('message', (message: HostReply) => {
      child.off('exit', onExit);
      if (message.type === 'ready') resolve();
      else reject(new InvocationError(spec.name, 'container did not start'));
    });
  });
  child.on('message', (reply: HostReply) => {
    if (reply.type === 'ready') return;
    const settle = pending.get(reply.id);
    pending.delete(reply.id);
    settle?.(reply);
  });
  child.on('exit', (code, signal) => {
    exited = `container exited (${signal ?? code})`;
    for (const settle of pending.values()) {
      settle({ type: 'result', id: -1, ok: false, error: exited, durationMs: 0 });
    }
    pending.clear();
  });

  function request(message: HostRequest): Promise<HostReply> {
    if (exited) return Promise.reject(new InvocationError(spec.name, exited));
    return new Promise((resolve) => {
      pending.set(message.id, resolve);
      child.send(message);
    });
  }

  return {
    name: spec.name,
    usage() {
      const now = performance.now();
      const extra = [...running.values()].map((started) => now - started);
      return {
        ...usage,
        durationMs: usage.durationMs + extra.reduce((a, b) => a + b, 0),
        gbSeconds: usage.gbSeconds + extra.reduce((a, ms) => a + gbSeconds(ms), 0),
      };
    },
    metrics,
    async invoke(event) {
      const id = nextId++;
      running.set(id, performance.now());
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<HostReply>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              type: 'result',
              id,
              ok: false,
              error: `Task timed out after ${(spec.timeoutMs / 1000).toFixed(2)} seconds`,
              durationMs: spec.timeoutMs,
            }),
          spec.timeoutMs,
        );
      });
      const reply = await Promise.race([
        request({ type: 'invoke', id, event, timeoutMs: spec.timeoutMs }),
        timedOut,
      ]);
      clearTimeout(timer);
      running.delete(id);
      if (reply.type !== 'result') throw new InvocationError(spec.name, 'unexpected reply');
      usage.invocations += 1;
      usage.durationMs += reply.durationMs;
      usage.gbSeconds += gbSeconds(reply.durationMs);
      if (!reply.ok) {
        usage.errors += 1;
        throw new InvocationError(spec.name, reply.error);
      }
      return reply.value;
    },
    async sdkUsage() {
      const reply = await request({ type: 'usage', id: nextId++ });
      if (reply.type !== 'usage') {
        throw new InvocationError(
          spec.name,
          reply.type === 'result' && !reply.ok ? reply.error : 'unexpected reply',
        );
      }
      return reply.usage;
    },
    async close() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/** Adds the metrics of an EMF line into `sums`; false if the line is not EMF (a log line). */
function addEmfMetrics(line: string, sums: Record<string, number>): boolean {
  if (!line.includes('"CloudWatchMetrics"')) return false;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return false;
  }
  const meta = record._aws as
    | { CloudWatchMetrics?: { Metrics?: { Name: string }[] }[] }
    | undefined;
  if (!meta?.CloudWatchMetrics) return false;
  for (const directive of meta.CloudWatchMetrics) {
    for (const { Name } of directive.Metrics ?? []) {
      const values = [record[Name]].flat().filter((x): x is number => typeof x === 'number');
      sums[Name] = (sums[Name] ?? 0) + values.reduce((a, b) => a + b, 0);
    }
  }
  return true;
}
