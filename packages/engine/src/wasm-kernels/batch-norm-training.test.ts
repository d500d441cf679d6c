import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../rng.js';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, hasFusedBatchNormTraining } from './batch-norm-training.js';
import { computeOn, normalValues, relativeError } from './compare-backends.test-util.js';
import { registerWasmTrainingKernels } from './register.js';

/** Random channels-last shapes: conv activations (rank 4, odd sizes, 1 channel, batch 1) and rank 2 / 3. */
function shapes(): number[][] {
  const rng = new SeededRng(77);
  const out: number[][] = [[2, 3, 3, 1], [1, 5, 4, 7], [3, 1, 1, 2], [4, 6], [2, 3, 5]];
  for (let i = 0; i < 4; i++) out.push([1 + rng.int(4), 1 + rng.int(6), 1 + rng.int(6), 1 + rng.int(9)]);
  return out;
}

const EPS = 1e-5;

/** The composite reference (what tfjs derives from tf.moments), run on the cpu backend. */
function compositeBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPS))), gamma), beta);
  return { y, mean, variance };
}

describe('fused training batch norm kernels on wasm match the composite ops on cpu', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  it('are registered for wasm only', () => {
    expect(hasFusedBatchNormTraining('wasm')).toBe(true);
    expect(hasFusedBatchNormTraining('cpu')).toBe(false);
  });

  for (const shape of shapes()) {
    it(`forward and gradient, x [${shape}]`, async () => {
      const rng = new SeededRng(shape.reduce((a, b) => 31 * a + b, 7));
      const channels = shape[shape.length - 1]!;
      // Offset and scaled inputs: the statistics must not lose precision to a large mean.
      const x = normalValues(shape, rng);
      for (let i = 0; i < x.values.length; i++) x.values[i] = 3 + 2 * x.values[i]!;
      const gamma = normalValues([channels], rng);
      const beta = normalValues([channels], rng);
      const dy = normalValues(shape, rng);
      const dMean = normalValues([channels], rng);
      const dVariance = normalValues([channels], rng);
      const tensors = () => [x, gamma, beta, dy, dMean, dVariance].map((v) => tf.tensor(v.values, v.shape));

      const cpu = await computeOn('cpu', () => {
        const [tx, tg, tb, tdy, tdm, tdv] = tensors();
        const forward = compositeBatchNorm(tx!, tg!, tb!);
        // Loss whose gradient w.r.t. y, mean and variance is dy, dMean and dVariance.
        const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          const r = compositeBatchNorm(a, g, b);
          return tf.addN([tf.sum(tf.mul(r.y, tdy!)), tf.sum(tf.mul(r.mean, tdm!)), tf.sum(tf.mul(r.variance, tdv!))]);
        };
        const grads = tf.grads(loss)([tx!, tg!, tb!]);
        return [forward.y, forward.mean, forward.variance, ...grads];
      });
      const wasm = await computeOn('wasm', () => {
        const [tx, tg, tb, tdy, tdm, tdv] = tensors();
        const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { x: tx!, gamma: tg!, beta: tb! },
          { varianceEpsilon: EPS }) as tf.Tensor[];
        const grads = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD,
          { dy: tdy!, x: tx!, gamma: tg!, mean: mean!, variance: variance!, dMean: tdm!, dVariance: tdv! },
          { varianceEpsilon: EPS }) as tf.Tensor[];
        expect(y!.shape).toEqual(shape);
        expect(grads.map((g) => g.shape)).toEqual([shape, [channels], [channels]]);
        return [y!, mean!, variance!, ...grads];
      });
      const names = ['y', 'mean', 'variance', 'dx', 'dGamma', 'dBeta'];
      names.forEach((name, i) => expect(relativeError(wasm[i]!, cpu[i]!), name).toBeLessThan(2e-4));
    });
  }

  it('rejects a gamma of the wrong length, naming the kernel and input', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([2, 2, 2, 3]), g = tf.ones([2]), b = tf.zeros([3]);
    expect(() => tf.engine().runKernel(BATCH_NORM_TRAINING, { x, gamma: g, beta: b }, {})).toThrow(/PrunebenchBatchNormTraining.*gamma/);
    tf.dispose([x, g, b]);
  });

  it('leaks no tensors on the wasm heap', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 3, 3, 4]), g = tf.ones([4]), b = tf.zeros([4]);
    const before = tf.backend().numDataIds();
    const outs = tf.engine().runKernel(BATCH_NORM_TRAINING, { x, gamma: g, beta: b }, {}) as tf.Tensor[];
    const z = tf.zeros([4]);
    const grads = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD,
      { dy: outs[0]!, x, gamma: g, mean: outs[1]!, variance: outs[2]!, dMean: z, dVariance: z }, {}) as tf.Tensor[];
    tf.dispose([...outs, ...grads, z]);
    expect(tf.backend().numDataIds()).toBe(before);
    tf.dispose([x, g, b]);
  });
});
