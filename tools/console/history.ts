/**
 * The console's memory of the room: one sample per interval for the last hour (and minute
 * figures from CloudWatch before the console started, on AWS). It derives what a single look at
 * the room cannot give: joins and abandonments in the last minute, from successive totals.
 */
import type { ConsoleSample, ScheduleFigures } from './protocol.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
/** Below this much history a per-minute figure is not extrapolated (a few seconds are noise). */
const MIN_WINDOW_MS = 10_000;

/** One look at the room, as a source gives it: what it cannot tell is null. */
export interface RoomReading {
  enabled: boolean | null;
  admitPerMinute: number | null;
  waiting: number | null;
  arriving: number | null;
  admittedLastMinute: number | null;
  admittedTotal: number | null;
  abandonedTotal: number | null;
  connections: number | null;
  /** Minute figures a source has directly (CloudWatch); else derived from the totals. */
  joinsLastMinute?: number | null;
  abandonedLastMinute?: number | null;
  schedule: ScheduleFigures | null;
  powCost: number | null;
  message: string | null;
  closed: string | null;
  error: string | null;
}

/** Every visitor who ever took a place: in line, arriving, admitted or gone. */
function joinedTotal(s: ConsoleSample | RoomReading): number | null {
  if (s.admittedTotal === null || s.abandonedTotal === null || s.waiting === null) return null;
  return s.admittedTotal + s.abandonedTotal + s.waiting + (s.arriving ?? 0);
}

/** Seconds until the last in line is admitted: waiting / rate, or null (paused, off, unknown). */
export function lastInLineWaitSeconds(
  waiting: number | null,
  admitPerMinute: number | null,
  enabled: boolean | null,
): number | null {
  if (waiting === null || admitPerMinute === null || enabled !== true || admitPerMinute <= 0) {
    return null;
  }
  return Math.ceil((waiting * 60) / admitPerMinute);
}

export class SampleHistory {
  readonly #samples: ConsoleSample[] = [];

  constructor(readonly keepMs: number = HOUR_MS) {}

  /** Oldest first. */
  samples(): ConsoleSample[] {
    return [...this.#samples];
  }

  latest(): ConsoleSample | undefined {
    return this.#samples.at(-1);
  }

  /**
   * Puts minute figures from before the console's own samples (CloudWatch) in front of them;
   * those at or after the first live sample are dropped (the live ones are finer).
   */
  seed(older: readonly ConsoleSample[]): void {
    const firstLive =
      this.#samples.find((s) => s.origin === 'live')?.at ?? Number.POSITIVE_INFINITY;
    const known = new Set(this.#samples.map((s) => s.at));
    const fresh = older.filter((s) => s.at < firstLive && !known.has(s.at));
    this.#samples.push(...fresh);
    this.#samples.sort((a, b) => a.at - b.at);
    this.#trim(this.#samples.at(-1)?.at ?? 0);
  }

  /** Turns a reading into a sample (deriving the minute figures), keeps it and returns it. */
  add(reading: RoomReading, at: number): ConsoleSample {
    const sample: ConsoleSample = {
      at,
      origin: 'live',
      enabled: reading.enabled,
      admitPerMinute: reading.admitPerMinute,
      waiting: reading.waiting,
      arriving: reading.arriving,
      admittedLastMinute: reading.admittedLastMinute,
      joinsLastMinute:
        reading.joinsLastMinute !== undefined
          ? reading.joinsLastMinute
          : this.#perMinute(at, joinedTotal(reading), joinedTotal),
      abandonedLastMinute:
        reading.abandonedLastMinute !== undefined
          ? reading.abandonedLastMinute
          : this.#perMinute(at, reading.abandonedTotal, (s) => s.abandonedTotal),
      admittedTotal: reading.admittedTotal,
      abandonedTotal: reading.abandonedTotal,
      connections: reading.connections,
      // Arrivals not numbered yet are in line too, behind everyone numbered.
      lastInLineWaitSeconds: lastInLineWaitSeconds(
        reading.waiting === null ? null : reading.waiting + (reading.arriving ?? 0),
        reading.admitPerMinute,
        reading.enabled,
      ),
      schedule: reading.schedule,
      powCost: reading.powCost,
      message: reading.message,
      closed: reading.closed,
      error: reading.error,
    };
    this.#samples.push(sample);
    this.#trim(at);
    return sample;
  }

  /**
   * How much a total grew in the last minute: against the oldest live sample of that minute;
   * while the console holds less than a minute, extrapolated from what it holds. When the total
   * went down in that minute (the room restarted and counts afresh), the window starts after the
   * last drop, or after the last sample without it (a restart may hide there): against the old
   * base, a drop then regrowth past it would give too low a figure. Null with too little to go on,
   * or when the total went down just now.
   */
  #perMinute(
    at: number,
    now: number | null,
    total: (s: ConsoleSample) => number | null,
  ): number | null {
    if (now === null) return null;
    let base: { at: number; total: number } | null = null;
    let previous: number | null = null;
    for (const s of this.#samples) {
      if (s.origin !== 'live' || s.at < at - MINUTE_MS) continue;
      const value = total(s);
      if (value === null) {
        base = null;
      } else if (base === null || (previous !== null && value < previous)) {
        base = { at: s.at, total: value };
      }
      previous = value;
    }
    if (!base || (previous !== null && now < previous)) return null;
    const window = at - base.at;
    if (window < MIN_WINDOW_MS) return null;
    const grown = now - base.total;
    return window >= MINUTE_MS - MIN_WINDOW_MS ? grown : Math.round((grown * MINUTE_MS) / window);
  }

  #trim(now: number): void {
    const oldest = now - this.keepMs;
    let drop = 0;
    while (drop < this.#samples.length && (this.#samples[drop] as ConsoleSample).at < oldest) {
      drop += 1;
    }
    if (drop > 0) this.#samples.splice(0, drop);
  }
}
