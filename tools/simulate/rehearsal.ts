/**
 * `npm run simulate -- --rehearsal`: a launch rehearsal. Starts the AWS build on this machine
 * (`npm run start:aws-local`: `local/main.ts --aws-local`) on a free port with AWS's limits on
 * (`WR_AWS_FAULTS`, every one at AWS's figure by default), its output to a log file; plays a
 * flash crowd against it with {@link runSimulation}; adds the "Rehearsal" section to the report;
 * and stops the room, whatever happens (the end of the run, a failure, Ctrl-C; the room also
 * ends by itself when this process dies, see `room-guard.ts`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { jwksUrlFor, type RehearsalInput, rehearsalDefaultsFor } from './options.ts';
import type { RehearsalRoom } from './rehearsal-report.ts';
import { type RunHooks, runSimulation, type SimulationResult } from './run.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const ROOM_GUARD = pathToFileURL(fileURLToPath(new URL('./room-guard.ts', import.meta.url))).href;

/** The room may build the waiting-room page on its first start: give it time. */
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 250;
const PORT_ATTEMPTS = 4;

export interface RehearsalResult extends SimulationResult {
  /** Where the room's output went. */
  logFile: string;
}

/** The room of a rehearsal, running. */
export interface RehearsalRoomProcess {
  port: number;
  wsUrl: string;
  logFile: string;
  startupSeconds: number;
  /** The room's process ended (by itself or stopped). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether {@link stop} was called. */
  readonly stopping: boolean;
  /** Stops the room (SIGTERM, then SIGKILL after 20 s) and waits for it to be gone. */
  stop(): Promise<void>;
}

export interface RehearsalRoomOptions {
  /** `WR_AWS_FAULTS` (empty: none). */
  faults: string;
  /** `WR_ADMIT_PER_MINUTE`. */
  ratePerMinute: number;
  /** `WR_ABANDON_AFTER_SECONDS`: the simulator's `--grace`. */
  graceSeconds: number;
  logFile: string;
  /** Aborting stops a room still starting. */
  signal?: AbortSignal;
}

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The last lines of the room's log, for an error message. */
function tailOf(logFile: string, lines = 15): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

class RoomStartError extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean,
  ) {
    super(message);
    this.name = 'RoomStartError';
  }
}

/**
 * Starts `npm run start:aws-local` (as `node --import tsx local/main.ts --aws-local`, one process
 * to stop) on a free loopback port, kept in memory, without the per-source limits (every
 * simulated visitor speaks from loopback), and waits until it serves its public keys.
 */
export async function startRehearsalRoom(
  options: RehearsalRoomOptions,
): Promise<RehearsalRoomProcess> {
  await mkdir(dirname(options.logFile), { recursive: true });
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(await freePort(), options);
    } catch (error) {
      if (!(error instanceof RoomStartError && error.portTaken) || attempt >= PORT_ATTEMPTS) {
        throw error;
      }
    }
  }
}

async function startOnce(
  port: number,
  options: RehearsalRoomOptions,
): Promise<RehearsalRoomProcess> {
  const startedAt = performance.now();
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, '--import', ROOM_GUARD, 'local/main.ts', '--aws-local'],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          HOST: '127.0.0.1',
          PORT: String(port),
          WR_PUBLIC_URL: `http://127.0.0.1:${port}`,
          WR_DATA_DIR: ':memory:',
          WR_SOURCE_LIMITS: 'off',
          WR_AWS_FAULTS: options.faults,
          WR_ADMIT_PER_MINUTE: String(options.ratePerMinute),
          WR_ABANDON_AFTER_SECONDS: String(options.graceSeconds),
        },
        // stdin is the room's lifeline (room-guard.ts); its output goes to the log only.
        stdio: ['pipe', log, log],
        // Its own process group: Ctrl-C in the terminal reaches the simulator alone, which
        // finishes the run, reads the room's usage, and then stops the room.
        detached: true,
      },
    );
  } finally {
    closeSync(log);
  }
  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
    child.once('error', () => done({ code: null, signal: null }));
  });
  // Never leave it running: however this process ends, the room ends with it.
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  // A stdin write end that breaks (the room gone) must not take this process down.
  child.stdin?.on('error', () => {});

  const stop = async () => {
    if (stopping) {
      await exited;
      return;
    }
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', killOnExit);
  };

  const wsUrl = `ws://127.0.0.1:${port}/ws`;
  const jwks = jwksUrlFor(wsUrl);
  const early: { gone: { code: number | null; signal: NodeJS.Signals | null } | null } = {
    gone: null,
  };
  void exited.then((how) => {
    early.gone = how;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (early.gone !== null) {
      const { code, signal } = early.gone;
      const tail = tailOf(options.logFile);
      process.off('exit', killOnExit);
      throw new RoomStartError(
        `the room (npm run start:aws-local) exited before it was ready (${code === null ? `signal ${signal}` : `code ${code}`}); ${options.logFile} ends:\n${tail}`,
        /already in use/.test(tail),
      );
    }
    if (options.signal?.aborted) {
      await stop();
      throw new Error('interrupted while the room was starting');
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `the room (npm run start:aws-local) was not ready within ${START_TIMEOUT_MS / 1000} s; see ${options.logFile}`,
      );
    }
    try {
      const response = await fetch(jwks, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  return {
    port,
    wsUrl,
    logFile: options.logFile,
    startupSeconds: Math.round((performance.now() - startedAt) / 100) / 10,
    exited,
    get stopping() {
      return stopping;
    },
    stop,
  };
}

/** A log file of its own in the system's temporary directory. */
function defaultLogFile(): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return join(tmpdir(), `waiting-room-rehearsal-${stamp}-${process.pid}.log`);
}

/**
 * Runs a launch rehearsal: starts the room, plays the run against it (a fifth of the visitors
 * at once, then the rest over the ramp, churn 0.1 unless told otherwise), and stops the room.
 * Throws `OptionsError` for bad options and an error when the room cannot start; otherwise
 * resolves with the report (its `rehearsal` section filled), the exit code and the room's log.
 */
export async function runRehearsal(
  input: RehearsalInput,
  hooks: RunHooks = {},
): Promise<RehearsalResult> {
  const planned = rehearsalDefaultsFor(input);
  const log = hooks.log ?? (() => {});
  const logFile = resolve(planned.room.roomLogFile ?? defaultLogFile());
  const { faults, ratePerMinute } = planned.room;
  log(
    `Starting the room (npm run start:aws-local; faults: ${faults || 'none'}; ${ratePerMinute} admissions a minute); its output goes to ${logFile}`,
  );
  const room = await startRehearsalRoom({
    faults,
    ratePerMinute,
    graceSeconds: planned.options.graceSeconds,
    logFile,
    ...(hooks.signal ? { signal: hooks.signal } : {}),
  });
  log(`Room ready at ${room.wsUrl} after ${room.startupSeconds} s.`);
  const problems: string[] = [];
  const controller = new AbortController();
  const relay = () => controller.abort();
  hooks.signal?.addEventListener('abort', relay);
  if (hooks.signal?.aborted) controller.abort();
  void room.exited.then(({ code, signal }) => {
    if (room.stopping) return;
    problems.push(
      `the room exited during the run (${code === null ? `signal ${signal}` : `code ${code}`}); see ${logFile}`,
    );
    controller.abort();
  });
  const info: RehearsalRoom = {
    runtime: 'start:aws-local',
    wsUrl: room.wsUrl,
    logFile,
    faultsRequested: faults,
    ratePerMinute,
    startupSeconds: room.startupSeconds,
  };
  try {
    const result = await runSimulation(
      // The room is up and its own: visitors keep trying as pages do, however long it takes.
      { ...planned.options, url: room.wsUrl, jwksUrl: jwksUrlFor(room.wsUrl), persistent: true },
      { ...hooks, signal: controller.signal, rehearsal: { room: info, problems } },
    );
    return { ...result, logFile };
  } finally {
    hooks.signal?.removeEventListener('abort', relay);
    await room.stop();
    log(`Room stopped; its log: ${logFile}`);
  }
}
