/**
 * Processor tick cost: one tick of the core over the in-process adapters with N sessions
 * waiting (all connected, each due a position): the first tick, which reads the line as a
 * processor taking the lease over does, and the steady ticks after it, which keep the line in
 * memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDurableRoom } from '../../functions/adapters/local/durable-room.ts';
import { MemoryArrivalQueue } from '../../functions/adapters/local/memory-arrival-queue.ts';
import { MemoryConfigSource } from '../../functions/adapters/local/memory-config.ts';
import { MemorySessionStore } from '../../functions/adapters/local/memory-session-store.ts';
import { openRoomFile } from '../../functions/adapters/local/room-file.ts';
import type {
  ArrivalQueue,
  Clock,
  Delivery,
  Notifier,
  RoomConfig,
  SessionStore,
} from '../../functions/core/ports.ts';
import { DEFAULT_PROCESSOR_SETTINGS, forgetLine, runTick } from '../../functions/core/processor.ts';
import { newSession } from '../../functions/core/session.ts';
import { createSigner, generateSigningKey } from '../../functions/core/tokens.ts';
import { type Stats, summarize } from './stats.ts';

export interface TickResult {
  waiting: number;
  /** Whether the store was the disk one (`WR_DATA_DIR`) rather than memory only. */
  onDisk: boolean;
  tick: Stats;
  /** The first tick, reading the whole line (a takeover). */
  takeoverMs: number;
  /** Mean positions sent by a steady tick. */
  positionsSent: number;
}

/**
 * Builds a room with `waiting` connected sessions and times the first tick and `runs` more;
 * with `onDisk`, on the local runtime's disk store in a temporary data directory.
 */
export async function benchTick(waiting: number, runs = 5, onDisk = false): Promise<TickResult> {
  const room = await benchRoom(waiting, onDisk);
  const { deps, counter } = room;
  const tickTimes: number[] = [];
  let takeoverMs = 0;
  let steadySent = 0;
  for (let run = 0; run <= runs; run++) {
    room.advance(1000);
    counter.sent = 0;
    const started = performance.now();
    await runTick(deps);
    if (run > 0) {
      tickTimes.push(performance.now() - started);
      steadySent += counter.sent;
    } else {
      takeoverMs = performance.now() - started;
    }
  }
  await room.close();
  return {
    waiting,
    onDisk,
    tick: summarize(tickTimes),
    takeoverMs,
    positionsSent: steadySent / runs,
  };
}

/** The benchmark's epoch: every session joins at it. */
export const BENCH_START = Date.UTC(2026, 0, 1);

/**
 * A room with `waiting` connected sessions, all numbered, its processor's dependencies, a
 * counter of pushes, a clock to move, and `close` (with `onDisk`, the local runtime's disk store
 * in a temporary data directory). `config` is the room's live config; without `numbered`, the
 * arrivals are left in the queue for the first tick.
 */
export async function benchRoom(
  waiting: number,
  onDisk = false,
  config: RoomConfig = { enabled: true, admitPerMinute: 60 },
  numbered = true,
) {
  let time = BENCH_START;
  const clock: Clock = { now: () => time };
  const dir = onDisk ? mkdtempSync(join(tmpdir(), 'wr-bench-')) : null;
  const file = dir ? openRoomFile(dir, 'bench') : null;
  const { store, queue }: { store: SessionStore; queue: ArrivalQueue } = file
    ? openDurableRoom(file, clock)
    : { store: new MemorySessionStore(), queue: new MemoryArrivalQueue(clock) };
  // Joined a thousand at a time (one commit each on disk, as concurrent joins are).
  for (let from = 0; from < waiting; from += 1000) {
    const ids = Array.from({ length: Math.min(1000, waiting - from) }, (_, i) => `s${from + i}`);
    await Promise.all(
      ids.map(async (id, i) => {
        await store.create(newSession(id, `c${from + i}`, '/', time));
        await queue.enqueue({ sessionId: id, joinedAt: time });
      }),
    );
  }
  // Number everyone up front: the benchmark is the steady-state tick, not the first drain.
  for (
    let batch = numbered ? await queue.receive(10_000) : [];
    batch.length > 0;
    batch = await queue.receive(10_000)
  ) {
    await store.numberArrivals(batch);
    await queue.acknowledge(batch);
  }
  const counter = { sent: 0 };
  const notifier: Notifier = {
    async send(): Promise<Delivery> {
      counter.sent += 1;
      return 'sent';
    },
  };
  const key = await generateSigningKey();
  const deps = {
    store,
    queue,
    notifier,
    clock,
    config: new MemoryConfigSource(config),
    signer: createSigner({
      key,
      roomId: 'bench',
      mainOrigin: 'https://shop.example.com',
      passTtlSeconds: 600,
    }),
    settings: {
      ...DEFAULT_PROCESSOR_SETTINGS,
      mainOrigin: 'https://shop.example.com',
      // Everyone's position changes every tick (one admission); the default budget decides
      // how many hear it.
    },
    memory: forgetLine(),
  };
  return {
    deps,
    counter,
    advance(ms: number) {
      time += ms;
    },
    async close() {
      await file?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
