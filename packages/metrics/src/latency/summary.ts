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

/** A median with a distribution-free confidence interval (order statistics of the binomial(n, ½) law). */
export interface MedianInterval {
  median: number;
  low: number;
  high: number;
  /** The interval's actual coverage, at least the one asked for when there are enough values (n ≥ 6 for 95 %). */
  confidence: number;
}

/**
 * The median of `values` and the order-statistic interval [x(k), x(n−k+1)] (1-based ranks) with the largest k whose
 * coverage 1 − 2·P(B < k), B ~ binomial(n, ½), is still at least `confidence`. It assumes only that the values are
 * independent draws of one distribution. With too few values for the coverage asked, it is [min, max] with the
 * coverage that has (1 − 2^(1−n)).
 */
export function medianInterval(values: ArrayLike<number>, confidence = 0.95): MedianInterval {
  const n = values.length;
  if (n === 0) throw new Error('medianInterval: no values');
  if (!(confidence > 0 && confidence < 1)) throw new Error(`medianInterval: confidence must be in (0, 1), got ${confidence}`);
  const sorted = Float64Array.from(values).sort();
  if (!sorted.every(Number.isFinite)) throw new Error('medianInterval: values must be finite');
  let k = 1;
  let pmf = 0.5 ** n; // P(B = k − 1)
  let cdf = pmf; // P(B ≤ k − 1): the chance that the median lies below x(k)
  while (k + 1 <= Math.floor((n + 1) / 2)) {
    const nextPmf = (pmf * (n - k + 1)) / k;
    if (1 - 2 * (cdf + nextPmf) < confidence) break;
    pmf = nextPmf;
    cdf += nextPmf;
    k++;
  }
  return { median: quantileSorted(sorted, 0.5), low: sorted[k - 1], high: sorted[n - k], confidence: 1 - 2 * cdf };
}
