/**
 * The draw at a scheduled opening, at scale: N sessions in the pre-queue (all connected), over
 * the in-process adapters. Times the tick that finds the schedule and numbers the N arrivals
 * (a takeover, as the first tick of a processor is), the pre-queue's steady ticks, the tick that makes the draw (every member
 * ranked and the line put in the drawn order), the ticks after it, and a takeover after the
 * draw (the line read back and sorted by the draw). The plain tick of `tick.ts` at the same N,
 * in the same run, is the baseline.
 */
import { DRAW_SETTLE_MS } from '../../functions/core/draw.ts';
import { forgetLine, runTick } from '../../functions/core/processor.ts';
import { type Stats, summarize } from './stats.ts';
import { BENCH_START, benchRoom } from './tick.ts';

export interface DrawResult {
  waiting: number;
  /** The first tick: the schedule found, the draw's seed made, the N arrivals numbered. */
  firstMs: number;
  /** Steady ticks before the opening (`prequeue` pushes within the budget). */
  prequeue: Stats;
  /** The tick that makes the draw. */
  drawMs: number;
  /** How many the draw placed. */
  members: number;
  /** Steady ticks after it (positions in the drawn order). */
  after: Stats;
  /** A processor taking over after the draw: the line read and put in the drawn order. */
  takeoverMs: number;
}

export async function benchDraw(waiting: number, runs = 3): Promise<DrawResult> {
  const opensAt = BENCH_START + 60_000;
  // Joined after the schedule was set: the first tick finds it, then numbers them all.
  const room = await benchRoom(
    waiting,
    false,
    { enabled: true, admitPerMinute: 60, opensAt },
    false,
  );
  room.deps.settings.maxArrivalsPerTick = waiting;
  const tick = async () => {
    room.advance(1000);
    const started = performance.now();
    const report = await runTick(room.deps);
    return { ms: performance.now() - started, report };
  };
  const firstMs = (await tick()).ms;
  const prequeue: number[] = [];
  for (let run = 0; run < runs; run++) prequeue.push((await tick()).ms);
  room.advance(opensAt + DRAW_SETTLE_MS - 1000 - room.deps.clock.now());
  const drawn = await tick();
  const after: number[] = [];
  for (let run = 0; run < runs; run++) after.push((await tick()).ms);
  Object.assign(room.deps.memory, forgetLine());
  const takeoverMs = (await tick()).ms;
  await room.close();
  return {
    waiting,
    firstMs,
    prequeue: summarize(prequeue),
    drawMs: drawn.ms,
    members: drawn.report.draw?.members ?? 0,
    after: summarize(after),
    takeoverMs,
  };
}
