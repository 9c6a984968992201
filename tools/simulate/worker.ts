/**
 * A worker process of the simulator: plays the visitors the parent hands it and streams their
 * events back over IPC in packed batches. It stops when told, or when the parent goes away.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type PackedEvent, packEvent, type VisitorPlan } from './events.ts';
import { realSocketFactory, VisitorPool } from './pool.ts';
import { createSolver } from './solver.ts';
import type { VisitorSettings } from './visitor.ts';

/** Parent to worker. */
export type ToWorker =
  | { type: 'init'; url: string; plans: VisitorPlan[]; settings: VisitorSettings }
  | { type: 'start'; t0: number }
  | { type: 'stop'; rollCallMs: number };

/** Worker to parent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'events'; events: PackedEvent[] }
  | { type: 'settled' }
  | { type: 'stopped' }
  | { type: 'stats'; rssMb: number; loopDelayP99Ms: number; loopDelayMaxMs: number }
  | { type: 'failed'; message: string };

/** How often packed events go to the parent. */
const FLUSH_MS = 100;

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) {
      resolve();
      return;
    }
    process.send(message, undefined, undefined, () => resolve());
  });
}

// How late this process's event loop runs: if it lags, the timings it measures lag too.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function stats(): FromWorker {
  return {
    type: 'stats',
    rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
    loopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
    loopDelayMaxMs: Math.round(loopDelay.max / 1e6),
  };
}

let pool: VisitorPool | null = null;
let batch: PackedEvent[] = [];
let flusher: NodeJS.Timeout | null = null;
let stopping = false;

async function flush(): Promise<void> {
  if (batch.length === 0) return;
  const events = batch;
  batch = [];
  await send({ type: 'events', events });
}

async function stop(rollCallMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await pool?.rollCall(rollCallMs);
  await pool?.stop();
  if (flusher) clearInterval(flusher);
  await flush();
  await send(stats());
  await send({ type: 'stopped' });
  if (process.connected) process.disconnect?.();
  // Nothing should be left, but never linger.
  setTimeout(() => process.exit(0), 2000).unref();
}

process.on('message', (message: ToWorker) => {
  try {
    if (message.type === 'init') {
      pool = new VisitorPool({
        plans: message.plans,
        settings: message.settings,
        connect: realSocketFactory(message.url),
        emit: (index, event) => batch.push(packEvent(index, event)),
        solve: createSolver(),
        onAllSettled: () => {
          void flush().then(() => send({ type: 'settled' }));
        },
      });
      void send({ type: 'ready' });
    } else if (message.type === 'start') {
      let ticks = 0;
      flusher = setInterval(() => {
        void flush();
        ticks += 1;
        if (ticks % 10 === 0) void send(stats());
      }, FLUSH_MS);
      pool?.start(message.t0);
    } else if (message.type === 'stop') {
      void stop(message.rollCallMs);
    }
  } catch (error) {
    void send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
});

// Ctrl-C reaches the whole process group: the parent decides when the workers stop.
process.on('SIGINT', () => {});
process.on('disconnect', () => {
  if (!stopping) void stop(0).finally(() => process.exit(0));
});
