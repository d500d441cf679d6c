import { describe, expect, it } from 'vitest';
import { medianInterval, quantileSorted, summarizeLatency, throughputPerSecond } from './summary.js';

describe('latency statistics', () => {
  it('interpolates quantiles between ranks (numpy default)', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantileSorted(sorted, 0.5)).toBe(5.5); // h = 4.5
    expect(quantileSorted(sorted, 0.9)).toBeCloseTo(9.1, 12); // h = 8.1
    expect(quantileSorted(sorted, 0.99)).toBeCloseTo(9.91, 12); // h = 8.91
    expect(quantileSorted(sorted, 0)).toBe(1);
    expect(quantileSorted(sorted, 1)).toBe(10);
    expect(quantileSorted([7], 0.99)).toBe(7);
  });

  it('summarises unsorted samples', () => {
    const s = summarizeLatency([4, 1, 3, 2]);
    expect(s).toMatchObject({ samples: 4, mean: 2.5, min: 1, max: 4, p50: 2.5 });
    expect(s.stdev).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(s.p90).toBeCloseTo(3.7, 12); // h = 2.7 between 3 and 4
    expect(s.p99).toBeCloseTo(3.97, 12);
    expect(summarizeLatency([2]).stdev).toBe(0);
  });

  it('throughput in examples per second', () => {
    expect(throughputPerSecond(128, 64)).toBe(2000);
    expect(() => throughputPerSecond(1, 0)).toThrow(/positive/);
  });

  it('rejects empty or bad samples', () => {
    expect(() => summarizeLatency([])).toThrow(/no samples/);
    expect(() => summarizeLatency([1, NaN])).toThrow(/finite/);
    expect(() => quantileSorted([1], 1.5)).toThrow(/q must be/);
  });

  it('gives the order-statistic interval of the median with its binomial coverage', () => {
    // n = 10: [x(2), x(9)] covers 1 − 2·11/1024 ≈ 97.9 %; [x(3), x(8)] would only cover 89 %.
    const ten = medianInterval([10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
    expect(ten).toEqual({ median: 5.5, low: 2, high: 9, confidence: 1 - 22 / 1024 });
    // n = 6 is the fewest with 95 %: [min, max], 1 − 2/64.
    expect(medianInterval([3, 1, 2, 6, 5, 4])).toMatchObject({ low: 1, high: 6, confidence: 1 - 2 / 64 });
    // Too few for 95 %: [min, max] with the coverage it has.
    expect(medianInterval([2, 1, 3])).toEqual({ median: 2, low: 1, high: 3, confidence: 0.75 });
    // A lower coverage asked for narrows the interval.
    expect(medianInterval([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 0.8)).toMatchObject({ low: 3, high: 8 });
    const many = medianInterval(Array.from({ length: 101 }, (_, i) => i));
    expect(many.confidence).toBeGreaterThanOrEqual(0.95);
    expect(many.low).toBeLessThan(50);
    expect(many.high).toBeGreaterThan(50);
    expect(many.high - 50).toBe(50 - many.low);
  });

  it('rejects an empty list, non-finite values and a bad confidence', () => {
    expect(() => medianInterval([])).toThrow(/no values/);
    expect(() => medianInterval([1, Infinity])).toThrow(/finite/);
    expect(() => medianInterval([1, 2], 1)).toThrow(/confidence/);
  });
});
