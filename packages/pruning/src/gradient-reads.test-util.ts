/**
 * Issue 16's gradient reads: `denseLossAndGradients` on the model's compiled gradient step (`compiled: 'always'`)
 * against tfjs's op-by-op `lossAndGradients`, both on webgpu, for the test files of each compiled step (ResNet,
 * BERT), on their models and batches.
 *
 * Checked for two reads in a row (the second at weights moved as SAM's ascent moves them, so the step's output
 * buffers are reused): the loss; every parameter's gradient, per tensor max |Δ| ≤ 1e-3 · its max |op-by-op| +
 * 1e-6 · the largest gradient entry of the model (the floor is for a tensor whose true gradient is zero, such as
 * BERT's key bias, which holds rounding noise only; a wrong gradient is off by its own size); the running
 * statistics (updated by the training-mode forward, as any training step does) within 1e-4 relative; the
 * parameters untouched, bit for bit; and the read ran on the compiled step, with as many dispatches as its
 * training step.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { expectRelativelyClose } from '@prunebench/engine/testing';
import { compiledTrainingStepFor, disposeCompiledTrainingSteps, type Model } from '@prunebench/models';
import { lossAndGradients } from './loss.js';
import { denseLossAndGradients } from './optimizer.js';
import type { Batch } from './types.js';

interface Read {
  losses: number[];
  grads: Map<string, Float32Array>[];
  buffers: Map<string, Float32Array>;
  paramsBefore: Map<string, Float32Array>[];
  paramsAfter: Map<string, Float32Array>[];
}

async function valuesOf(variables: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of variables) out.set(name, Float32Array.from(await v.data()));
  return out;
}

async function twoReads(model: Model, batch: Batch, compiled: boolean): Promise<Read> {
  const read: Read = { losses: [], grads: [], buffers: new Map(), paramsBefore: [], paramsAfter: [] };
  for (let i = 0; i < 2; i++) {
    if (i === 1) for (const v of model.params.values()) tf.tidy(() => v.assign(tf.add(tf.mul(v, 0.97), 0.001)));
    read.paramsBefore.push(await valuesOf(model.params));
    const { loss, grads } = compiled ? await denseLossAndGradients(model, batch, 'always') : await lossAndGradients(model, batch);
    read.losses.push(loss);
    read.grads.push(await valuesOf(grads));
    tf.dispose([...grads.values()]);
    read.paramsAfter.push(await valuesOf(model.params));
  }
  read.buffers = await valuesOf(model.buffers);
  return read;
}

/** Runs both paths on fresh models from `setup` (called twice) and asserts they agree; `dispose` frees a setup. */
export async function expectCompiledGradientReads(setup: () => { model: Model; batch: Batch }, dispose: (model: Model, batch: Batch) => void): Promise<void> {
  const reference = setup();
  const opByOp = await twoReads(reference.model, reference.batch, false);
  dispose(reference.model, reference.batch);

  const { model, batch } = setup();
  const compiled = await twoReads(model, batch, true);
  const gradientStep = await compiledTrainingStepFor(model, batch.inputs, { optimizer: 'gradient' });
  const trainingStep = await compiledTrainingStepFor(model, batch.inputs, { optimizer: 'sgd' });
  expect(gradientStep, 'a compiled gradient step exists for this model').not.toBeNull();
  expect(gradientStep!.stats.dispatches, 'the gradient read issues the training step\'s dispatches').toBe(trainingStep!.stats.dispatches);
  await disposeCompiledTrainingSteps(model);
  dispose(model, batch);

  expectRelativelyClose(compiled.losses, opByOp.losses, 'losses of the two reads', 1e-4);
  expect(opByOp.losses[1], 'the second read is at other weights').not.toBe(opByOp.losses[0]);
  for (let i = 0; i < 2; i++) {
    expectGradientsClose(compiled.grads[i]!, opByOp.grads[i]!, `read ${i + 1}`);
    for (const [name, v] of compiled.paramsBefore[i]!) {
      expect(compiled.paramsAfter[i]!.get(name), `read ${i + 1} leaves ${name} as it was`).toEqual(v);
    }
  }
  for (const [name, v] of opByOp.buffers) expectRelativelyClose(compiled.buffers.get(name)!, v, `running statistic ${name} after the reads`, 1e-4);
}

/**
 * The closeness rule of a gradient against tfjs's: per tensor max |Δ| ≤ 1e-3 · its max |reference| + 1e-6 · the
 * largest reference entry of the model, the same parameters, and not all zero.
 */
export function expectGradientsClose(actual: ReadonlyMap<string, Float32Array>, expected: ReadonlyMap<string, Float32Array>, what: string): void {
  const largest = Math.max(...[...expected.values()].map((g) => g.reduce((m, x) => Math.max(m, Math.abs(x)), 0)));
  expect(largest, `${what}: the gradients are not all zero`).toBeGreaterThan(0);
  expect([...actual.keys()].sort(), `${what}: every parameter has a gradient`).toEqual([...expected.keys()].sort());
  for (const [name, g] of expected) {
    const a = actual.get(name)!;
    expect(a.length, `${what}: ${name}: length`).toBe(g.length);
    let max = 0, diff = 0;
    for (let j = 0; j < g.length; j++) {
      max = Math.max(max, Math.abs(g[j]!));
      diff = Math.max(diff, Math.abs(a[j]! - g[j]!));
    }
    expect(diff, `${what}: gradient of ${name}: max |actual − reference| against 1e-3 · ${max} + 1e-6 · ${largest}`).toBeLessThanOrEqual(1e-3 * max + 1e-6 * largest);
  }
}
