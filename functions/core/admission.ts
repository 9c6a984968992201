/**
 * Token-bucket admission. Tokens accrue at `admitPerMinute / 60` per second; the bucket holds at
 * most one tick's worth rounded up to a whole admission (so slow rates still admit and fractional
 * rates keep their remainder), which bounds any burst to one tick.
 * A rate of 0 pauses admission and empties the bucket.
 */
import type { RoomState } from './ports.ts';

const MINUTE_MS = 60_000;

/** Capacity of the bucket for a rate and tick interval: one tick's allowance, rounded up. */
export function bucketCapacity(admitPerMinute: number, tickMs: number): number {
  if (admitPerMinute <= 0) return 0;
  return Math.max(1, Math.ceil((admitPerMinute * tickMs) / MINUTE_MS - 1e-9));
}

export interface Allowance {
  /** Whole admissions allowed now. */
  admit: number;
  /** The room state to persist before admitting (tokens already spent). */
  next: RoomState;
}

/**
 * Refills the bucket up to `now` at the current rate and spends whole tokens on up to `demand`
 * admissions. The returned state is written before anyone is admitted, so a crash can only
 * under-admit, never spend the same tokens twice.
 */
export function allowance(
  state: RoomState,
  admitPerMinute: number,
  tickMs: number,
  now: number,
  demand: number,
): Allowance {
  const capacity = bucketCapacity(admitPerMinute, tickMs);
  const elapsed = state.refilledAt === null ? tickMs : Math.max(0, now - state.refilledAt);
  const refilled =
    admitPerMinute <= 0
      ? 0
      : Math.min(capacity, state.tokens + (admitPerMinute * elapsed) / MINUTE_MS);
  const admit = Math.max(0, Math.min(Math.floor(refilled + 1e-9), demand));
  return {
    admit,
    next: {
      ...state,
      tokens: Math.max(0, refilled - admit),
      refilledAt: now,
      recentAdmissions: recordAdmissions(state.recentAdmissions, now, admit),
    },
  };
}

function recordAdmissions(
  recent: RoomState['recentAdmissions'],
  now: number,
  count: number,
): RoomState['recentAdmissions'] {
  const kept = recent.filter((entry) => entry.at > now - MINUTE_MS);
  if (count > 0) kept.push({ at: now, count });
  return kept;
}

/** Admissions recorded in the minute before `now`. */
export function admittedInLastMinute(state: RoomState, now: number): number {
  return state.recentAdmissions
    .filter((entry) => entry.at > now - MINUTE_MS)
    .reduce((sum, entry) => sum + entry.count, 0);
}

/**
 * Estimated seconds until the visitor at `position` is admitted at `admitPerMinute`, or null
 * while admission is paused.
 */
export function etaSeconds(position: number, admitPerMinute: number): number | null {
  if (admitPerMinute <= 0) return null;
  return Math.ceil((position * 60) / admitPerMinute);
}

export const EMPTY_ROOM_STATE: RoomState = {
  tokens: 0,
  refilledAt: null,
  recentAdmissions: [],
  waiting: 0,
  tickedAt: null,
  activeAt: null,
  config: null,
};
