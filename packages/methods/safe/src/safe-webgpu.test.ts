/**
 * Issue 16: a whole SAFE run on webgpu with its GPU paths (PRUNEBENCH_COMPILED_STEP=1, as a hardware adapter runs
 * by default: SAM's ascent, the ADMM direction and the SGD step fused; dual updates every 3 steps, so u is not 0)
 * equals the op-by-op run on the cpu backend: the same masks, final weights within 1e-4 · max(1, max |w|) per tensor,
 * the same losses and gradient norm within 1e-4 relative (float32, other summation orders).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { initEngine, takeBackendErrors } from '@prunebench/engine';
import { expectRelativelyClose, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { createToyModel, SimpleBudgetedTrainer, testMethodContext } from '@prunebench/pruning/testing';
import { safeMethod } from './index.js';

const requirement = await webgpuRequirement();

async function safeRun(env: '0' | '1') {
  process.env.PRUNEBENCH_COMPILED_STEP = env;
  try {
    const model = createToyModel({ seed: 11 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 160, seed: 5 });
    const context = testMethodContext(safeMethod, { model, trainer, target: { kind: 'compression', ratio: 3 }, options: { batchSize: 8, finetuneFraction: 0, rho: 0.05, dualUpdateInterval: 3 } });
    const result = await safeMethod.run(context);
    const weights = new Map<string, Float32Array>();
    for (const [name, v] of model.params) weights.set(name, Float32Array.from(await v.data()));
    const masks = new Map<string, Float32Array>();
    for (const [name, m] of result.masks!) masks.set(name, Float32Array.from(await m.data()));
    tf.dispose([...result.masks!.values()]);
    trainer.dispose();
    model.dispose();
    return { weights, masks, details: result.details as { steps: number; finalLoss: number; meanLoss: number; finalGradNorm: number } };
  } finally {
    delete process.env.PRUNEBENCH_COMPILED_STEP;
  }
}

describe('SAFE on webgpu, fused paths', () => {
  itRequires(requirement, 'the op-by-op run: masks, weights, losses, gradient norm', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    // the reference on the cpu backend (tf.setBackend: a second initEngine('webgpu') would restart Dawn)
    await tf.setBackend('cpu');
    const opByOp = await safeRun('0');
    await tf.setBackend('webgpu');
    const fused = await safeRun('1');
    expect(takeBackendErrors()).toEqual([]);
    expect(opByOp.details.steps).toBeGreaterThanOrEqual(8);
    expect(fused.details.steps).toBe(opByOp.details.steps);
    expect([...fused.masks.keys()]).toEqual([...opByOp.masks.keys()]);
    for (const [name, m] of opByOp.masks) expect(fused.masks.get(name), `mask of ${name}`).toEqual(m);
    for (const [name, w] of opByOp.weights) expectRelativelyClose(fused.weights.get(name)!, w, name, 1e-4);
    for (const key of ['finalLoss', 'meanLoss', 'finalGradNorm'] as const) {
      expect(Math.abs(fused.details[key] - opByOp.details[key]), key).toBeLessThanOrEqual(1e-4 * Math.abs(opByOp.details[key]));
    }
  });
});
