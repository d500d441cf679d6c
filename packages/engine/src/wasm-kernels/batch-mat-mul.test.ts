import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../rng.js';
import { computeOn, normalValues, relativeError } from './compare-backends.test-util.js';
import { registerWasmTrainingKernels } from './register.js';

describe('wasm BatchMatMul / _FusedMatMul with transposed operands and batch dims match the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  for (const [batchShape, m, k, n] of [[[], 5, 7, 3], [[3], 4, 6, 5], [[2, 2], 3, 1, 4]] as const) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        it(`batch [${batchShape}] ${m}x${k}x${n} transposeA=${transposeA} transposeB=${transposeB}`, async () => {
          const rng = new SeededRng(m * 100 + k * 10 + n);
          const a = normalValues([...batchShape, ...(transposeA ? [k, m] : [m, k])], rng);
          const b = normalValues([...batchShape, ...(transposeB ? [n, k] : [k, n])], rng);
          const bias = normalValues([n], rng);
          const compute = () => {
            const at = tf.tensor(a.values, a.shape), bt = tf.tensor(b.values, b.shape);
            const plain = tf.matMul(at, bt, transposeA, transposeB);
            const fused = tf.fused.matMul({ a: at, b: bt, transposeA, transposeB, bias: tf.tensor(bias.values, bias.shape), activation: 'relu' });
            expect(plain.shape).toEqual([...batchShape, m, n]);
            return [plain, fused];
          };
          const cpu = await computeOn('cpu', compute);
          const wasm = await computeOn('wasm', compute);
          expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
          expect(relativeError(wasm[1]!, cpu[1]!)).toBeLessThan(1e-5);
        });
      }
    }
  }

  // One side without batch dims (broadcast), and ranks that differ: the batched path's other branches.
  for (const [aShape, bShape] of [
    [[3, 4, 5], [5, 2]], [[2, 3, 4, 5], [1, 5, 6]], [[4, 5], [3, 5, 2]], [[1, 4, 5], [2, 2, 5, 3]],
  ] as const) {
    it(`broadcast batch: a [${aShape}] x b [${bShape}]`, async () => {
      const rng = new SeededRng(aShape.length * 10 + bShape.length);
      const a = normalValues(aShape, rng), b = normalValues(bShape, rng);
      const compute = () => tf.matMul(tf.tensor(a.values, a.shape), tf.tensor(b.values, b.shape));
      const cpu = await computeOn('cpu', compute);
      const wasm = await computeOn('wasm', compute);
      expect(wasm[0]!.length).toBe(cpu[0]!.length);
      expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
    });
  }

  it('gives attention gradients (batched q·kᵀ, softmax, ·v) equal to cpu', async () => {
    const rng = new SeededRng(2);
    const q = normalValues([2, 3, 6, 4], rng), k = normalValues([2, 3, 6, 4], rng), v = normalValues([2, 3, 6, 4], rng);
    const compute = () => tf.grads((qt: tf.Tensor, kt: tf.Tensor, vt: tf.Tensor) =>
      tf.matMul(tf.softmax(tf.matMul(qt, kt, false, true)), vt).square().sum())(
      [tf.tensor(q.values, q.shape), tf.tensor(k.values, k.shape), tf.tensor(v.values, v.shape)]);
    const cpu = await computeOn('cpu', compute);
    const wasm = await computeOn('wasm', compute);
    for (let i = 0; i < 3; i++) expect(relativeError(wasm[i]!, cpu[i]!)).toBeLessThan(1e-5);
  });

  it('leaks no tensors on the wasm heap in the batched path', async () => {
    await tf.setBackend('wasm');
    const a = tf.randomNormal([3, 4, 5]), b = tf.randomNormal([3, 5, 2]), c = tf.randomNormal([5, 2]);
    const before = tf.backend().numDataIds();
    tf.dispose([tf.matMul(a, b), tf.matMul(a, c), tf.matMul(a, b, false, false)]);
    expect(tf.backend().numDataIds()).toBe(before);
    tf.dispose([a, b, c]);
  });

  it('gives dense-layer gradients (which use transposed matmuls) equal to cpu', async () => {
    const rng = new SeededRng(1);
    const x = normalValues([6, 5], rng), w = normalValues([5, 4], rng);
    const compute = () => tf.grads((xt: tf.Tensor, wt: tf.Tensor) => tf.matMul(xt, wt).square().sum())(
      [tf.tensor(x.values, x.shape), tf.tensor(w.values, w.shape)]);
    const cpu = await computeOn('cpu', compute);
    const wasm = await computeOn('wasm', compute);
    expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
    expect(relativeError(wasm[1]!, cpu[1]!)).toBeLessThan(1e-5);
  });
});
