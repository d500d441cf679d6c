import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../rng.js';
import { computeOn, normalValues, relativeError } from './compare-backends.test-util.js';
import { registerWasmTrainingKernels } from './register.js';
import { mergeSliceAxes } from './slice.js';

describe('mergeSliceAxes', () => {
  it('collapses the option-A shortcut slice [n, oh, 2, ow, 2, c] to rank 3', () => {
    expect(mergeSliceAxes([4, 8, 2, 8, 2, 16], [0, 0, 0, 0, 0, 0], [4, 8, 1, 8, 1, 16])).toEqual({
      shape: [32, 16, 32], begin: [0, 0, 0], size: [32, 8, 16],
    });
  });

  it('merges a one-wide outer axis with a partial inner one, and keeps axes that cannot merge', () => {
    expect(mergeSliceAxes([3, 5, 7], [1, 2, 0], [1, 2, 7])).toEqual({ shape: [105], begin: [49], size: [14] });
    expect(mergeSliceAxes([3, 5], [1, 1], [2, 3])).toEqual({ shape: [3, 5], begin: [1, 1], size: [2, 3] });
  });
});

describe('wasm Slice above rank 4 matches the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  const rng = new SeededRng(5);
  const cases: { shape: number[]; begin: number[]; size: number[] }[] = [
    { shape: [3, 4, 2, 4, 2, 5], begin: [0, 0, 0, 0, 0, 0], size: [3, 4, 1, 4, 1, 5] }, // option-A pattern
    { shape: [2, 3, 2, 3, 2, 4], begin: [0, 0, 1, 0, 1, 0], size: [-1, -1, 1, -1, 1, -1] }, // the odd phase, -1 sizes
    { shape: [2, 3, 4, 5, 6], begin: [1, 0, 1, 2, 0], size: [1, 3, 2, 2, 6] },
    { shape: [3, 3, 3, 3, 3, 3], begin: [1, 1, 1, 1, 1, 1], size: [2, 1, 2, 1, 2, 1] }, // rank stays 6: built-in path
  ];
  for (let i = 0; i < 3; i++) {
    const shape = Array.from({ length: 5 + rng.int(2) }, () => 1 + rng.int(4));
    const begin = shape.map((d) => rng.int(d));
    cases.push({ shape, begin, size: shape.map((d, k) => 1 + rng.int(d - begin[k]!)) });
  }

  for (const c of cases) {
    it(`slice [${c.shape}] begin [${c.begin}] size [${c.size}], and its gradient`, async () => {
      const x = normalValues(c.shape, new SeededRng(c.shape.length * 100 + c.begin.reduce((a, b) => a + b, 0)));
      const compute = () => {
        const t = tf.tensor(x.values, x.shape);
        const y = tf.slice(t, c.begin, c.size);
        const grad = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.slice(a, c.begin, c.size), y)))(t);
        return [y, grad];
      };
      const cpu = await computeOn('cpu', compute);
      const wasm = await computeOn('wasm', compute);
      expect(wasm[0]!.length).toBe(cpu[0]!.length);
      expect(relativeError(wasm[0]!, cpu[0]!)).toBe(0);
      expect(relativeError(wasm[1]!, cpu[1]!)).toBeLessThan(1e-6);
    });
  }

  it('leaks no tensors on the wasm heap', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 2, 2, 2, 2, 3]);
    const before = tf.backend().numDataIds();
    tf.slice(x, [0, 0, 0, 0, 0, 0], [2, 2, 1, 2, 1, 3]).dispose();
    expect(tf.backend().numDataIds()).toBe(before);
    x.dispose();
  });
});
