import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { distributeKeepCount, globalMasks, layerwiseMasks, minimumThresholdMasks } from './allocation.js';
import { countKept } from './masks.js';
import type { Scores } from './scores.js';
import type { Masks } from './types.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function scoresOf(layers: Record<string, number[]>): Scores {
  return new Map(Object.entries(layers).map(([name, values]) => [name, tf.tensor1d(values)]));
}

function maskValues(masks: Masks): Record<string, number[]> {
  return Object.fromEntries([...masks].map(([name, m]) => [name, Array.from(m.dataSync())]));
}

function seededValues(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  });
}

describe('globalMasks', () => {
  it('keeps exactly the k highest scores over all layers', async () => {
    const masks = await globalMasks(scoresOf({ a: [0.1, 0.9, 0.5], b: [0.7, 0.2, 0.3, 0.8] }), 3);
    expect(maskValues(masks)).toEqual({ a: [0, 1, 0], b: [1, 0, 0, 1] });
  });

  it('breaks ties by layer order then index, keeping exactly k', async () => {
    const masks = await globalMasks(scoresOf({ a: [1, 2, 2], b: [2, 2, 0] }), 3);
    // Four weights share the score 2; the first three in (layer, index) order are kept.
    expect(maskValues(masks)).toEqual({ a: [0, 1, 1], b: [1, 0, 0] });
    const all = await globalMasks(scoresOf({ a: [5, 5, 5, 5] }), 2);
    expect(maskValues(all)).toEqual({ a: [1, 1, 0, 0] });
  });

  it('never brings back a weight already pruned in current masks', async () => {
    const current: Masks = new Map([['a', tf.tensor1d([1, 0, 1, 1])]]);
    const masks = await globalMasks(scoresOf({ a: [0.1, 9, 0.5, 0.4] }), 2, { current });
    expect(maskValues(masks)).toEqual({ a: [0, 0, 1, 1] });
    await expect(globalMasks(scoresOf({ a: [1, 1, 1, 1] }), 4, { current })).rejects.toThrow(/keepCount = 4 exceeds the 3 weights/);
  });

  it('rejects a bad keepCount and NaN scores', async () => {
    await expect(globalMasks(scoresOf({ a: [1, 2] }), 1.5)).rejects.toThrow(/keepCount/);
    await expect(globalMasks(scoresOf({ a: [1, 2] }), 3)).rejects.toThrow(/keepCount/);
    await expect(globalMasks(scoresOf({ a: [1, NaN] }), 1)).rejects.toThrow(/NaN/);
  });

  it('hits k exactly on larger random scores', async () => {
    const scores = scoresOf({ a: seededValues(1000, 1), b: seededValues(333, 2).map((v) => Math.round(v * 10)) });
    for (const k of [0, 1, 17, 500, 1333]) expect(await countKept(await globalMasks(scores, k))).toBe(k);
  });
});

describe('layerwiseMasks', () => {
  it('applies the same keep fraction in every layer, ranking within each layer', async () => {
    const masks = await layerwiseMasks(scoresOf({ a: [0.1, 0.9, 0.5, 0.4], b: [100, 200, 300, 50] }), { keepFraction: 0.5 });
    expect(maskValues(masks)).toEqual({ a: [0, 1, 1, 0], b: [0, 1, 1, 0] });
  });

  it('uses per-layer fractions; unlisted layers stay dense', async () => {
    const scores = scoresOf({ a: seededValues(10, 3), b: seededValues(20, 4), c: seededValues(5, 5) });
    const masks = await layerwiseMasks(scores, { perLayer: { a: 0.3, b: 0.75 } });
    expect(maskValues(masks).a.reduce((s, v) => s + v, 0)).toBe(3);
    expect(maskValues(masks).b.reduce((s, v) => s + v, 0)).toBe(15);
    expect(maskValues(masks).c).toEqual([1, 1, 1, 1, 1]);
    await expect(layerwiseMasks(scores, { perLayer: { zzz: 0.5 } })).rejects.toThrow(/perLayer names "zzz"/);
    await expect(layerwiseMasks(scores, { perLayer: { a: 1.5 } })).rejects.toThrow(/perLayer\["a"\]/);
  });

  it('takes exact per-layer counts', async () => {
    const masks = await layerwiseMasks(scoresOf({ a: [3, 1, 2], b: [1, 1, 1, 1] }), { keepCounts: { a: 1, b: 2 } });
    expect(maskValues(masks)).toEqual({ a: [1, 0, 0], b: [1, 1, 0, 0] });
  });
});

describe('minimumThresholdMasks', () => {
  const scores = () => scoresOf({ big: seededValues(100, 6).map((v) => 10 + v), small: seededValues(50, 7), tiny: seededValues(8, 8) });

  it('keeps the floor (a count) in every layer and exactly k in total', async () => {
    const masks = await minimumThresholdMasks(scores(), 40, { minKeepPerLayer: 3 });
    const kept = Object.fromEntries(Object.entries(maskValues(masks)).map(([n, v]) => [n, v.reduce((s, x) => s + x, 0)]));
    // Plain global ranking would give every weight to `big` (its scores are all larger).
    expect(await countKept(await globalMasks(scores(), 40, {}))).toBe(40);
    expect(maskValues(await globalMasks(scores(), 40)).small.every((v) => v === 0)).toBe(true);
    expect(kept).toEqual({ big: 34, small: 3, tiny: 3 });
    expect(await countKept(masks)).toBe(40);
  });

  it('keeps the floor as a fraction (rounded up) and the highest scores inside each floor', async () => {
    const s = scores();
    const masks = await minimumThresholdMasks(s, 30, { minKeepPerLayer: { fraction: 0.1 } });
    const v = maskValues(masks);
    expect(v.small.reduce((a, b) => a + b, 0)).toBe(5);
    expect(v.tiny.reduce((a, b) => a + b, 0)).toBe(1);
    expect(await countKept(masks)).toBe(30);
    const tinyScores = Array.from(s.get('tiny')!.dataSync());
    expect(v.tiny[tinyScores.indexOf(Math.max(...tinyScores))]).toBe(1);
  });

  it('errors when the floors alone exceed k, naming minKeepPerLayer', async () => {
    await expect(minimumThresholdMasks(scores(), 5, { minKeepPerLayer: 3 })).rejects.toThrow(/minKeepPerLayer/);
    await expect(minimumThresholdMasks(scores(), 5, { minKeepPerLayer: { fraction: 2 } })).rejects.toThrow(/minKeepPerLayer.fraction/);
  });
});

describe('distributeKeepCount', () => {
  it('gives every layer the same sparsity within one weight and an exact total', () => {
    const sizes = new Map([['a', 1000], ['b', 333], ['c', 77]]);
    for (const k of [1, 100, 705, 1409]) {
      const counts = distributeKeepCount(sizes, k);
      expect([...counts.values()].reduce((s, x) => s + x, 0)).toBe(k);
      for (const [name, n] of sizes) expect(Math.abs(counts.get(name)! - (n * k) / 1410)).toBeLessThan(1);
    }
  });

  it('scales relative sparsity ratios to hit the total exactly', () => {
    const sizes = new Map([['a', 100], ['b', 100]]);
    // b twice as sparse as a: (1 - c) * 100 + (1 - 2c) * 100 = 100 → c = 1/3.
    const counts = distributeKeepCount(sizes, 100, { a: 1, b: 2 });
    expect(counts.get('a')! + counts.get('b')!).toBe(100);
    expect(Math.abs(counts.get('a')! - 200 / 3)).toBeLessThan(1);
    expect(Math.abs(counts.get('b')! - 100 / 3)).toBeLessThan(1);
    expect(() => distributeKeepCount(sizes, 50, { a: 1 })).toThrow(/unreachable/);
    expect(() => distributeKeepCount(sizes, 50, { a: -1 })).toThrow(/ratio of "a"/);
  });

  it('respects caps from an earlier round', () => {
    const sizes = new Map([['a', 10], ['b', 10]]);
    const counts = distributeKeepCount(sizes, 9, undefined, new Map([['a', 4], ['b', 10]]));
    expect(counts.get('a')).toBeLessThanOrEqual(4);
    expect(counts.get('a')! + counts.get('b')!).toBe(9);
  });
});
