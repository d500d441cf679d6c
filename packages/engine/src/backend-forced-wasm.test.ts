import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initEngine } from './backend.js';

describe('initEngine({ backend: "wasm" })', () => {
  it('starts wasm with the training kernels registered', async () => {
    const info = await initEngine({ backend: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    expect(info.backend).toBe('wasm');
    expect(info.versions.backendPackage).toMatch(/^@tensorflow\/tfjs-backend-wasm@\d+\.\d+\.\d+$/);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.customKernels).toEqual([
      'BatchMatMul', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'PrunebenchBatchNormTraining', 'PrunebenchBatchNormTrainingGrad',
      'Slice', 'Sum', 'Transpose', 'UnsortedSegmentSum', '_FusedMatMul',
    ]);
    // A conv2d filter gradient needs the kernel the wasm backend lacks.
    const grad = tf.grad((w: tf.Tensor) => tf.conv2d(tf.ones([1, 3, 3, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid').sum())(tf.ones([2, 2, 1, 1]));
    expect(Array.from(grad.dataSync())).toEqual([4, 4, 4, 4]);
  });

  it('returns the running engine for "auto" once started (idempotent)', async () => {
    const first = await initEngine({ backend: 'wasm' });
    const concurrent = await Promise.all([initEngine({ backend: 'auto' }), initEngine({ backend: 'wasm' })]);
    expect(concurrent[0]).toBe(first);
    expect(concurrent[1]).toBe(first);
  });
});
