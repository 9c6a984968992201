/**
 * Runs the real Lambda entry points the way Lambda does, for `npm run start:aws-local`: each
 * function in containers of its own ({@link ./lambda-host.ts}, a process each) with the
 * environment the CDK app sets, every invocation counted with its duration.
 *
 * Concurrency as Lambda has it: a container serves one invocation at a time, and an invocation
 * that finds none free gets a new one (a cold start). A machine cannot hold the thousand
 * containers Lambda would start for a burst, so each function has a ceiling of containers
 * (`maxContainers`): beyond it, invocations wait their turn, in order, and are answered late
 * rather than all at once and too late. The function's timeout runs from the moment an
 * invocation reaches its container, and a timeout kills that container and its one invocation,
 * nothing else. A synchronous invocation that waits longer than API Gateway's integration
 * timeout (29 s) for a container is failed without running: nothing it would have done is
 * half done.
 *
 * With `WR_AWS_FAULTS` (`faults.ts`): `lambda-concurrency` is the account's pool of
 * invocations at once (a synchronous one beyond it is throttled; an asynchronous one waits in
 * Lambda's queue, retried, and is dropped past the function's event age), `cold-start` delays
 * each new container's first invocation, and `clock-skew` sets each container's clock off.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { countFault, type FaultCounters, spread } from './faults.ts';
import type { HostReply, HostRequest } from './lambda-host.ts';
import { addSdkUsage, emptySdkUsage, type LambdaUsage, type SdkUsage } from './usage.ts';

const HOST = fileURLToPath(new URL('./lambda-host.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** API Gateway's integration timeout: a synchronous invocation waits no longer for a container. */
export const INTEGRATION_TIMEOUT_MS = 29_000;

/**
 * The account's concurrency (`lambda-concurrency`): invocations running in a container, across
 * the functions that share the object. Those waiting for one of this machine's few containers do
 * not count: on Lambda they would be running already, and done in a fraction of the time this
 * machine takes, so counting them would throttle a load that AWS serves with a handful of
 * containers. An invocation that arrives while the account is full is throttled.
 */
export class AccountConcurrency {
  inFlight = 0;
  constructor(readonly limit: number) {}
}

export interface LambdaFunctionSpec {
  name: string;
  /** Absolute path of the entry point (a `functions/lambda/*.ts` file exporting `handler`). */
  entry: string;
  environment: Record<string, string>;
  memoryMb: number;
  timeoutMs: number;
  /** Containers this machine runs for the function at once (default 1). */
  maxContainers?: number;
  /** Containers kept warm when idle (default 1): Lambda reclaims the rest in time. */
  warmContainers?: number;
  /** How long an asynchronous invocation may wait before Lambda drops it (its event age). */
  maxEventAgeMs?: number;
  /** The account's concurrency (`lambda-concurrency`), shared by the functions; unset: none. */
  concurrency?: AccountConcurrency;
  /** A new container's first invocation waits this much more (`cold-start`), half at random. */
  coldStartMs?: number;
  /** Each container's clock is off by half of this to all of it, either way (`clock-skew`). */
  clockSkewMs?: number;
  /** Where the faults that strike are counted. */
  counters?: FaultCounters;
  /**
   * A synchronous invocation that would wait longer than this for a container (by the
   * containers' recent pace) is refused at once instead (default: never). A caller that gives
   * up after a while (the page waits 20 s for an answer, 10 s for a socket) then hears "try
   * again" quickly and backs off, instead of queueing work that is answered only after it left:
   * a burst beyond the machine is answered late, not turned into a storm of timeouts and retries.
   */
  shedAfterMs?: number;
}

/** An invocation failed: the handler threw, timed out, or its container died. */
export class InvocationError extends Error {
  constructor(functionName: string, reason: string) {
    super(`${functionName}: ${reason}`);
    this.name = 'InvocationError';
  }
}

/** This machine's containers are too far behind to answer in time: refused at once. */
export class BusyError extends InvocationError {
  constructor(functionName: string, waitMs: number) {
    super(functionName, `this machine's containers are ${Math.round(waitMs / 1000)} s behind`);
    this.name = 'BusyError';
  }
}

/** Lambda refused the invocation: the account's concurrency is used up (`TooManyRequestsException`). */
export class ThrottledError extends InvocationError {
  constructor(functionName: string) {
    super(functionName, 'TooManyRequestsException: Rate Exceeded.');
    this.name = 'ThrottledError';
  }
}

export interface InvokeOptions {
  /**
   * Goes before the invocations waiting without it: a frame that answers from what is stored
   * (a `resume`, a `status`, a `ping`) does not wait behind a burst of joins. On Lambda nothing
   * waits at all; here the machine's containers are few, and this keeps the cheap work as
   * prompt as Lambda would have it.
   */
  urgent?: boolean;
  /**
   * Aborted when nobody waits for the answer any more (the visitor's socket closed): an
   * invocation still waiting for a container is then dropped without running.
   */
  signal?: AbortSignal;
}

export interface LambdaFunction {
  readonly name: string;
  /**
   * Runs one invocation: `sync` (API Gateway's, the default) answers with its result;
   * `async` (Lambda's Invoke with `Event`, EventBridge) resolves once it ran or was dropped.
   */
  invoke(event: unknown, mode?: 'sync' | 'async', options?: InvokeOptions): Promise<unknown>;
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
/** How long a container beyond the warm ones may stay idle before it is reclaimed. */
const IDLE_RECLAIM_MS = 30_000;
/** How often a throttled asynchronous invocation is retried from Lambda's queue. */
const ASYNC_RETRY_MS = 1000;

/** One container: a host process, its requests in flight, and what it has counted so far. */
interface Container {
  request(message: HostRequest): Promise<HostReply>;
  /** The SDK usage it last reported (sent with every result, so a killed one loses nothing). */
  lastUsage: SdkUsage;
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Whether it has served an invocation yet (the first one pays the cold start). */
  warm: boolean;
  idleSince: number;
}

/** An invocation waiting for a container. */
interface Waiter {
  give(container: Container): void;
  fail(error: Error): void;
}

/**
 * Starts the function's first container and resolves once its entry point has loaded. An
 * invocation that runs past the function's timeout fails with "Task timed out" and its container
 * is killed, as Lambda does; the next invocation gets a fresh one (a cold start).
 */
export async function startLambdaFunction(spec: LambdaFunctionSpec): Promise<LambdaFunction> {
  const maxContainers = Math.max(1, spec.maxContainers ?? 1);
  const warmContainers = Math.max(1, Math.min(maxContainers, spec.warmContainers ?? 1));
  const counters = spec.counters ?? {};
  const metrics: Record<string, number> = {};
  const usage: LambdaUsage = { invocations: 0, durationMs: 0, gbSeconds: 0, errors: 0 };
  const gbSeconds = (ms: number) => (Math.ceil(ms) / 1000) * (spec.memoryMb / 1024);
  /** Start times of the invocations running in a container. */
  const running = new Map<number, number>();
  /** SDK usage of the containers gone so far. */
  let retiredUsage = emptySdkUsage();
  let nextId = 0;
  let closed = false;
  let abandoned = 0;
  /** Every container alive, busy or idle. */
  const live = new Set<Container>();
  const idle: Container[] = [];
  /** Containers being started. */
  let starting = 0;
  /** Invocations waiting for a container: the urgent ones first, each list in order. */
  const urgentWaiters: Waiter[] = [];
  const waiters: Waiter[] = [];
  const waiting = () => urgentWaiters.length + waiters.length;
  /** Recent invocations' running time (ms), smoothed: how fast the queue moves. */
  let pace = 50;
  /** How long a new invocation would wait for a container at the recent pace. */
  const expectedWaitMs = (urgent: boolean) => {
    if (idle.length > 0) return 0;
    const ahead = urgent ? urgentWaiters.length : waiting();
    return ((ahead + 1) * pace) / maxContainers;
  };
  let shed = 0;
  const nextWaiter = () => urgentWaiters.shift() ?? waiters.shift();

  const launch = () => {
    starting += 1;
    startContainer(spec, metrics).then(
      (container) => {
        starting -= 1;
        if (closed) {
          void container.kill('SIGTERM');
          return;
        }
        live.add(container);
        release(container);
      },
      (error: unknown) => {
        starting -= 1;
        // A container that could not start fails the invocation that waited longest for it.
        const waiter = nextWaiter();
        if (waiter) usage.errors += 1;
        waiter?.fail(error as Error);
      },
    );
  };
  /** A container is free: the invocation waiting longest takes it, else it waits idle. */
  const release = (container: Container) => {
    const next = nextWaiter();
    if (next) {
      next.give(container);
      return;
    }
    container.idleSince = performance.now();
    idle.push(container);
  };
  /** A free container, a new one if the ceiling allows, else the next one freed. */
  const acquire = (waiter: Waiter, urgent: boolean) => {
    const container = idle.pop();
    if (container) {
      waiter.give(container);
      return;
    }
    (urgent ? urgentWaiters : waiters).push(waiter);
    if (live.size + starting < maxContainers && starting < waiting()) launch();
  };
  /** Drops a container that died or ran past its timeout; the next invocation starts fresh. */
  const retire = async (container: Container, signal: NodeJS.Signals) => {
    if (!live.delete(container)) return;
    retiredUsage = addSdkUsage(retiredUsage, container.lastUsage);
    await container.kill(signal);
    // Invocations still waiting get the place it leaves.
    if (!closed && waiting() > starting && live.size + starting < maxContainers) launch();
  };
  const reclaim = setInterval(() => {
    const now = performance.now();
    for (const container of [...idle]) {
      if (live.size <= warmContainers) break;
      if (now - container.idleSince < IDLE_RECLAIM_MS) continue;
      idle.splice(idle.indexOf(container), 1);
      void retire(container, 'SIGTERM');
    }
  }, IDLE_RECLAIM_MS / 2);
  reclaim.unref();

  // The first container, warm before the first invocation.
  const first = await startContainer(spec, metrics);
  first.warm = true;
  live.add(first);
  idle.push(first);

  /** Whether the account's concurrency lets the invocation in (it is throttled if not). */
  const enter = async (mode: 'sync' | 'async', queuedAt: number): Promise<boolean> => {
    const pool = spec.concurrency;
    if (!pool) return true;
    for (;;) {
      if (pool.inFlight < pool.limit) return true;
      if (mode === 'sync') {
        countFault(counters, 'lambda.throttled');
        return false;
      }
      // Lambda keeps a throttled event and retries it, until its age passes.
      if (closed || performance.now() - queuedAt >= (spec.maxEventAgeMs ?? 6 * 3600_000)) {
        countFault(counters, 'lambda.async-dropped');
        return false;
      }
      countFault(counters, 'lambda.async-throttled');
      await new Promise((resolve) => setTimeout(resolve, ASYNC_RETRY_MS));
    }
  };

  const waitForContainer = (mode: 'sync' | 'async', queuedAt: number, options: InvokeOptions) =>
    new Promise<Container>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const forget = () => {
        for (const list of [urgentWaiters, waiters]) {
          const at = list.indexOf(waiter);
          if (at >= 0) list.splice(at, 1);
        }
      };
      const onAbort = () => {
        forget();
        clearTimeout(timer);
        abandoned += 1;
        reject(new InvocationError(spec.name, 'abandoned: nobody waits for the answer'));
      };
      const waiter: Waiter = {
        give: (container) => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          resolve(container);
        },
        fail: (error) => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      if (options.signal?.aborted) {
        onAbort();
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const limit =
        mode === 'sync'
          ? INTEGRATION_TIMEOUT_MS
          : (spec.maxEventAgeMs ?? 6 * 3600_000) - (performance.now() - queuedAt);
      timer = setTimeout(() => {
        forget();
        options.signal?.removeEventListener('abort', onAbort);
        usage.errors += 1;
        reject(
          new InvocationError(
            spec.name,
            `no container free within ${Math.round(limit / 1000)} s (this machine runs ${maxContainers} at most)`,
          ),
        );
      }, limit);
      acquire(waiter, options.urgent === true);
    });

  async function run(container: Container, event: unknown): Promise<unknown> {
    const id = nextId++;
    if (!container.warm) {
      container.warm = true;
      if (spec.coldStartMs) {
        countFault(counters, 'lambda.cold-start');
        const delay = (spec.coldStartMs / 2) * (1 + Math.abs(spread()));
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    running.set(id, performance.now());
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), spec.timeoutMs);
      });
      const reply = await Promise.race([
        container.request({ type: 'invoke', id, event, timeoutMs: spec.timeoutMs }),
        timedOut,
      ]);
      usage.invocations += 1;
      if (reply === 'timeout') {
        usage.durationMs += spec.timeoutMs;
        usage.gbSeconds += gbSeconds(spec.timeoutMs);
        usage.errors += 1;
        // Lambda stops the container of a timed-out invocation: its one invocation, nothing else.
        await retire(container, 'SIGKILL');
        throw new InvocationError(
          spec.name,
          `Task timed out after ${(spec.timeoutMs / 1000).toFixed(2)} seconds`,
        );
      }
      if (reply.type !== 'result') throw new InvocationError(spec.name, 'unexpected reply');
      usage.durationMs += reply.durationMs;
      pace = 0.9 * pace + 0.1 * reply.durationMs;
      usage.gbSeconds += gbSeconds(reply.durationMs);
      if (!reply.ok) {
        usage.errors += 1;
        if (reply.exited) await retire(container, 'SIGKILL');
        throw new InvocationError(spec.name, reply.error);
      }
      return reply.value;
    } finally {
      clearTimeout(timer);
      running.delete(id);
      if (live.has(container) && !closed) release(container);
    }
  }

  return {
    name: spec.name,
    usage() {
      const now = performance.now();
      const extra = [...running.values()].map((started) => now - started);
      return {
        ...usage,
        abandoned,
        shed,
        durationMs: usage.durationMs + extra.reduce((a, b) => a + b, 0),
        gbSeconds: usage.gbSeconds + extra.reduce((a, ms) => a + gbSeconds(ms), 0),
      };
    },
    metrics,
    async invoke(event, mode = 'sync', options = {}) {
      const queuedAt = performance.now();
      if (!(await enter(mode, queuedAt))) {
        if (mode === 'sync') throw new ThrottledError(spec.name);
        return null;
      }
      // Only work that makes something new is shed (a join, a connection): urgent frames are
      // cheap, ahead of it, and their senders (a resume, a status) may not ask again.
      if (mode === 'sync' && spec.shedAfterMs !== undefined && options.urgent !== true) {
        const wait = expectedWaitMs(false);
        if (wait > spec.shedAfterMs) {
          shed += 1;
          throw new BusyError(spec.name, wait);
        }
      }
      const container = await waitForContainer(mode, queuedAt, options);
      if (spec.concurrency) spec.concurrency.inFlight += 1;
      try {
        return await run(container, event);
      } finally {
        if (spec.concurrency) spec.concurrency.inFlight -= 1;
      }
    },
    async sdkUsage() {
      let total = retiredUsage;
      for (const container of [...live]) {
        const reply = await container.request({ type: 'usage', id: nextId++ });
        // A container that died since reported its usage with its last result.
        total = addSdkUsage(total, reply.type === 'usage' ? reply.usage : container.lastUsage);
      }
      return total;
    },
    async close() {
      closed = true;
      clearInterval(reclaim);
      for (const waiter of [...urgentWaiters.splice(0), ...waiters.splice(0)]) {
        waiter.fail(new InvocationError(spec.name, 'the runtime is closing'));
      }
      await Promise.all([...live].map((container) => container.kill('SIGTERM')));
    },
  };
}

/** Forks a host process for the function and waits until its entry point has loaded. */
async function startContainer(
  spec: LambdaFunctionSpec,
  metrics: Record<string, number>,
): Promise<Container> {
  // Each container's own clock, off by its own amount (`clock-skew`).
  // Half the figure to all of it, either way: every container's clock is off, by its own amount.
  const draw = spread();
  const skewMs = spec.clockSkewMs
    ? Math.round(Math.sign(draw || 1) * (spec.clockSkewMs / 2) * (1 + Math.abs(draw)))
    : 0;
  if (skewMs !== 0) countFault(spec.counters ?? {}, 'lambda.skewed-containers');
  const args = [spec.entry, spec.name, String(spec.memoryMb), String(skewMs)];
  const child: ChildProcess = fork(HOST, args, {
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
    warm: false,
    idleSince: 0,
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
