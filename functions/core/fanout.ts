/**
 * The fan-out budget: which waiting visitors hear their position this tick.
 *
 * A `position` costs one push per visitor (on AWS one `postToConnection`, sharing the account's
 * 10,000 requests a second), so a tick may only spend so many. When every due update fits, all
 * are sent. When they do not, the plan ranks them:
 *
 * 1. overdue: not updated for `maxIntervalMs` (oldest first), so no one waits unbounded;
 * 2. near the front and changed, or never told a position yet (closest first);
 * 3. changed elsewhere in the line and not told for `refreshMs`, by how much of their position
 *    they moved (largest first): behind the front a place is told at most every `refreshMs`;
 * 4. unchanged but due a refresh after `refreshMs` (oldest first).
 *
 * Ranking uses a fixed number of buckets rather than a sort, so a plan costs O(candidates): the
 * tick offers a bounded set of them (see `line.ts`), never the whole line.
 */

export interface FanoutSettings {
  /** Position messages this tick may send. */
  budget: number;
  /**
   * An unchanged position is sent again after this long (a keep-alive for the page); behind the
   * front, a changed one waits as long since the last push.
   */
  refreshMs: number;
  /** Nobody waits longer than this for an update, as long as the budget can carry the line. */
  maxIntervalMs: number;
  /** Positions up to this one count as the front of the line. */
  frontCount: number;
}

/** What the plan reads of a waiting session: what it was told, and whether it can be told. */
export interface FanoutEntry {
  sentPosition: number | null;
  sentAt: number | null;
  joinedAt: number;
  connectionId: string | null;
  disconnectedAt: number | null;
}

/** A session the tick may tell its position, with that position (1 + sessions ahead). */
export interface FanoutCandidate<E extends FanoutEntry = FanoutEntry> {
  entry: E;
  position: number;
}

const TIERS = 4;
const STEPS = 16;
const NOT_DUE = -1;

/**
 * Returns the indices into `candidates` of the sessions to update this tick, in the order
 * given. Sessions without a live connection are skipped. Every session whose position changed
 * or whose refresh is due is chosen when they number no more than `settings.budget`; otherwise
 * the best `budget` of them by the ranking above.
 */
export function planPositionUpdates(
  candidates: readonly FanoutCandidate[],
  now: number,
  settings: FanoutSettings,
): number[] {
  const buckets = new Int16Array(candidates.length);
  const counts = new Array<number>(TIERS * STEPS).fill(0);
  let due = 0;
  for (let i = 0; i < candidates.length; i++) {
    const { entry, position } = candidates[i] as FanoutCandidate;
    const bucket = bucketOf(entry, position, now, settings);
    buckets[i] = bucket;
    if (bucket !== NOT_DUE) {
      counts[bucket] = (counts[bucket] as number) + 1;
      due += 1;
    }
  }
  const budget = Math.max(0, Math.floor(settings.budget));
  if (due <= budget) return indicesWhere(buckets, (b) => b !== NOT_DUE);

  // Find the lowest bucket that still (partly) fits, then take every candidate above it and, in
  // the order given, as many of that bucket as the budget leaves room for.
  let remaining = budget;
  let cutoff = counts.length - 1;
  for (; cutoff >= 0; cutoff--) {
    const count = counts[cutoff] as number;
    if (count >= remaining) break;
    remaining -= count;
  }
  const chosen: number[] = [];
  for (let i = 0; i < buckets.length; i++) {
    const bucket = buckets[i] as number;
    if (bucket > cutoff) chosen.push(i);
    else if (bucket === cutoff && remaining > 0) {
      chosen.push(i);
      remaining -= 1;
    }
  }
  return chosen;
}

/** The bucket of a session: tier * STEPS + step, higher first; NOT_DUE if nothing to say. */
function bucketOf(c: FanoutEntry, position: number, now: number, s: FanoutSettings): number {
  if (c.connectionId === null || c.disconnectedAt !== null) return NOT_DUE;
  const age = now - (c.sentAt ?? c.joinedAt);
  if (age >= s.maxIntervalMs) {
    return 3 * STEPS + step(Math.min(1, (age - s.maxIntervalMs) / s.maxIntervalMs));
  }
  // Never told a position on this connection: a new visitor, or one who just came back.
  if (c.sentPosition === null || c.sentAt === null) return 2 * STEPS + (STEPS - 1);
  const changed = position !== c.sentPosition;
  if (changed && position <= s.frontCount) {
    return 2 * STEPS + step(1 - (position - 1) / s.frontCount);
  }
  // Behind the front a place is told at most every refresh, moved or not: each push is an API
  // message, and at every tick a 20-minute wait would cost 1,200 of them a visitor.
  if (age < s.refreshMs) return NOT_DUE;
  if (changed) {
    return STEPS + step(Math.max(0, (c.sentPosition - position) / c.sentPosition));
  }
  return step(Math.min(1, age / s.maxIntervalMs));
}

function step(fraction: number): number {
  return Math.min(STEPS - 1, Math.floor(fraction * STEPS));
}

function indicesWhere(values: Int16Array, test: (value: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (test(values[i] as number)) out.push(i);
  return out;
}
