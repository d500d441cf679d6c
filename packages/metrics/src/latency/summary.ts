/** Summary statistics of latency samples (milliseconds). */
export interface LatencySummary {
  samples: number;
  mean: number;
  stdev: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

/**
 * The q-quantile (q in [0, 1]) of ascending-sorted values, linearly interpolated between the two
 * nearest ranks (numpy's default, "type 7"): h = (n − 1)·q, x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new Error('quantileSorted: no samples');
  if (!(q >= 0 && q <= 1)) throw new Error(`quantileSorted: q must be in [0, 1], got ${q}`);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Mean, sample standard deviation (n − 1), extremes and p50/p90/p99 of latency samples in ms. */
export function summarizeLatency(samples: ArrayLike<number>): LatencySummary {
  const n = samples.length;
  if (n === 0) throw new Error('summarizeLatency: no samples');
  const sorted = Float64Array.from(samples).sort();
  if (!sorted.every((x) => Number.isFinite(x) && x >= 0)) throw new Error('summarizeLatency: samples must be finite and non-negative');
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? sorted.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  return {
    samples: n,
    mean,
    stdev: Math.sqrt(variance),
    min: sorted[0],
    max: sorted[n - 1],
    p50: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    p99: quantileSorted(sorted, 0.99),
  };
}

/** Examples per second when each run of `batch` examples takes `meanMs` on average. */
export function throughputPerSecond(batch: number, meanMs: number): number {
  if (!(meanMs > 0)) throw new Error(`throughputPerSecond: mean latency must be positive, got ${meanMs} ms`);
  return (batch * 1000) / meanMs;
}
