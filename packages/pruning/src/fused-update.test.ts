/**
 * Issue 16: MaskedSgd's and MaskedAdamW's `step` (SAFE's update along its ADMM direction, distillation's steps) on
 * webgpu where the compiled step would run (`compiled: 'always'` here) is one dispatch per parameter in one submit
 * (@prunebench/engine's fusedMaskedUpdate) and equals the op-by-op step on the cpu backend: weights and
 * state over three steps, with masks (int32 and float32), weight decay, a parameter without a mask, a first step
 * without state, SGD with momentum 0 (no buffers), and AdamW (bias correction, decay on weights only). Tolerance 1e-5 · max(1, max |op-by-op|) per tensor (float32, the
 * same formula; fused multiply-adds may round differently); pruned weights exactly +0.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, initEngine, takeBackendErrors } from '@prunebench/engine';
import { FIRST_DISPATCH_TIMEOUT_MS, expectRelativelyClose, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { createMaskedOptimizer, type MaskedOptimizerSettings } from './optimizer.js';
import { createToyConvModel } from './testing.js';
import type { Masks } from './types.js';

const requirement = await webgpuRequirement();

async function run(compiled: 'always' | 'never', settings: MaskedOptimizerSettings) {
  const model = createToyConvModel({ seed: 4 });
  const rng = new SeededRng(9);
  const names = [...model.params.keys()];
  const masks: Masks = new Map();
  names.slice(0, 2).forEach((name, i) => {
    const p = model.params.get(name)!;
    const bits = Array.from({ length: p.size }, () => (rng.next() < 0.4 ? 0 : 1));
    masks.set(name, i === 0 ? tf.tensor(bits, p.shape, 'int32') : tf.tensor(bits, p.shape, 'float32'));
  });
  const optimizer = createMaskedOptimizer(settings, { compiled });
  let kernels = 0;
  for (const learningRate of [0.1, 0.05, 0.02]) {
    const grads = new Map(names.map((name) => [name, tf.tensor(rng.normalArray(model.params.get(name)!.size), model.params.get(name)!.shape)] as const));
    const profile = await tf.profile(() => optimizer.step(model, grads, { learningRate, masks }));
    kernels = Math.max(kernels, profile.kernels.length);
    tf.dispose([...grads.values()]);
  }
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.params) out.set(name, Float32Array.from(await v.data()));
  const state = new Map<string, Float32Array>();
  for (const [key, { data }] of (await optimizer.readState()).arrays) state.set(key, data);
  const maskValues = new Map<string, Int32Array | Float32Array>();
  for (const [name, m] of masks) maskValues.set(name, (await m.data()) as Float32Array);
  optimizer.dispose();
  tf.dispose([...masks.values()]);
  model.dispose();
  return { params: out, state, kernels, masks: maskValues, steps: optimizer.steps };
}

describe('the masked optimizers\' step fused on webgpu', () => {
  const cases = [
    { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
    { kind: 'sgd', momentum: 0, weightDecay: 0.01 },
    { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 },
  ] as const;
  for (const settings of cases) {
    const label = settings.kind === 'sgd' ? `SGD, momentum ${settings.momentum}` : 'AdamW (bias correction, decay on weights only)';
    itRequires(requirement, `${label}: the op-by-op weights and state, pruned weights +0, few tfjs kernels`, async () => {
      await initEngine({ backend: 'webgpu' });
      takeBackendErrors();
      // the reference on the cpu backend (tf.setBackend: a second initEngine('webgpu') would restart Dawn)
      await tf.setBackend('cpu');
      const opByOp = await run('never', settings);
      await tf.setBackend('webgpu');
      const fused = await run('always', settings);
      expect(takeBackendErrors()).toEqual([]);
      expect(fused.steps).toBe(3);
      expect([...fused.state.keys()].sort()).toEqual([...opByOp.state.keys()].sort());
      expect(fused.state.size, 'state: momentum buffers only with momentum; AdamW two moments').toBe(settings.kind === 'adamw' ? 2 * opByOp.params.size : settings.momentum === 0 ? 0 : opByOp.params.size);
      for (const [name, v] of opByOp.params) expectRelativelyClose(fused.params.get(name)!, v, name, 1e-5);
      for (const [key, v] of opByOp.state) expectRelativelyClose(fused.state.get(key)!, v, key, 1e-5);
      for (const [name, m] of fused.masks) {
        expect(fused.params.get(name)!.every((x, i) => m[i] !== 0 || Object.is(x, 0)), `${name}: pruned entries +0`).toBe(true);
      }
      // op by op: several kernels per parameter; fused: only the int32 mask's conversion to float (7 tfjs kernels)
      expect(opByOp.kernels).toBeGreaterThan(5 * opByOp.params.size);
      expect(fused.kernels).toBeLessThan(opByOp.kernels / 4);
    }, FIRST_DISPATCH_TIMEOUT_MS);
  }
});
