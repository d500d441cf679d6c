import { describe, expect, it } from 'vitest';
import { quantileSorted, summarizeLatency, throughputPerSecond } from './summary.js';

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
});
