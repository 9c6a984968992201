/**
 * Which changes the operator must confirm: the console server refuses them without
 * `confirm: true` (409), and the page asks in a modal dialog first. One rule for both, so the
 * page imports this file (it imports nothing, and adds a few lines to the page's bundle).
 */

/** A rate above this many a minute, and more than {@link SURGE_FACTOR} times the current one, is a surge. */
export const SURGE_FLOOR_PER_MINUTE = 600;
export const SURGE_FACTOR = 10;

/** What the rule looks at: the room as the latest sample shows it (null: unknown). */
export interface CurrentRoom {
  admitPerMinute: number | null;
  /** Everyone in line: numbered and arriving. */
  inLine: number | null;
}

/**
 * Why a change needs the operator's confirmation, or null:
 * - turning the room off lets everyone in at once;
 * - a rate of 0 stops admission;
 * - a rate at least the whole line (with someone in it) lets the line in within about a minute;
 * - a rate more than ten times the current one and above 600 a minute (above 600 when the
 *   current rate is unknown) floods the site;
 * - closing the sale ends it for everyone waiting.
 */
export function confirmationNeeded(
  change: { enabled?: boolean; admitPerMinute?: number; closed?: string | null },
  current: CurrentRoom,
): string | null {
  if (change.enabled === false) return 'turning the room off lets everyone in at once';
  if (typeof change.closed === 'string') {
    return 'closing the sale admits nobody more: everyone waiting is told it is over';
  }
  const rate = change.admitPerMinute;
  if (rate === undefined) return null;
  if (rate === 0) return 'a rate of 0 stops admission';
  const { inLine, admitPerMinute } = current;
  if (inLine !== null && inLine > 0 && rate >= inLine) {
    return `a rate of ${rate} a minute lets all ${inLine} in line in within about a minute`;
  }
  if (
    rate > SURGE_FLOOR_PER_MINUTE &&
    (admitPerMinute === null || rate > SURGE_FACTOR * admitPerMinute)
  ) {
    return admitPerMinute === null
      ? `a rate of ${rate} a minute is above ${SURGE_FLOOR_PER_MINUTE} and the current rate is unknown`
      : `a rate of ${rate} a minute is more than ${SURGE_FACTOR} times the current ${admitPerMinute}`;
  }
  return null;
}
