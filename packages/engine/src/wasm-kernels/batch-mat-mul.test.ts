import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../rng.js';
import { computeOn, normalValues, relativeError } from './compare-backends.test-util.js';
import { registerWasmTrainingKernels } from './register.js';

describe('wasm BatchMatMul / _FusedMatMul with transposed operands match the cpu backend', () => {
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
