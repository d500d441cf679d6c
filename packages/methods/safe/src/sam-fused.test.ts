/**
 * Issue 16: SAM's ascent fused on webgpu (`samAscent(…, fused: true)`: the sums of squares and w + ε one dispatch per
 * tensor each) moves the weights as the op-by-op ascent does (tfjs's samPerturbation, then w + ε) on cpu, and
 * returns the same ‖g‖₂: within 1e-6 relative on the norm and 1e-6 · max(1, max |w|) per tensor (float32, other
 * summation order); a bad ρ is refused either way; the sums of squares also on tensors past one workgroup of 256.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, fusedSumsOfSquares, initEngine, takeBackendErrors } from '@prunebench/engine';
import { expectRelativelyClose, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { createToyConvModel } from '@prunebench/pruning/testing';
import { samAscent } from './sam.js';

const requirement = await webgpuRequirement();

async function ascend(fused: boolean) {
  const model = createToyConvModel({ seed: 3 });
  const rng = new SeededRng(8);
  const grads = new Map([...model.params].map(([name, p]) => [name, tf.tensor(rng.normalArray(p.size), p.shape)] as const));
  const gradNorm = await samAscent(model, grads, 0.05, fused);
  await expect(samAscent(model, grads, -1, fused)).rejects.toThrow('rho must be a finite number >= 0, got -1');
  const params = new Map<string, Float32Array>();
  for (const [name, v] of model.params) params.set(name, Float32Array.from(await v.data()));
  tf.dispose([...grads.values()]);
  model.dispose();
  return { gradNorm, params };
}

describe('SAM ascent fused on webgpu', () => {
  itRequires(requirement, 'the op-by-op weights and gradient norm', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    // the reference on the cpu backend (tf.setBackend: a second initEngine('webgpu') would restart Dawn)
    await tf.setBackend('cpu');
    const opByOp = await ascend(false);
    await tf.setBackend('webgpu');
    const fused = await ascend(true);
    expect(takeBackendErrors()).toEqual([]);
    expect(Math.abs(fused.gradNorm - opByOp.gradNorm) / opByOp.gradNorm).toBeLessThanOrEqual(1e-6);
    const start = createToyConvModel({ seed: 3 });
    for (const [name, v] of opByOp.params) {
      expectRelativelyClose(fused.params.get(name)!, v, name, 1e-6);
      // the ascent moved the weights (so the comparison is not of two untouched models)
      expect(v).not.toEqual(Float32Array.from(await start.params.get(name)!.data()));
    }
    start.dispose();
    // the sums of squares past one workgroup's 256 threads (each thread sums a strided share)
    const big = [tf.tensor(new SeededRng(2).normalArray(1000)), tf.tensor(new SeededRng(3).normalArray(300), [3, 100])];
    const sums = await fusedSumsOfSquares(big);
    const expected = await Promise.all(big.map(async (t) => Float32Array.from(await t.data()).reduce((a, x) => a + x * x, 0)));
    expectRelativelyClose(sums, expected, 'sums of squares', 1e-5);
    tf.dispose(big);
  });
});
