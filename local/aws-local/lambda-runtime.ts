/**
 * Runs the real Lambda entry points the way Lambda does, for `npm run start:aws-local`: each
 * function in its own process ({@link ./lambda-host.ts}) with the environment the CDK app sets,
 * invoked with an event and a timeout, every invocation counted with its duration.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HostReply, HostRequest } from './lambda-host.ts';
import { addSdkUsage, emptySdkUsage, type LambdaUsage, type SdkUsage } from './usage.ts';

const HOST = fileURLToPath(new URL('./lambda-host.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface LambdaFunctionSpec {
  name: string;
  /** Absolute path of the entry point (a `functions/lambda/*.ts` file exporting `handler`). */
  entry: string;
  environment: Record<string, string>;
  memoryMb: number;
  timeoutMs: number;
  /**
   * One invocation per container at a time, as Lambda runs them: an invocation that finds every
   * container busy starts a new one (a cold start). For the processor, whose containers keep
   * state between invocations (its line, its lease owner). The visitor-facing functions keep
   * none, so one process serves all their invocations at once.
   */
  exclusiveContainers?: boolean;
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

/** How long a container may take to load its entry point. */
const READY_TIMEOUT_MS = 60_000;

/** One container: a host process, its requests in flight, and what it has counted so far. */
interface Container {
  request(message: HostRequest): Promise<HostReply>;
  /** The SDK usage it last reported (sent with every result, so a killed one loses nothing). */
  lastUsage: SdkUsage;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Starts the function's first container and resolves once its entry point has loaded. An
 * invocation that runs past the function's timeout fails with "Task timed out" and its container
 * is killed, as Lambda does; the next invocation gets a fresh one (a cold start).
 */
export async function startLambdaFunction(spec: LambdaFunctionSpec): Promise<LambdaFunction> {
  const metrics: Record<string, number> = {};
  const usage: LambdaUsage = { invocations: 0, durationMs: 0, gbSeconds: 0, errors: 0 };
  const gbSeconds = (ms: number) => (Math.ceil(ms) / 1000) * (spec.memoryMb / 1024);
  /** Start times of the invocations still running. */
  const running = new Map<number, number>();
  /** SDK usage of the containers killed so far. */
  let retiredUsage = emptySdkUsage();
  let nextId = 0;
  let closed = false;
  /** Every container alive (or starting). */
  const live = new Set<Promise<Container>>();
  /** Exclusive containers waiting for an invocation. */
  const idle: Promise<Container>[] = [];
  const launch = () => {
    const started = startContainer(spec, metrics);
    live.add(started);
    // A failed start is reported by the invocation that waits for it.
    started.catch(() => live.delete(started));
    return started;
  };
  /** The container every invocation shares (unless exclusive). */
  let current: Promise<Container> = launch();
  await current;
  if (spec.exclusiveContainers) idle.push(current);

  /** Invocations running in each container. */
  const busy = new Map<Promise<Container>, number>();
  const take = (): Promise<Container> => {
    if (!spec.exclusiveContainers) return current;
    return idle.pop() ?? launch();
  };
  /** Containers kept warm for the next invocations; Lambda reclaims the rest in time. */
  const MAX_IDLE = 2;
  const giveBack = (container: Promise<Container>) => {
    if (!spec.exclusiveContainers || !live.has(container) || closed) return;
    if (idle.length < MAX_IDLE) {
      idle.push(container);
      return;
    }
    live.delete(container);
    container.then(
      (host) => {
        retiredUsage = addSdkUsage(retiredUsage, host.lastUsage);
        return host.kill('SIGTERM');
      },
      () => {},
    );
  };

  /** Drops a container that died (a crash, or a kill after a timeout); the next one starts fresh. */
  async function retire(dead: Container, started: Promise<Container>): Promise<void> {
    if (!live.has(started) || closed) return;
    live.delete(started);
    retiredUsage = addSdkUsage(retiredUsage, dead.lastUsage);
    if (!spec.exclusiveContainers && started === current) current = launch();
    await dead.kill('SIGKILL');
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
      const started = take();
      busy.set(started, (busy.get(started) ?? 0) + 1);
      try {
        const host = await started.catch((error: unknown) => {
          // A container that could not start fails its invocation, as a failed init does.
          usage.invocations += 1;
          usage.errors += 1;
          throw error;
        });
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), spec.timeoutMs);
        });
        const reply = await Promise.race([
          host.request({ type: 'invoke', id, event, timeoutMs: spec.timeoutMs }),
          timedOut,
        ]);
        usage.invocations += 1;
        if (reply === 'timeout') {
          usage.durationMs += spec.timeoutMs;
          usage.gbSeconds += gbSeconds(spec.timeoutMs);
          usage.errors += 1;
          // Lambda kills the container of a timed-out invocation, and with it only that one
          // invocation. The visitor-facing functions share one process here: killing it would
          // fail every frame in flight beside the slow one, a cascade Lambda never has, so a
          // shared container is replaced only when the slow invocation is alone in it.
          if (spec.exclusiveContainers || busy.get(started) === 1) await retire(host, started);
          throw new InvocationError(
            spec.name,
            `Task timed out after ${(spec.timeoutMs / 1000).toFixed(2)} seconds`,
          );
        }
        if (reply.type !== 'result') throw new InvocationError(spec.name, 'unexpected reply');
        usage.durationMs += reply.durationMs;
        usage.gbSeconds += gbSeconds(reply.durationMs);
        if (!reply.ok) {
          usage.errors += 1;
          if (reply.exited) await retire(host, started);
          throw new InvocationError(spec.name, reply.error);
        }
        return reply.value;
      } finally {
        clearTimeout(timer);
        running.delete(id);
        const left = (busy.get(started) ?? 1) - 1;
        if (left > 0) busy.set(started, left);
        else busy.delete(started);
        giveBack(started);
      }
    },
    async sdkUsage() {
      let total = retiredUsage;
      for (const started of [...live]) {
        const host = await started.catch(() => null);
        if (!host) continue;
        const reply = await host.request({ type: 'usage', id: nextId++ });
        // A container that died since reported its usage with its last result.
        total = addSdkUsage(total, reply.type === 'usage' ? reply.usage : host.lastUsage);
      }
      return total;
    },
    async close() {
      closed = true;
      await Promise.all(
        [...live].map(async (started) => (await started.catch(() => null))?.kill('SIGTERM')),
      );
    },
  };
}

/** Forks a host process for the function and waits until its entry point has loaded. */
async function startContainer(
  spec: LambdaFunctionSpec,
  metrics: Record<string, number>,
): Promise<Container> {
  const child: ChildProcess = fork(HOST, [spec.entry, spec.name, String(spec.memoryMb)], {
    execArgv: ['--import', TSX],
    env: spec.environment,
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  // IPC errors (a channel closing under a send) end up in the request's own callback.
  child.on('error', () => {});
  if (child.stdout) {
    createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on(
      'line',
      (line) => {
        if (!addEmfMetrics(line, metrics)) process.stdout.write(`${line}\n`);
      },
    );
  }
  const pending = new Map<number, (reply: HostReply) => void>();
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new InvocationError(spec.name, `container not ready within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new InvocationError(spec.name, `container exited (${code}) before it was ready`));
    };
    child.once('exit', onExit);
    child.once('message', (message: HostReply) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      if (message.type === 'ready') resolve();
      else reject(new InvocationError(spec.name, 'container did not start'));
    });
  });

  const host: Container = {
    lastUsage: emptySdkUsage(),
    request(message) {
      if (exited) {
        return Promise.resolve(exitedReply(message.id, exited));
      }
      return new Promise((resolve) => {
        pending.set(message.id, resolve);
        child.send(message, (error) => {
          if (!error) return;
          pending.delete(message.id);
          resolve(exitedReply(message.id, `container unreachable (${error.message})`));
        });
      });
    },
    async kill(signal) {
      if (!exited) child.kill(signal);
      await gone;
    },
  };
  child.on('message', (reply: HostReply) => {
    if (reply.type === 'ready') return;
    if (reply.type === 'result' && reply.usage) host.lastUsage = reply.usage;
    if (reply.type === 'usage') host.lastUsage = reply.usage;
    const settle = pending.get(reply.id);
    pending.delete(reply.id);
    settle?.(reply);
  });
  child.on('exit', (code, signal) => {
    exited = `container exited (${signal ?? code})`;
    for (const [id, settle] of pending) settle(exitedReply(id, exited));
    pending.clear();
  });
  return host;
}

function exitedReply(id: number, error: string): HostReply {
  return { type: 'result', id, ok: false, error, durationMs: 0, exited: true };
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
