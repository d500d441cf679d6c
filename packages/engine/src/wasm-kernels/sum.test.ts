import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../rng.js';
import { computeOn, normalValues, relativeError } from './compare-backends.test-util.js';
import { registerWasmTrainingKernels } from './register.js';

describe('wasm Sum over leading axes matches the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [7, 5], axis: 0, keepDims: false },
    { shape: [3, 4, 6], axis: [0, 1], keepDims: false },
    { shape: [3, 4, 6], axis: [1, 0], keepDims: true },
    { shape: [2, 3, 4, 5], axis: [0, 1, 2], keepDims: false },
    { shape: [5000, 3], axis: 0, keepDims: false }, // several row blocks
    { shape: [3, 4, 6], axis: [1], keepDims: false }, // not leading: built-in
    { shape: [3, 4, 6], axis: -1, keepDims: true }, // innermost: built-in
    { shape: [3, 4], axis: [0, 1], keepDims: false }, // everything: built-in
  ];
  for (const c of cases) {
    it(`sum [${c.shape}] over ${JSON.stringify(c.axis)} keepDims=${c.keepDims}`, async () => {
      const x = normalValues(c.shape, new SeededRng(c.shape.reduce((a, b) => a * 7 + b, 1)));
      const compute = () => {
        const y = tf.sum(tf.tensor(x.values, x.shape), c.axis, c.keepDims);
        expect(y.shape).toEqual(tf.tidy(() => tf.sum(tf.zeros(c.shape), c.axis, c.keepDims).shape));
        return y;
      };
      const cpu = await computeOn('cpu', compute);
      const wasm = await computeOn('wasm', compute);
      expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
    });
  }

  it('gives the bias gradient of a dense layer equal to cpu', async () => {
    const rng = new SeededRng(8);
    const x = normalValues([9, 4], rng), w = normalValues([4, 3], rng), b = normalValues([3], rng);
    const compute = () => tf.grads((bt: tf.Tensor) => tf.add(tf.matMul(tf.tensor(x.values, x.shape), tf.tensor(w.values, w.shape)), bt).square().sum())(
      [tf.tensor(b.values, b.shape)]);
    const cpu = await computeOn('cpu', compute);
    const wasm = await computeOn('wasm', compute);
    expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
  });
});
