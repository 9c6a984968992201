/**
 * The plan of a run, decided up front from a seed: when each visitor arrives, which ones churn,
 * abandon or recheck, and when. The same options and seed always plan the same run.
 */
import type { VisitorPlan } from './events.ts';
import type { SimulationOptions } from './options.ts';

/** A small, fast seeded generator (mulberry32): numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Churned visitors stay away this long before they come back (milliseconds). */
export const CHURN_PAUSE_MS = { min: 200, max: 3000 } as const;
/** A rechecking visitor comes back this long after its admission (milliseconds). */
export const RECHECK_PAUSE_MS = { min: 200, max: 1000 } as const;
/** A replaying visitor sends its spent proof again this long after its place was taken. */
export const REPLAY_PAUSE_MS = 200;
/** Churn and abandonment happen between these shares of a visitor's expected wait. */
export const MOMENT_SHARE = { min: 0.1, max: 0.9 } as const;

/** Picks exactly `count` distinct indices of `pool`, in a seeded order. */
function pick(pool: number[], count: number, random: () => number): Set<number> {
  const copy = [...pool];
  const chosen = new Set<number>();
  for (let i = 0; i < count && i < copy.length; i += 1) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j] as number, copy[i] as number];
    chosen.add(copy[i] as number);
  }
  return chosen;
}

type PlanOptions = Pick<
  SimulationOptions,
  'users' | 'rampSeconds' | 'churn' | 'abandon' | 'recheck' | 'seed'
> &
  Partial<Pick<SimulationOptions, 'replay' | 'burst'>>;

/**
 * When visitor `index` arrives (ms from the start): the first `burst` all at 0, a flash crowd;
 * the rest one after another, evenly spaced, the last at the end of the ramp. Without a burst,
 * evenly spaced from 0 (the last just before the end of the ramp), as always.
 */
export function arrivalMs(index: number, users: number, burst: number, rampSeconds: number) {
  if (burst <= 0) return users === 1 ? 0 : (index * rampSeconds * 1000) / users;
  if (index < burst) return 0;
  return ((index - burst + 1) * rampSeconds * 1000) / (users - burst);
}

/**
 * Plans every visitor: a burst at the start and arrivals evenly spaced over the ramp, exactly
 * round(share x users) visitors churning and abandoning (disjoint sets), and rechecking ones
 * among those who stay. Who churns or abandons is drawn the same whatever the burst.
 */
export function planVisitors(
  options: PlanOptions,
  sourceAddresses: readonly string[] = [],
): VisitorPlan[] {
  const { users, rampSeconds, seed } = options;
  const burst = Math.min(users, Math.max(0, options.burst ?? 0));
  const random = seededRandom(seed);
  const between = (range: { min: number; max: number }) =>
    range.min + random() * (range.max - range.min);
  const all = Array.from({ length: users }, (_, i) => i);
  const abandoning = pick(all, Math.round(options.abandon * users), random);
  const staying = all.filter((i) => !abandoning.has(i));
  const churning = pick(staying, Math.round(options.churn * users), random);
  const rechecking = pick(staying, Math.round(options.recheck * staying.length), random);
  // Drawn last, so that a run without replays plans exactly as before.
  const replaying =
    (options.replay ?? 0) > 0
      ? pick(staying, Math.round((options.replay ?? 0) * staying.length), random)
      : new Set<number>();
  return all.map((index) => ({
    index,
    startMs: arrivalMs(index, users, burst, rampSeconds),
    returnPath: `/sim/${index}`,
    churn: churning.has(index)
      ? { atShare: between(MOMENT_SHARE), pauseMs: Math.round(between(CHURN_PAUSE_MS)) }
      : null,
    abandon: abandoning.has(index) ? { atShare: between(MOMENT_SHARE) } : null,
    recheck: rechecking.has(index) ? { pauseMs: Math.round(between(RECHECK_PAUSE_MS)) } : null,
    replay: replaying.has(index) ? { pauseMs: REPLAY_PAUSE_MS } : null,
    localAddress:
      sourceAddresses.length === 0
        ? null
        : (sourceAddresses[index % sourceAddresses.length] as string),
  }));
}
