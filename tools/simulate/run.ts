/**
 * `runSimulation`: plans the visitors, spreads them over worker processes (or plays them here),
 * aggregates what they see, stops when everyone is done, the duration is over or the caller
 * aborts, then checks the invariants and writes the reports.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { JSONWebKeySet } from 'jose';
import { adminFetch } from '../../local/admin-secret.ts';
import { summarizeUsage, usageBetween } from '../../local/aws-local/bill.ts';
import type { AwsUsage } from '../../local/aws-local/usage.ts';
import { readDataDir } from '../../local/config.ts';
import { Aggregator } from './aggregate.ts';
import { type TraceEvent, unpackEvent, type VisitorPlan } from './events.ts';
import { renderHtmlReport } from './html.ts';
import {
  checkInvariants,
  DEFAULT_SETTLE_MARGIN_MS,
  DEFAULT_STALE_AFTER_MS,
  summarize,
} from './invariants.ts';
import {
  adminBaseFor,
  defaultsFor,
  isLoopbackHost,
  type SimulationInput,
  type SimulationOptions,
  sourceAddressesFor,
} from './options.ts';
import { checkAllPasses, fetchJwks } from './passes.ts';
import { planVisitors } from './plan.ts';
import { preciseNow, realSocketFactory, VisitorPool } from './pool.ts';
import { createProgressDisplay, type ProgressDisplay } from './progress.ts';
import { buildRehearsalReport, type RehearsalRoom } from './rehearsal-report.ts';
import {
  buildReport,
  type ServerSample,
  type SimulationReport,
  type StopReason,
  type WorkerStats,
} from './report.ts';
import { createSolver } from './solver.ts';
import { DEFAULT_VISITOR_SETTINGS, type VisitorSettings } from './visitor.ts';
import type { FromWorker, ToWorker } from './worker.ts';

export interface RunHooks {
  /** Aborting stops the run early; the report is still built and written. */
  signal?: AbortSignal;
  /** Where notes on the run go (default: nothing). */
  log?: (line: string) => void;
  /** Output stream of the progress display (default stdout). */
  progressStream?: NodeJS.WriteStream;
  /**
   * A launch rehearsal's room (`runRehearsal`): the report gets its "Rehearsal" section, and
   * what went wrong with the room meanwhile (`problems`, read when the run stops) goes into the
   * report's problems.
   */
  rehearsal?: { room: RehearsalRoom; problems: readonly string[] };
}

/** What the simulator may set on a room on this machine (`opensAt` epoch ms or null). */
interface RoomSettingsChange {
  opensAt?: number | null;
  powCost?: number;
}

/**
 * Sets the fair-launch settings of the room on this machine through its admin endpoint
 * (`POST config`, with the room's secret), as `npm run room` does.
 */
function adminConfigurer(wsUrl: string): (change: RoomSettingsChange) => Promise<void> {
  return async (change) => {
    const response = await adminFetch(
      adminBaseFor(wsUrl),
      'config',
      { method: 'POST', body: JSON.stringify(change), signal: AbortSignal.timeout(5000) },
      readDataDir(process.env),
    );
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: string };
      throw new Error(
        `the room refused ${JSON.stringify(change)}: ${response.status} ${body.error ?? response.statusText}`,
      );
    }
  };
}

/** Reads the room's fair-launch settings before the run, to put them back after it. */
async function roomSettingsBefore(wsUrl: string): Promise<RoomSettingsChange> {
  try {
    const response = await adminFetch(
      adminBaseFor(wsUrl),
      'status',
      { signal: AbortSignal.timeout(5000) },
      readDataDir(process.env),
    );
    const status = (await response.json()) as { opensAt?: unknown; powCost?: unknown };
    return {
      opensAt: typeof status.opensAt === 'number' ? status.opensAt : null,
      powCost: typeof status.powCost === 'number' ? status.powCost : 0,
    };
  } catch {
    return { opensAt: null, powCost: 0 };
  }
}

export interface SimulationResult {
  report: SimulationReport;
  /** 0 invariants held; 1 an invariant broken; 3 no invariant broken but visitors never joined. */
  exitCode: number;
}

/** Where visitors are played: a worker process, or this process. */
interface VisitorHost {
  readonly visitors: number;
  /** Resolves when every visitor of the host has settled. */
  readonly settled: Promise<void>;
  start(t0: number): void;
  /** Roll call (when `rollCallMs` > 0), close everything, and be gone. */
  stop(rollCallMs: number): Promise<void>;
  stats(): WorkerStats | null;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const ROLL_CALL_MS = 2000;
const SERVER_POLL_MS = 2000;

const workerFile = fileURLToPath(new URL('./worker.ts', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The visitors' settings: the page's, with the run's timeouts. */
function visitorSettingsFor(options: SimulationOptions): VisitorSettings {
  return {
    ...DEFAULT_VISITOR_SETTINGS,
    replyTimeoutMs: options.replyTimeoutSeconds * 1000,
    connectTimeoutMs: options.connectTimeoutSeconds * 1000,
    // A finite figure: settings cross to the workers as JSON, where Infinity becomes null.
    ...(options.persistent ? { maxDialAttempts: Number.MAX_SAFE_INTEGER } : {}),
  };
}

function forkHost(
  worker: number,
  url: string,
  settings: VisitorSettings,
  plans: VisitorPlan[],
  onEvent: (index: number, event: TraceEvent) => void,
  onProblem: (message: string) => void,
): Promise<VisitorHost> {
  const child: ChildProcess = fork(workerFile, [], {
    execArgv: ['--import', tsxLoader],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let peakRssMb = 0;
  let loopDelayP99Ms = 0;
  let loopDelayMaxMs = 0;
  let exitCode: number | null = null;
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  let stopped!: () => void;
  const stoppedPromise = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code;
      if (code !== 0 && code !== null) onProblem(`worker ${worker} exited with code ${code}`);
      if (signal) onProblem(`worker ${worker} ended by ${signal}`);
      settle();
      stopped();
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`worker ${worker} did not start within ${READY_TIMEOUT_MS / 1000} s`));
    }, READY_TIMEOUT_MS);
    child.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          clearTimeout(timer);
          resolve(host);
          break;
        case 'events':
          for (const packed of message.events) {
            const { index, event } = unpackEvent(packed);
            onEvent(index, event);
          }
          break;
        case 'settled':
          settle();
          break;
        case 'stopped':
          stopped();
          break;
        case 'failed':
          onProblem(`worker ${worker}: ${message.message}`);
          break;
        case 'stats':
          peakRssMb = Math.max(peakRssMb, message.rssMb);
          loopDelayP99Ms = message.loopDelayP99Ms;
          loopDelayMaxMs = message.loopDelayMaxMs;
          break;
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const send = (message: ToWorker) => {
      if (child.connected) child.send(message);
    };
    const host: VisitorHost = {
      visitors: plans.length,
      settled,
      start: (t0) => send({ type: 'start', t0 }),
      async stop(rollCallMs) {
        send({ type: 'stop', rollCallMs });
        const timeout = new Promise<'timeout'>((r) =>
          setTimeout(() => r('timeout'), STOP_TIMEOUT_MS).unref(),
        );
        if ((await Promise.race([stoppedPromise.then(() => exited), timeout])) === 'timeout') {
          onProblem(`worker ${worker} did not stop in time and was killed`);
          child.kill('SIGKILL');
          await exited;
        }
      },
      stats: () => ({
        worker,
        visitors: plans.length,
        peakRssMb,
        loopDelayP99Ms,
        loopDelayMaxMs,
        exitCode,
      }),
    };
    send({ type: 'init', url, plans, settings });
  });
}

function inProcessHost(
  url: string,
  settings: VisitorSettings,
  plans: VisitorPlan[],
  onEvent: (index: number, event: TraceEvent) => void,
): VisitorHost {
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const pool = new VisitorPool({
    plans,
    settings,
    connect: realSocketFactory(url),
    emit: onEvent,
    solve: createSolver(),
    onAllSettled: () => settle(),
  });
  return {
    visitors: plans.length,
    settled,
    start: (t0) => pool.start(t0),
    async stop(rollCallMs) {
      await pool.rollCall(rollCallMs);
      await pool.stop();
    },
    stats: () => null,
  };
}

/**
 * The room's AWS usage counts (`npm run start:aws-local` serves them to loopback), or null when
 * the room has none (`npm start`, a deployed room).
 */
async function fetchAwsUsage(wsUrl: string): Promise<AwsUsage | null> {
  try {
    const response = await adminFetch(
      adminBaseFor(wsUrl),
      'usage',
      { signal: AbortSignal.timeout(5000) },
      readDataDir(process.env),
    );
    return response.ok ? ((await response.json()) as AwsUsage) : null;
  } catch {
    return null;
  }
}

async function pollServer(
  base: string,
  t0: number,
  samples: ServerSample[],
  signal: AbortSignal,
): Promise<void> {
  const dataDir = readDataDir(process.env);
  while (!signal.aborted) {
    const sentAt = preciseNow();
    try {
      const response = await adminFetch(
        base,
        'status',
        { signal: AbortSignal.timeout(5000) },
        dataDir,
      );
      if (response.ok) {
        const s = (await response.json()) as Omit<ServerSample, 'second' | 'rttMs'>;
        samples.push({
          second: Math.round((sentAt - t0) / 100) / 10,
          rttMs: Math.round(preciseNow() - sentAt),
          enabled: s.enabled,
          admitPerMinute: s.admitPerMinute,
          waiting: s.waiting,
          arriving: s.arriving,
          admittedTotal: s.admittedTotal,
          abandonedTotal: s.abandonedTotal,
          connections: s.connections,
        });
      }
    } catch {
      // The status is a bonus; a slow or absent admin endpoint changes nothing.
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, SERVER_POLL_MS);
      signal.addEventListener('abort', done);
    });
  }
}

const rssMb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);

/**
 * Runs one simulation. Throws {@link OptionsError} for bad options; otherwise resolves with the
 * report (also written to `jsonFile` / `htmlFile`) and the exit code it calls for.
 */
export async function runSimulation(
  input: SimulationInput | SimulationOptions,
  hooks: RunHooks = {},
): Promise<SimulationResult> {
  const options = defaultsFor(input);
  const log = hooks.log ?? (() => {});
  const sourceAddresses = sourceAddressesFor(options.url, options.sourceAddresses);
  const plans = planVisitors(options, sourceAddresses);
  const problems: string[] = [];
  // The simulator sets the opening and the cost itself only on a room on this machine.
  const local = isLoopbackHost(options.url);
  const schedules = options.prequeue && local;
  const setsCost = options.powCost !== null && local;
  const configureRoom = schedules || setsCost ? adminConfigurer(options.url) : null;
  const settingsBefore = configureRoom ? await roomSettingsBefore(options.url) : null;
  /** Puts back what the run changed (a draw already made stays: its members keep their places). */
  const restoreRoom = async (): Promise<void> => {
    if (!configureRoom) return;
    const restore: RoomSettingsChange = {};
    if (schedules) restore.opensAt = settingsBefore?.opensAt ?? null;
    if (setsCost) restore.powCost = settingsBefore?.powCost ?? 0;
    await configureRoom(restore);
  };
  if (configureRoom && setsCost) {
    await configureRoom({ powCost: options.powCost as number });
    log(`Proof-of-work cost set to ${options.powCost} for the run.`);
  }

  let jwks: JSONWebKeySet | { error: string };
  try {
    jwks = await fetchJwks(options.jwksUrl);
  } catch (error) {
    jwks = { error: error instanceof Error ? error.message : String(error) };
    log(`Could not fetch the JWKS yet (${jwks.error}); will try again at the end.`);
  }

  let aggregator: Aggregator | null = null;
  const early: [number, TraceEvent][] = [];
  const onEvent = (index: number, event: TraceEvent) => {
    if (aggregator) aggregator.add(index, event);
    else early.push([index, event]);
  };

  const hosts: VisitorHost[] = [];
  const workers = Math.min(options.workers, options.users);
  const settings = visitorSettingsFor(options);
  try {
    if (workers === 0) {
      hosts.push(inProcessHost(options.url, settings, plans, onEvent));
    } else {
      const shares = Array.from({ length: workers }, (_, w) =>
        plans.filter((p) => p.index % workers === w),
      );
      hosts.push(
        ...(await Promise.all(
          shares.map((share, w) =>
            forkHost(w, options.url, settings, share, onEvent, (message) => problems.push(message)),
          ),
        )),
      );
    }
  } catch (error) {
    await Promise.all(hosts.map((h) => h.stop(0)));
    await restoreRoom().catch(() => {});
    throw error;
  }
  log(
    `Playing ${options.users} visitors against ${options.url} from ${workers === 0 ? 'this process' : `${workers} worker process${workers === 1 ? '' : 'es'}`}${sourceAddresses.length > 0 ? ` over ${sourceAddresses.length} loopback source addresses` : ''}.`,
  );

  // A short lead so that every worker launches its first visitor on the same clock.
  const t0 = preciseNow() + 250;
  let scheduledOpening: number | null = null;
  if (configureRoom && schedules) {
    // Whole seconds: the room tells the opening in whole seconds, so both agree exactly.
    scheduledOpening =
      Math.ceil((t0 + (options.opensAfterSeconds ?? options.rampSeconds + 5) * 1000) / 1000) * 1000;
    try {
      await configureRoom({ opensAt: scheduledOpening });
    } catch (error) {
      await Promise.all(hosts.map((h) => h.stop(0)));
      await restoreRoom().catch(() => {});
      throw error;
    }
    log(`Opening scheduled at ${new Date(scheduledOpening).toISOString()}.`);
  }
  aggregator = new Aggregator(plans, t0);
  for (const [index, event] of early) aggregator.add(index, event);
  const agg = aggregator;
  for (const host of hosts) host.start(t0);

  const usageBefore = isLoopbackHost(options.url) ? await fetchAwsUsage(options.url) : null;
  const serverSamples: ServerSample[] = [];
  const pollStop = new AbortController();
  const polling = isLoopbackHost(options.url)
    ? pollServer(adminBaseFor(options.url), t0, serverSamples, pollStop.signal)
    : null;

  const display: ProgressDisplay = createProgressDisplay(
    options.progress,
    options.users,
    hooks.progressStream,
  );
  let parentPeakRssMb = rssMb();
  const parentLoopDelay = monitorEventLoopDelay({ resolution: 10 });
  parentLoopDelay.enable();
  const ticker = setInterval(() => {
    parentPeakRssMb = Math.max(parentPeakRssMb, rssMb());
    const now = preciseNow();
    display.update({
      ...agg.counts,
      users: options.users,
      elapsedSeconds: Math.max(0, (now - t0) / 1000),
      messagesPerSecond: agg.receivedPerSecondAt(now),
    });
  }, 250);

  let durationTimer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const reason = await new Promise<StopReason>((resolve) => {
    void Promise.all(hosts.map((h) => h.settled)).then(() => resolve('complete'));
    durationTimer = setTimeout(
      () => resolve('duration'),
      t0 - preciseNow() + options.durationSeconds * 1000,
    );
    onAbort = () => resolve('interrupted');
    if (hooks.signal?.aborted) resolve('interrupted');
    hooks.signal?.addEventListener('abort', onAbort);
  });
  clearTimeout(durationTimer);
  if (onAbort) hooks.signal?.removeEventListener('abort', onAbort);
  const stopAt = preciseNow();
  problems.push(...(hooks.rehearsal?.problems ?? []));
  const stopReason: StopReason = problems.length > 0 && reason === 'complete' ? 'failed' : reason;

  await Promise.all(hosts.map((h) => h.stop(reason === 'complete' ? 0 : ROLL_CALL_MS)));
  clearInterval(ticker);
  parentLoopDelay.disable();
  pollStop.abort();
  await polling;
  display.update({
    ...agg.counts,
    users: options.users,
    elapsedSeconds: (stopAt - t0) / 1000,
    messagesPerSecond: agg.receivedPerSecondAt(stopAt),
  });
  display.stop();

  if (!('keys' in jwks)) {
    try {
      jwks = await fetchJwks(options.jwksUrl);
    } catch (error) {
      jwks = { error: error instanceof Error ? error.message : String(error) };
      problems.push(`JWKS unavailable at ${options.jwksUrl}: ${jwks.error}`);
    }
  }

  try {
    await restoreRoom();
  } catch (error) {
    problems.push(`could not restore the room's settings: ${(error as Error).message}`);
  }

  const usageAfter = usageBefore ? await fetchAwsUsage(options.url) : null;
  const aws =
    usageBefore && usageAfter
      ? (() => {
          const usage = usageBetween(usageBefore, usageAfter);
          return { usage, summary: summarizeUsage(usage, options.users) };
        })()
      : null;

  const summaryOptions = {
    stopAt,
    graceMs: options.graceSeconds * 1000,
    staleAfterMs: DEFAULT_STALE_AFTER_MS,
  };
  const visitors = agg.traces.map((trace) => summarize(trace, summaryOptions));
  const passChecks = await checkAllPasses(visitors, jwks);
  const invariants = checkInvariants(visitors, {
    stopAt,
    settleMarginMs: DEFAULT_SETTLE_MARGIN_MS,
    maxExamples: 5,
    passChecks,
    prequeue: options.prequeue ? { opensAt: scheduledOpening } : null,
    pow: options.pow,
  });
  const report = buildReport({
    options,
    sourceAddresses,
    traces: agg.traces,
    visitors,
    invariants,
    series: agg.series(stopAt),
    errorsByCode: agg.errorsByCode,
    t0,
    stopAt,
    stopReason,
    problems,
    server: polling ? serverSamples : null,
    aws,
    parentPeakRssMb,
    parentLoopDelayMaxMs: Math.round(parentLoopDelay.max / 1e6),
    workers: hosts.flatMap((h) => h.stats() ?? []),
    scheduledOpening,
  });
  if (hooks.rehearsal) {
    report.rehearsal = buildRehearsalReport({
      room: hooks.rehearsal.room,
      traces: agg.traces,
      burst: options.burst,
      rampSeconds: options.rampSeconds,
      churn: options.churn,
      stopAt,
      invariants,
      usage: aws?.usage ?? null,
      roomPerMinute: serverSamples.at(-1)?.admitPerMinute ?? null,
      observedPerMinute: report.throughput.admittedPerMinuteObserved,
      peakInAMinute: report.throughput.peakAdmittedInAMinute,
      admitted: report.counts.admitted,
    });
  }

  if (options.jsonFile) {
    await writeReportFile(options.jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    log(`JSON report written to ${options.jsonFile}`);
  }
  if (options.htmlFile) {
    await writeReportFile(options.htmlFile, renderHtmlReport(report));
    log(`HTML report written to ${options.htmlFile}`);
  }
  const incomplete = report.counts.unjoined > 0 || problems.length > 0;
  return { report, exitCode: !invariants.ok ? 1 : incomplete ? 3 : 0 };
}

async function writeReportFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}
