import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { hasFusedBatchNormTraining, registerWasmTrainingKernels, SeededRng } from '@prunebench/engine';
import { batchNormTraining } from './batchnorm.js';
import { createResNetCifar } from './resnet-cifar.js';

/** Runs `compute` on `backend`, returning every output as plain numbers. */
async function on(backend: 'cpu' | 'wasm', compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(compute);
  const values = outs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outs);
  return values;
}

function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0, scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

describe('batchNormTraining: fused kernels (wasm) give the composite path\'s numbers (cpu)', () => {
  it('values, batch statistics and gradients of x, gamma and beta', async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
    expect(hasFusedBatchNormTraining('wasm')).toBe(true);
    const rng = new SeededRng(3);
    const shape = [3, 5, 4, 6] as const;
    const x = rng.normalArray(3 * 5 * 4 * 6), gamma = rng.normalArray(6), beta = rng.normalArray(6), w = rng.normalArray(3 * 5 * 4 * 6);
    const compute = () => {
      const tx = tf.tensor4d(x, [...shape]), tg = tf.tensor1d(gamma), tb = tf.tensor1d(beta), tw = tf.tensor4d(w, [...shape]);
      const { y, mean, variance } = batchNormTraining(tx, tg, tb);
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const r = batchNormTraining(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D);
        tf.dispose([r.mean, r.variance]);
        return tf.sum(tf.mul(tf.relu(r.y), tw));
      })([tx, tg, tb]);
      return [y, mean, variance, ...grads];
    };
    const cpu = await on('cpu', compute);
    const wasm = await on('wasm', compute);
    ['y', 'mean', 'variance', 'dx', 'dGamma', 'dBeta'].forEach((name, i) => expect(maxRelativeError(wasm[i]!, cpu[i]!), name).toBeLessThan(1e-4));
  });

  it('a ResNet-8 training forward + gradient step and its running statistics agree across the two paths', async () => {
    const rng = new SeededRng(4);
    const images = rng.normalArray(4 * 8 * 8 * 3), labels = Int32Array.from({ length: 4 }, () => rng.int(10));
    const compute = () => {
      const model = createResNetCifar(8, { seed: 1 });
      const tx = tf.tensor4d(images, [4, 8, 8, 3]);
      const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
      const vars = [...model.params.values()];
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(oneHot, model.forward(tx, { training: true })) as tf.Scalar, vars);
      const out = [value, ...vars.map((v) => grads[v.name]!), ...[...model.buffers.values()].map((b) => b.clone())];
      model.dispose();
      return out;
    };
    const cpu = await on('cpu', compute);
    const wasm = await on('wasm', compute);
    expect(wasm).toHaveLength(cpu.length);
    cpu.forEach((expected, i) => expect(maxRelativeError(wasm[i]!, expected), `output ${i}`).toBeLessThan(1e-3));
  });
});
