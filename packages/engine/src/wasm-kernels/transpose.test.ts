import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../rng.js';
import { computeOn, normalValues, relativeError } from './compare-backends.test-util.js';
import { registerWasmTrainingKernels } from './register.js';
import { collapseTranspose } from './transpose.js';

describe('collapseTranspose', () => {
  it('reduces the conv filter gradient transpose of x to [N, H·W, C] -> [C, H·W, N]', () => {
    expect(collapseTranspose([128, 32, 32, 16], [3, 1, 2, 0])).toEqual({ shape: [128, 1024, 16], perm: [2, 1, 0] });
  });
  it('drops size-1 axes and merges neighbours', () => {
    expect(collapseTranspose([2, 1, 3, 4], [3, 2, 1, 0])).toEqual({ shape: [2, 3, 4], perm: [2, 1, 0] });
    expect(collapseTranspose([2, 3, 4], [0, 2, 1])).toEqual({ shape: [2, 3, 4], perm: [0, 2, 1] });
    expect(collapseTranspose([2, 3, 4], [0, 1, 2])).toEqual({ shape: [24], perm: [0] });
  });
});

describe('wasm Transpose matches the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  const rng = new SeededRng(11);
  const cases: { shape: number[]; perm: number[] }[] = [
    { shape: [5, 4, 3, 2], perm: [3, 1, 2, 0] }, // the fast path
    { shape: [3, 7], perm: [1, 0] }, // rank 2 swap: the fast path with a middle of 1
    { shape: [4, 1, 3, 5], perm: [3, 1, 2, 0] },
    { shape: [5, 4, 3, 2], perm: [1, 2, 0, 3] }, // the dy transpose: built-in
    { shape: [2, 3, 4], perm: [0, 2, 1] }, // built-in
  ];
  for (let i = 0; i < 4; i++) {
    const rank = 2 + rng.int(3);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(5));
    cases.push({ shape, perm: Array.from(rng.permutation(rank)) });
  }
  for (const c of cases) {
    it(`transpose [${c.shape}] by [${c.perm}], and its gradient`, async () => {
      const x = normalValues(c.shape, new SeededRng(c.shape.reduce((a, b) => a * 5 + b, 3)));
      const compute = () => {
        const t = tf.tensor(x.values, x.shape);
        const y = tf.transpose(t, c.perm);
        const grad = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.transpose(a, c.perm), y)))(t);
        return [y, grad];
      };
      const cpu = await computeOn('cpu', compute);
      const wasm = await computeOn('wasm', compute);
      expect(relativeError(wasm[0]!, cpu[0]!)).toBe(0);
      expect(relativeError(wasm[1]!, cpu[1]!)).toBeLessThan(1e-6);
    });
  }
});
