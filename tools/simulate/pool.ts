/**
 * Plays a set of planned visitors over real WebSockets: launches each at its planned moment,
 * relays what they see, and closes everything at the end. A worker process runs one pool; with
 * `--workers 0` the parent runs one itself.
 */
import WebSocket from 'ws';
import type { TraceEvent, VisitorPlan, VisitorState } from './events.ts';
import {
  DEFAULT_VISITOR_SETTINGS,
  type SimSocket,
  SimVisitor,
  type SocketEvents,
  type VisitorEnv,
  type VisitorSettings,
} from './visitor.ts';

/** Epoch milliseconds with sub-millisecond precision; comparable across processes. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Opens a real WebSocket to `url` for a visitor. */
export function realSocketFactory(url: string): VisitorEnv['connect'] {
  const host = new URL(url).hostname.toLowerCase();
  return (plan: VisitorPlan, events: SocketEvents): SimSocket => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
      maxPayload: 64 * 1024,
      ...(plan.localAddress
        ? // `localhost` must then resolve to IPv4, the family of the source address.
          { localAddress: plan.localAddress, ...(host === 'localhost' ? { family: 4 } : {}) }
        : {}),
    });
    ws.on('open', () => events.open());
    ws.on('message', (data) => events.message(data.toString()));
    ws.on('close', (code) => events.close(code));
    ws.on('error', (error) => events.error(error.message));
    openSockets.add(ws);
    ws.once('close', () => openSockets.delete(ws));
    return {
      send: (text) => ws.send(text),
      close: (abrupt) => (abrupt ? ws.terminate() : ws.close(1000)),
    };
  };
}

/** Every socket this process opened and that has not closed yet. */
const openSockets = new Set<WebSocket>();

export interface PoolOptions {
  plans: readonly VisitorPlan[];
  connect: VisitorEnv['connect'];
  emit: (index: number, event: TraceEvent) => void;
  /** Called once when every visitor of the pool has reached a final state. */
  onAllSettled?: () => void;
  settings?: VisitorSettings;
  now?: () => number;
  /** Solves proof-of-work challenges (see `solver.ts`). */
  solve?: VisitorEnv['solve'];
}

export class VisitorPool {
  readonly visitors: SimVisitor[];
  #settled = 0;
  #launcher: NodeJS.Timeout | null = null;
  #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(private readonly options: PoolOptions) {
    const now = options.now ?? preciseNow;
    const env: VisitorEnv = {
      now,
      connect: options.connect,
      schedule: (ms, fn) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          fn();
        }, ms);
        this.#timers.add(timer);
        return () => {
          clearTimeout(timer);
          this.#timers.delete(timer);
        };
      },
      random: Math.random,
      emit: options.emit,
      ...(options.solve ? { solve: options.solve } : {}),
      settled: (_index: number, _state: VisitorState) => {
        this.#settled += 1;
        if (this.#settled === this.visitors.length && !this.#stopped) options.onAllSettled?.();
      },
    };
    this.visitors = [...options.plans]
      .sort((a, b) => a.startMs - b.startMs)
      .map((plan) => new SimVisitor(plan, env, options.settings ?? DEFAULT_VISITOR_SETTINGS));
  }

  get settledCount(): number {
    return this.#settled;
  }

  /** Launches the visitors, each at `t0` + its planned start (epoch ms). */
  start(t0: number): void {
    if (this.visitors.length === 0) {
      this.options.onAllSettled?.();
      return;
    }
    let next = 0;
    const now = this.options.now ?? preciseNow;
    const launch = () => {
      const elapsed = now() - t0;
      while (
        next < this.visitors.length &&
        (this.visitors[next] as SimVisitor).plan.startMs <= elapsed
      ) {
        (this.visitors[next] as SimVisitor).start();
        next += 1;
      }
      if (next >= this.visitors.length && this.#launcher) {
        clearInterval(this.#launcher);
        this.#launcher = null;
      }
    };
    this.#launcher = setInterval(launch, 5);
    launch();
  }

  /** Has every waiting visitor ask its position once more, and waits up to `ms` for answers. */
  async rollCall(ms: number): Promise<void> {
    const waiting = this.visitors.filter((v) => v.state === 'waiting');
    if (waiting.length === 0 || ms <= 0) return;
    for (const v of waiting) v.rollCall();
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Stops every visitor and closes every socket (forcibly after `graceMs`). */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopped = true;
    if (this.#launcher) clearInterval(this.#launcher);
    this.#launcher = null;
    for (const v of this.visitors) v.stop();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await closeAllSockets(graceMs);
  }
}

/** Waits for every open socket of this process to close, terminating the rest after `graceMs`. */
export async function closeAllSockets(graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (openSockets.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const ws of openSockets) ws.terminate();
  openSockets.clear();
}
