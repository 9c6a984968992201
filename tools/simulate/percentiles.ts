/** Nearest-rank percentiles, for the report's latencies. */

export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** Nearest-rank percentiles of `values` (milliseconds, rounded to 0.1). */
export function percentiles(values: readonly number[]): Percentiles {
  if (values.length === 0) {
    return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  }
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return round(sorted[rank - 1] as number);
  };
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: round(sorted[sorted.length - 1] as number),
    mean: round(sum / sorted.length),
  };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
