/** The geometry of the console's time charts: plain SVG paths over a fixed time window. */

export interface Point {
  at: number;
  value: number | null;
}

export interface Frame {
  width: number;
  height: number;
  /** Space for the axis labels. */
  left: number;
  right: number;
  top: number;
  bottom: number;
  from: number;
  to: number;
  max: number;
}

/** A round top for the value axis, at least `floor`: 1, 2, 2.5, 5 times a power of ten. */
export function niceMax(value: number, floor = 5): number {
  const target = Math.max(value, floor);
  const power = 10 ** Math.floor(Math.log10(target));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= target) return step * power;
  }
  return 10 * power;
}

export const x = (f: Frame, at: number) =>
  f.left + ((at - f.from) / (f.to - f.from)) * (f.width - f.left - f.right);
export const y = (f: Frame, value: number) =>
  f.top + (1 - value / f.max) * (f.height - f.top - f.bottom);

/**
 * The unbroken runs of points inside the window, in chart coordinates: a missing value, or a gap
 * longer than `maxGapMs` (the console was not running), breaks the line.
 */
export function runs(f: Frame, points: readonly Point[], maxGapMs: number): [number, number][][] {
  const all: [number, number][][] = [];
  let run: [number, number][] = [];
  let previous: number | null = null;
  for (const p of points) {
    if (p.at < f.from || p.at > f.to || p.value === null) {
      previous = null;
      continue;
    }
    if (previous === null || p.at - previous > maxGapMs) {
      if (run.length > 0) all.push(run);
      run = [];
    }
    run.push([x(f, p.at), y(f, p.value)]);
    previous = p.at;
  }
  if (run.length > 0) all.push(run);
  return all;
}

const xy = ([px, py]: [number, number]) => `${px.toFixed(1)},${py.toFixed(1)}`;

/** An SVG path for a line (`step`: holds each value until the next, as a setting does). */
export function linePath(
  f: Frame,
  points: readonly Point[],
  maxGapMs: number,
  step = false,
): string {
  return runs(f, points, maxGapMs)
    .map((run) =>
      run
        .map((p, i) => {
          if (i === 0) return `M${xy(p)}`;
          return step ? `H${p[0].toFixed(1)}V${p[1].toFixed(1)}` : `L${xy(p)}`;
        })
        .join(''),
    )
    .join('');
}

/** The same line closed down to the axis, for a filled area. */
export function areaPath(f: Frame, points: readonly Point[], maxGapMs: number): string {
  const base = y(f, 0).toFixed(1);
  return runs(f, points, maxGapMs)
    .map((run) => {
      const first = run[0] as [number, number];
      const last = run.at(-1) as [number, number];
      return `M${first[0].toFixed(1)},${base}${run.map((p) => `L${xy(p)}`).join('')}L${last[0].toFixed(1)},${base}Z`;
    })
    .join('');
}

/** Times for the time axis: every `stepMs` on the clock, inside the window. */
export function timeTicks(from: number, to: number, stepMs: number): number[] {
  const ticks: number[] = [];
  for (let t = Math.ceil(from / stepMs) * stepMs; t <= to; t += stepMs) ticks.push(t);
  return ticks;
}

/** The point nearest to `at`, or null. */
export function nearest<T extends { at: number }>(items: readonly T[], at: number): T | null {
  let best: T | null = null;
  for (const item of items) {
    if (best === null || Math.abs(item.at - at) < Math.abs(best.at - at)) best = item;
  }
  return best;
}
