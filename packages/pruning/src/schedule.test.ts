import { describe, expect, it } from 'vitest';
import { cubicSchedule, fixedFractionSchedule, iterativeSchedule, keepCountsForSchedule, oneShot } from './schedule.js';

describe('schedules', () => {
  it('one-shot is a single step on the target', () => {
    expect(oneShot(0.9)).toEqual([0.9]);
    expect(() => oneShot(1.2)).toThrow(/finalSparsity/);
  });

  it('iterative removes the same fraction of the remaining weights each round and ends exactly on the target', () => {
    const s = iterativeSchedule(4, 0.9);
    expect(s).toHaveLength(4);
    expect(s[3]).toBe(0.9);
    const densities = [1, ...s.map((x) => 1 - x)];
    const ratios = densities.slice(1).map((d, i) => d / densities[i]);
    for (const r of ratios) expect(r).toBeCloseTo(Math.pow(0.1, 1 / 4), 10);
    expect(() => iterativeSchedule(0, 0.9)).toThrow(/rounds/);
  });

  it('cubic follows Zhu & Gupta: s_t = s_f + (s_i − s_f)(1 − t/n)^3', () => {
    const s = cubicSchedule(5, 0.1, 0.8);
    expect(s).toHaveLength(6);
    expect(s[0]).toBeCloseTo(0.1, 12);
    expect(s[5]).toBe(0.8);
    for (let t = 0; t <= 5; t++) expect(s[t]).toBeCloseTo(0.8 + (0.1 - 0.8) * Math.pow(1 - t / 5, 3), 12);
    // Prunes fast early, slowly at the end.
    expect(s[1] - s[0]).toBeGreaterThan(s[5] - s[4]);
    expect(() => cubicSchedule(5, 0.9, 0.5)).toThrow(/initialSparsity/);
  });

  it('fixed fraction (LTH) prunes p of the remaining per round, the last round clipped to the target', () => {
    const s = fixedFractionSchedule(0.2, 0.5);
    // 0.8, 0.64, 0.512 are above 0.5 density; the next step lands on 0.5.
    expect(s.map((x) => 1 - x).map((d) => +d.toFixed(6))).toEqual([0.8, 0.64, 0.512, 0.5]);
    expect(fixedFractionSchedule(0.2, 0.2)).toHaveLength(1);
    expect(() => fixedFractionSchedule(1, 0.5)).toThrow(/pruneFraction/);
  });

  it('keep counts end exactly on the final keep and never grow', () => {
    for (const sched of [iterativeSchedule(7, 0.93), cubicSchedule(10, 0, 0.93), fixedFractionSchedule(0.2, 0.93)]) {
      const counts = keepCountsForSchedule(sched, 1234, 86);
      expect(counts[counts.length - 1]).toBe(86);
      for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeLessThanOrEqual(counts[i - 1]);
    }
    expect(() => keepCountsForSchedule([0.5], 10, 11)).toThrow(/finalKeep/);
  });
});
