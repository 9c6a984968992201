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
 * say (indeterminate). A search is done when it is lucky, not at a count: after `tried` hashes
 * of `expected` on average it has finished with probability 1 − e^(−tried/expected), which is
 * what the bar shows. It never claims 100 before the answer is in.
 */
export function proofPercent(tried: number, expected: number): number | null {
  if (!Number.isFinite(expected) || expected <= 0 || !Number.isFinite(tried)) return null;
  const done = 1 - Math.exp(-Math.max(0, tried) / expected);
  return Math.min(99, Math.floor(done * 100));
}
