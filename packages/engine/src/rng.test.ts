import { describe, expect, it } from 'vitest';
import { SeededRng } from './rng.js';

describe('SeededRng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = new SeededRng(42), b = new SeededRng(42), c = new SeededRng(43);
    const sa = Array.from({ length: 8 }, () => a.nextUint32());
    const sb = Array.from({ length: 8 }, () => b.nextUint32());
    const sc = Array.from({ length: 8 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('forks independent, reproducible children', () => {
    const p = new SeededRng(7);
    expect(p.fork('data').next()).toBe(new SeededRng(7).fork('data').next());
    expect(p.fork('data').next()).not.toBe(p.fork('init').next());
  });

  it('produces uniform floats in [0,1) with the right mean, and normals with mean 0 and std 1', () => {
    const r = new SeededRng(1);
    const u = Array.from({ length: 20000 }, () => r.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(u.reduce((s, x) => s + x, 0) / u.length).toBeCloseTo(0.5, 1);
    const n = r.normalArray(20000);
    const mean = n.reduce((s, x) => s + x, 0) / n.length;
    const std = Math.sqrt(n.reduce((s, x) => s + (x - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(std).toBeGreaterThan(0.97);
    expect(std).toBeLessThan(1.03);
  });

  it('permutes: every index exactly once', () => {
    const p = Array.from(new SeededRng(3).permutation(100)).sort((a, b) => a - b);
    expect(p).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('rejects bad seeds', () => {
    expect(() => new SeededRng(-1)).toThrow(/seed/);
    expect(() => new SeededRng(1.5)).toThrow(/seed/);
  });
});
