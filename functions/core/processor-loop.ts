/**
 * The processor's outer loop: ticks at a steady interval while it holds the lease, until a
 * deadline. On AWS one scheduled invocation runs it for about a minute (EventBridge schedules
 * are at least a minute apart); the clock and the sleep are passed in, so a test drives it with
 * a manual clock.
 */
import type { Lease, LeaseGrant } from './lease.ts';
import type { Clock } from './ports.ts';
import type { TickReport } from './processor.ts';

export interface ProcessorLoopOptions {
  lease: Lease;
  clock: Clock;
  /** Waits `ms` (advances a manual clock in tests). */
  sleep: (ms: number) => Promise<void>;
  /**
   * Runs one tick of the room; `takenOver` when the lease was just taken (not renewed): what
   * the processor remembers of the room may be stale and must be read again. `stillHeld`
   * renews the lease and says whether this processor held it all along (for a tick to ask
   * before it sends what it computed).
   */
  tick: (takenOver: boolean, stillHeld: () => Promise<boolean>) => Promise<TickReport>;
  /** Interval between tick starts; also how often a held lease is tried again. */
  tickMs: number;
  /** How long each acquisition or renewal holds the lease; longer than any tick. */
  leaseMs: number;
  /** Epoch ms at or after which no tick starts. */
  deadline: number;
  /** Stops the loop (after the tick in progress) when aborted; the local runtime's shutdown. */
  signal?: AbortSignal;
  onTick?: (report: TickReport) => void;
  /** Told about a failed tick or a failed lease call; the loop carries on. */
  onError?: (error: unknown, during: 'tick' | 'lease') => void;
}

export interface ProcessorLoopOutcome {
  ticks: number;
  failedTicks: number;
  /** Whether this loop held the lease at some point. */
  held: boolean;
  /** `deadline`: ran out of time (lease released); `lease-lost`: another processor took over. */
  ended: 'deadline' | 'lease-lost';
}

/**
 * Ticks every `tickMs` while holding the lease, renewing it before each tick, until the next
 * tick would start at or after the deadline; then releases the lease so that the next
 * invocation takes over at once. While another processor holds the lease it retries every
 * `tickMs` (the previous invocation releases it when its own deadline comes). A failed tick is
 * reported and the next one runs as usual: every step of a tick is safe to repeat.
 */
export async function runProcessorLoop(
  options: ProcessorLoopOptions,
): Promise<ProcessorLoopOutcome> {
  const { lease, clock, sleep, tickMs, leaseMs, deadline } = options;
  let ticks = 0;
  let failedTicks = 0;
  let held = false;
  let holding = false;
  // Ticks keep to a fixed grid (start + k * tickMs) rather than "tickMs after the last one
  // began": a timer never fires early, so the latter drifts late every tick and the token
  // bucket, which holds one tick's worth, would throw the extra time away (seen as 2-3% fewer
  // admissions than the rate under load).
  let nextAt = clock.now();
  try {
    while (clock.now() < deadline && !options.signal?.aborted) {
      const startedAt = clock.now();
      const granted = await tryAcquire(options, startedAt, leaseMs);
      if (granted === false && holding) {
        holding = false;
        return { ticks, failedTicks, held, ended: 'lease-lost' };
      }
      // `unknown` (the renewal call failed): a tick is skipped, as the lease may have lapsed.
      if (granted === 'taken' || granted === 'renewed') {
        held = true;
        holding = true;
        try {
          const stillHeld = async () =>
            (await tryAcquire(options, clock.now(), leaseMs)) === 'renewed';
          const report = await options.tick(granted === 'taken', stillHeld);
          ticks += 1;
          options.onTick?.(report);
        } catch (error) {
          failedTicks += 1;
          options.onError?.(error, 'tick');
        }
      }
      // A tick that overran its slot skips the slots it missed rather than running them back
      // to back.
      nextAt = Math.max(nextAt + tickMs, clock.now());
      if (nextAt >= deadline || options.signal?.aborted) break;
      const wait = nextAt - clock.now();
      if (wait > 0) await sleep(wait);
    }
    return { ticks, failedTicks, held, ended: 'deadline' };
  } finally {
    if (holding) {
      try {
        await lease.release();
      } catch (error) {
        // It lapses by itself within `leaseMs`.
        options.onError?.(error, 'lease');
      }
    }
  }
}

async function tryAcquire(
  options: ProcessorLoopOptions,
  now: number,
  leaseMs: number,
): Promise<LeaseGrant | 'unknown'> {
  try {
    return await options.lease.acquire(now, leaseMs);
  } catch (error) {
    options.onError?.(error, 'lease');
    return 'unknown';
  }
}
