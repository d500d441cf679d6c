import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initEngine, probeWebgpuAdapter } from '@prunebench/engine';
import { countDispatches, rawWebgpuDispatchUs } from './dispatch-counter.js';

// Needs a WebGPU adapter (a software one does: scripts/install-software-gpu.sh); skipped where there is none.
const probe = await probeWebgpuAdapter(5000);

describe.skipIf(!probe.ok)('dispatch counter (webgpu backend)', () => {
  it('counts one GPU dispatch per kernel for a chain of N adds on GPU-resident tensors, and the queue submits', async () => {
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
