import { describe, it, expect } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { splitTrainVal, classBalancedSubset } from './split.js';
import type { ImageSet } from './image-set.js';

/** `perClass[c]` examples of class c, interleaved; image i is 4 bytes holding i (little-endian 16 bit) then 0, 0. */
function syntheticSet(perClass: number[]): ImageSet {
  const labels: number[] = [];
  const max = Math.max(...perClass);
  for (let k = 0; k < max; k++) perClass.forEach((n, c) => k < n && labels.push(c));
  const count = labels.length;
  const images = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) {
    images[i * 4] = i & 0xff;
    images[i * 4 + 1] = i >> 8;
  }
  return { images, labels: Uint8Array.from(labels), count };
}

function histogram(set: ImageSet): number[] {
  const h: number[] = [];
  for (const l of set.labels) h[l] = (h[l] ?? 0) + 1;
  return h;
}

describe('splitTrainVal', () => {
  const set = syntheticSet(new Array(10).fill(30));

  it('carves a class-balanced validation set and keeps every example exactly once', () => {
    const { train, val } = splitTrainVal(set, { valSize: 50, rng: new SeededRng(1) });
    expect(val.count).toBe(50);
    expect(train.count).toBe(250);
    expect(histogram(val)).toEqual(new Array(10).fill(5));
    expect(histogram(train)).toEqual(new Array(10).fill(25));
    // Image bytes travel with their labels: image i carries i, and label(i) is known from the set.
    const id = (s: ImageSet, k: number) => s.images[k * 4] + 256 * s.images[k * 4 + 1];
    const ids = [...Array.from({ length: train.count }, (_, k) => id(train, k)), ...Array.from({ length: val.count }, (_, k) => id(val, k))];
    expect(new Set(ids).size).toBe(300);
    for (let k = 0; k < val.count; k++) expect(val.labels[k]).toBe(set.labels[id(val, k)]);
    for (let k = 0; k < train.count; k++) expect(train.labels[k]).toBe(set.labels[id(train, k)]);
  });

  it('spreads a remainder over classes and is deterministic per seed', () => {
    const a = splitTrainVal(set, { valSize: 23, rng: new SeededRng(5) });
    const b = splitTrainVal(set, { valSize: 23, rng: new SeededRng(5) });
    const c = splitTrainVal(set, { valSize: 23, rng: new SeededRng(6) });
    const counts = histogram(a.val);
    expect(counts.reduce((s, n) => s + n, 0)).toBe(23);
    expect(counts.every((n) => n === 2 || n === 3)).toBe(true);
    expect(counts.filter((n) => n === 3).length).toBe(3);
    expect(a.val.images).toEqual(b.val.images);
    expect(a.val.images).not.toEqual(c.val.images);
  });

  it('errors when a class has too few examples, or valSize is out of range', () => {
    const skewed = syntheticSet([30, 30, 2]);
    expect(() => splitTrainVal(skewed, { valSize: 30, rng: new SeededRng(0) })).toThrow(/too few examples of class 2: need 10, have 2/);
    expect(() => splitTrainVal(set, { valSize: 0, rng: new SeededRng(0) })).toThrow(/valSize/);
    expect(() => splitTrainVal(set, { valSize: 300, rng: new SeededRng(0) })).toThrow(/valSize/);
  });
});

describe('classBalancedSubset', () => {
  it('takes exactly perClass examples of each class, seeded', () => {
    const set = syntheticSet([8, 12, 9]);
    const a = classBalancedSubset(set, 4, new SeededRng(3));
    expect(a.count).toBe(12);
    expect(histogram(a)).toEqual([4, 4, 4]);
    expect(classBalancedSubset(set, 4, new SeededRng(3)).images).toEqual(a.images);
    expect(classBalancedSubset(set, 4, new SeededRng(4)).images).not.toEqual(a.images);
  });

  it('errors when a class has too few examples', () => {
    expect(() => classBalancedSubset(syntheticSet([8, 3]), 4, new SeededRng(0))).toThrow(/too few examples of class 1: need 4, have 3/);
    expect(() => classBalancedSubset(syntheticSet([8]), 0, new SeededRng(0))).toThrow(/perClass/);
  });
});
