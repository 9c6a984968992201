/**
 * How far a visitor has come from where they joined to the front, as a whole percentage 0–100.
 * Joining at 42 and now at 42 is 0; now at 1 is 98 (one step is left: being let in).
 * Unknown positions give 0; a position above the one at join (it cannot happen) also gives 0.
 */
export function progressPercent(positionAtJoin: number | null, position: number | null): number {
  if (positionAtJoin === null || position === null || positionAtJoin < 1) return 0;
  const moved = positionAtJoin - position;
  if (moved <= 0) return 0;
  return Math.min(100, Math.round((moved / positionAtJoin) * 100));
}

/** The people ahead of a visitor at `position` (1 is the front, with nobody ahead). */
export function peopleAhead(position: number): number {
  return Math.max(0, position - 1);
}

/**
 * How far a proof of work has come, as a whole percentage 0–99, or null when the solver cannot
 * say (indeterminate). The room draws the counter to find uniformly from [0, 2 × expected)
 * (`functions/core/proof-of-work.ts`), so after `tried` attempts the search has finished with
 * probability min(1, tried / (2 × expected)), which is what the bar shows: it moves evenly and
 * is half full at the mean. It never claims 100 before the answer is in.
 */
export function proofPercent(tried: number, expected: number): number | null {
  if (!Number.isFinite(expected) || expected <= 0 || !Number.isFinite(tried)) return null;
  const done = Math.min(1, Math.max(0, tried) / (2 * expected));
  return Math.min(99, Math.floor(done * 100));
}
