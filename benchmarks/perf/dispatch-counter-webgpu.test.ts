import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { initEngine } from '@prunebench/engine';
import { itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { countDispatches, rawWebgpuDispatchUs } from './dispatch-counter.js';

// Needs a WebGPU adapter (a software one does: npm run setup installs one): skipped loudly where there is none, failed in CI.
const requirement = await webgpuRequirement();

describe('dispatch counter (webgpu backend)', () => {
  itRequires(requirement, 'counts one GPU dispatch per kernel for a chain of N adds on GPU-resident tensors, and the queue submits', async () => {
    await initEngine({ backend: 'webgpu' });
    const x = tf.fill([8, 8], 1); // a GPU program: tf.ones would stay in host memory and the adds would run on the CPU
    const batch = tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
    const n = 2 * batch + 3;
    const { counts } = await countDispatches(async () => {
      const y = tf.tidy(() => {
        let z: tf.Tensor = x;
        for (let i = 0; i < n; i++) z = tf.add(z, x);
        return z;
      });
      expect((await y.data())[0]).toBe(n + 1);
      y.dispose();
    });
    expect(counts.kernels).toBe(n);
    expect(counts.gpuDispatches).toBe(n);
    expect(counts.gpuDispatchesByKernel).toEqual({ Add: n });
    // Two full batches, then the rest with the read (the read's copy is submitted with it).
    expect(counts.gpuSubmits).toBe(3);
    x.dispose();

    const raw = await rawWebgpuDispatchUs(100, 2);
    expect(raw.prebuiltUs).toBeGreaterThan(0);
    expect(raw.bindGroupEachUs).toBeGreaterThan(0);
  });
});
