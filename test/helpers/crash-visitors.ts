/**
 * For crash tests of `npm start` with its room on disk: the server as a child process that a
 * test can SIGKILL and start again on the same port and data directory, and visitors that keep
 * their place through it as the page does (reconnect, `resume` with the ticket, or `join` again
 * when no place was ever confirmed). The visitors record what they saw as the load simulator's
 * traces, so its invariant checks (tools/simulate/invariants.ts) read them unchanged.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ClientMessage, ServerMessage } from '../../functions/core/protocol.ts';
import { HEALTH_PATH } from '../../local/front.ts';
import type {
  DialPurpose,
  TraceEvent,
  VisitorPlan,
  VisitorState,
  VisitorTrace,
} from '../../tools/simulate/events.ts';
import { freePort } from './local-room.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Epoch milliseconds with sub-millisecond precision (as the simulator stamps its traces). */
export const now = (): number => performance.timeOrigin + performance.now();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A small seeded PRNG (mulberry32): the same seed plays the same scenario. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A free loopback port below the kernel's ephemeral range. The room is down between a kill and
 * its restart, and meanwhile the visitors (and other test files) keep opening client sockets:
 * a port from the ephemeral range could be handed to one of them as its local port, and the
 * restart would then fail to listen (or a client would connect to itself).
 */
export async function roomPort(): Promise<number> {
  let low = 32768;
  try {
    const [first] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    if (first && /^\d+$/.test(first)) low = Number(first);
  } catch {
    // Not Linux: the range is not known; any free port will do.
  }
  if (low > 12_000) {
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
      if (await canListen(port)) return port;
    }
  }
  return freePort();
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * `npm start` (`node --import tsx local/main.ts`) as a child process on a fixed port and data
 * directory: started, SIGKILLed and started again by the test.
 */
export class RoomProcess {
  /** The last lines the processes wrote, each prefixed with the run it came from. */
  readonly output: string[] = [];
  /** Starts so far (the first one included). */
  runs = 0;
  #child: ChildProcess | null = null;

  constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts the server and resolves once its health check answers. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.#child) throw new Error('the room is already running');
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt += 1) {
      const failure = await this.#startOnce(deadline);
      if (failure === null) return;
      // The port was taken for a moment (a client socket of another test): try the same port
      // again, as an operator would.
      if (!/already in use/.test(failure) || attempt >= 10 || Date.now() > deadline) {
        throw new Error(`the room did not start: ${failure}\n${this.tail(40)}`);
      }
      await sleep(200);
    }
  }

  async #startOnce(deadline: number): Promise<string | null> {
    this.runs += 1;
    const run = this.runs;
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith('WR_')) env[name] = value;
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...env,
        HOST: '127.0.0.1',
        PORT: String(this.port),
        WR_PUBLIC_URL: this.url,
        WR_DATA_DIR: this.dataDir,
        WR_SOURCE_LIMITS: 'off',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const keep = (stream: NodeJS.ReadableStream | null, name: string) => {
      stream?.setEncoding('utf8');
      let partial = '';
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line.trim() === '') continue;
          this.output.push(`[run ${run} ${name}] ${line}`);
          if (this.output.length > 400) this.output.shift();
        }
      });
    };
    keep(child.stdout, 'out');
    keep(child.stderr, 'err');
    let exited: string | null = null;
    child.once('exit', (code, signal) => {
      exited = `exited (code ${code}, signal ${signal})`;
      if (this.#child === child) this.#child = null;
    });
    while (Date.now() < deadline) {
      if (exited !== null) return `${exited}: ${this.tail(5)}`;
      if (await this.#healthy()) return null;
      await sleep(50);
    }
    await this.kill();
    return 'no health check answer in time';
  }

  async #healthy(): Promise<boolean> {
    try {
      const response = await fetch(`${this.url}${HEALTH_PATH}`, {
        signal: AbortSignal.timeout(1000),
      });
      await response.arrayBuffer();
      return response.ok;
    } catch {
      return false;
    }
  }

  /** SIGKILL: no shutdown handler runs, nothing is flushed. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    if (child.exitCode === null && child.signalCode === null) {
      const exit = once(child, 'exit');
      child.kill('SIGKILL');
      await exit;
    }
  }

  tail(lines: number): string {
    return this.output.slice(-lines).join('\n');
  }
}

export interface CrashVisitorOptions {
  url: string;
  index: number;
  /** Pause before every new connection attempt after a socket closed or could not open. */
  reconnectMs: number;
  /** An open socket that has not answered `join`/`resume` within this is replaced. */
  answerTimeoutMs: number;
  /** A reload on purpose: this long after the first `joined`, closed for `pauseMs`, resumed. */
  reload: { afterJoinedMs: number; pauseMs: number } | null;
  /** Told every event as it is recorded (a test can kill the room at a chosen moment). */
  onEvent?: (visitor: CrashVisitor, event: TraceEvent) => void;
}

type Phase = 'joining' | 'waiting' | 'admitted' | 'rechecking' | 'lost' | 'stopped';

/**
 * One visitor as the page behaves: joins, keeps its ticket, and whenever its socket closes
 * (the server was killed) dials again every `reconnectMs` until the server answers, with
 * `resume` (or `join`, when it never got `joined`). It never gives up on its own.
 */
export class CrashVisitor {
  readonly trace: VisitorTrace;
  ticket: string | null = null;
  sessionId: string | null = null;
  pass: string | null = null;
  phase: Phase = 'joining';
  /** `join`s sent whose socket closed before `joined` came back: places never confirmed. */
  unconfirmedJoins = 0;
  /** Reloads done on purpose. */
  reloads = 0;
  /** Why the visitor lost its place (`invalid_ticket` on a resume), if it did. */
  lostReason: string | null = null;
  /** Resolves when the visitor is admitted (the pass) or has lost its place (null). */
  readonly settled: Promise<string | null>;
  #settle!: (pass: string | null) => void;
  #recheck: ((pass: string) => void) | null = null;
  #socket: WebSocket | null = null;
  #opened = false;
  #purpose: DialPurpose = 'join';
  #awaitingAnswer = false;
  #attempt = 0;
  #reloadPlanned = false;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(readonly options: CrashVisitorOptions) {
    const plan: VisitorPlan = {
      index: options.index,
      startMs: 0,
      returnPath: `/crash/${options.index}`,
      churn: null,
      abandon: null,
      recheck: null,
      localAddress: null,
    };
    this.trace = { plan, events: [] };
    this.settled = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  get index(): number {
    return this.options.index;
  }

  /** When the first `joined` arrived (null: never). */
  get joinedAt(): number | null {
    return this.trace.events.find((e) => e.k === 'joined')?.t ?? null;
  }

  /** When the first `admitted` arrived (null: never). */
  get admittedAt(): number | null {
    return this.trace.events.find((e) => e.k === 'admitted')?.t ?? null;
  }

  start(): void {
    this.#dial('join');
  }

  /** Comes back after admission on a new socket with the ticket; resolves with the pass given. */
  recheck(): Promise<string> {
    if (this.phase !== 'admitted' || this.ticket === null) {
      return Promise.reject(new Error(`v${this.index} is not admitted`));
    }
    this.phase = 'rechecking';
    const answer = new Promise<string>((resolve) => {
      this.#recheck = resolve;
    });
    this.#dial('recheck');
    return answer;
  }

  /** The test is over: closes the socket and stops every timer. */
  stop(): void {
    if (this.phase === 'stopped') return;
    const state: VisitorState =
      this.phase === 'joining'
        ? this.ticket === null
          ? 'connecting'
          : 'resuming'
        : this.phase === 'rechecking' || this.phase === 'admitted'
          ? 'done'
          : this.phase;
    this.#emit({ t: now(), k: 'stop', state });
    this.phase = 'stopped';
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#retire(false);
    this.#recheck = null;
    this.#settle(this.pass);
  }

  #emit(event: TraceEvent): void {
    this.trace.events.push(event);
    this.options.onEvent?.(this, event);
  }

  #after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #dial(purpose: DialPurpose): void {
    if (this.phase === 'stopped' || this.phase === 'lost') return;
    this.#attempt += 1;
    this.#purpose = purpose;
    this.#opened = false;
    this.#awaitingAnswer = false;
    this.#emit({ t: now(), k: 'dial', purpose, attempt: this.#attempt });
    const socket = new WebSocket(this.options.url, { handshakeTimeout: 2000 });
    this.#socket = socket;
    const live = () => this.#socket === socket;
    socket.on('open', () => {
      if (live()) this.#onOpen(socket);
    });
    socket.on('message', (data) => {
      if (live()) this.#onMessage(socket, data.toString());
    });
    socket.on('error', (error) => {
      if (live()) this.#emit({ t: now(), k: 'socket-error', message: error.message });
    });
    socket.on('close', (code) => {
      if (live()) this.#onClose(code);
    });
  }

  #send(socket: WebSocket, message: Extract<ClientMessage, { action: 'join' | 'resume' }>): void {
    // Stamped before it leaves (FIFO compares it with when others were told `joined`); recorded
    // after, so a test told of it can kill the room with the frame already on its way.
    const t = now();
    socket.send(JSON.stringify(message));
    this.#emit({ t, k: 'send', action: message.action });
  }

  #onOpen(socket: WebSocket): void {
    this.#opened = true;
    this.#attempt = 0;
    this.#emit({ t: now(), k: 'open' });
    this.#awaitingAnswer = true;
    if (this.#purpose === 'join') {
      this.#send(socket, { action: 'join', return: this.trace.plan.returnPath });
    } else {
      this.#send(socket, { action: 'resume', ticket: this.ticket as string });
    }
    this.#after(this.options.answerTimeoutMs, () => {
      if (this.#socket !== socket || !this.#awaitingAnswer) return;
      // No answer: replace the socket (onClose dials again).
      socket.terminate();
    });
  }

  #onMessage(socket: WebSocket, text: string): void {
    const t = now();
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      this.#emit({ t, k: 'garbled', text: text.slice(0, 200) });
      return;
    }
    switch (message.type) {
      case 'joined':
        this.#emit({ t, k: 'joined', sessionId: message.sessionId });
        this.#awaitingAnswer = false;
        if (this.#purpose === 'recheck') return;
        this.sessionId ??= message.sessionId;
        this.ticket = message.ticket;
        if (this.phase === 'joining') {
          this.phase = 'waiting';
          const reload = this.options.reload;
          if (reload && !this.#reloadPlanned) {
            this.#reloadPlanned = true;
            this.#after(reload.afterJoinedMs, () => this.#reload(reload.pauseMs));
          }
        }
        return;
      case 'position':
        this.#emit({ t, k: 'position', position: message.position, waiting: message.waiting });
        return;
      case 'admitted':
        this.#emit({
          t,
          k: 'admitted',
          pass: message.pass,
          redirectUrl: message.redirectUrl,
          expiresAt: message.expiresAt,
        });
        this.#awaitingAnswer = false;
        // The page now goes to the main site: this socket is done.
        this.#retire(false);
        if (this.phase === 'rechecking') {
          this.phase = 'admitted';
          this.#recheck?.(message.pass);
          this.#recheck = null;
          return;
        }
        if (this.pass === null) {
          this.pass = message.pass;
          this.phase = 'admitted';
          this.#settle(message.pass);
        }
        return;
      case 'error':
        this.#emit({ t, k: 'error', code: message.code });
        if (message.code === 'invalid_ticket') {
          this.lostReason = `${this.#purpose} answered invalid_ticket: ${message.message}`;
          this.phase = 'lost';
          this.#retire(false);
          this.#settle(null);
        } else if (this.#awaitingAnswer) {
          // `internal` or `rate_limited` before the answer: ask again on a new socket.
          socket.terminate();
        }
        return;
      case 'open':
        this.#emit({ t, k: 'open-room', redirectUrl: message.redirectUrl });
        return;
      case 'pong':
        return;
      default:
        this.#emit({ t, k: 'garbled', text: text.slice(0, 200) });
    }
  }

  /** The socket closed without this visitor closing it: dial again after a pause. */
  #onClose(code: number): void {
    if (this.#opened) this.#emit({ t: now(), k: 'close', code, expected: false });
    if (this.#awaitingAnswer && this.#purpose === 'join') this.unconfirmedJoins += 1;
    this.#socket = null;
    this.#awaitingAnswer = false;
    if (this.phase === 'stopped' || this.phase === 'lost' || this.phase === 'admitted') return;
    const purpose: DialPurpose =
      this.phase === 'rechecking' ? 'recheck' : this.ticket === null ? 'join' : 'resume';
    this.#after(this.options.reconnectMs, () => this.#dial(purpose));
  }

  /** Closes the socket on purpose; its later events are ignored. */
  #retire(abrupt: boolean): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = null;
    if (this.#opened)
      this.#emit({ t: now(), k: 'close', code: abrupt ? 1006 : 1000, expected: true });
    this.#opened = false;
    if (abrupt) socket.terminate();
    else socket.close();
  }

  /** A reload on purpose while waiting: the page goes away and comes back with its ticket. */
  #reload(pauseMs: number): void {
    if (this.phase !== 'waiting') return;
    if (!this.#opened || this.#awaitingAnswer) {
      // Reconnecting after a kill just now: reload once the place is back.
      this.#after(100, () => this.#reload(pauseMs));
      return;
    }
    this.reloads += 1;
    this.#emit({ t: now(), k: 'drop', pauseMs });
    this.#retire(false);
    this.#after(pauseMs, () => {
      if (this.phase === 'waiting' && this.#socket === null) this.#dial('resume');
    });
  }
}
