/**
 * Issue 16: `trainStep` on the compiled ResNet-CIFAR step (the optimizer's default where the model has one) gives
 * the same short training run as the op-by-op step (`createMaskedOptimizer(…, { compiled: 'never' })`), both on
 * webgpu: the same loss curve, the same weights, the same optimizer state (`momentum/<param>`; AdamW's
 * `adam-m/<param>`, `adam-v/<param>`), also read from the GPU mid-run (`readState`), and a run that leaves the
 * compiled step halfway (its state moved home by `moveStateTo`) goes on identically. For SGD and for AdamW (createMaskedOptimizer({ kind: 'adamw' })).
 *
 * Tolerance: max |compiled − op-by-op| ≤ 1e-4 · max(1, max |op-by-op|), per loss and tensor (float32, different
 * summation orders; the measured gap after 5 steps is ~1e-6).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, initEngine, takeBackendErrors } from '@prunebench/engine';
import { FIRST_DISPATCH_TIMEOUT_MS, expectRelativelyClose, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { compiledTrainingStepFor, createResNetCifar, disposeCompiledTrainingSteps, type ResNetCifarModel } from '@prunebench/models';
import { softmaxCrossEntropy } from './loss.js';
import { createMaskedOptimizer, trainStep, type MaskedOptimizer, type OptimizerStateData } from './optimizer.js';
import type { Batch, Masks } from './types.js';
import { COMPILED_STEP_TEST_ARCH as ARCH } from './testing.js';
import { expectCompiledGradientReads } from './gradient-reads.test-util.js';

const requirement = await webgpuRequirement();
const TOLERANCE = 1e-4;
const RATES = [0.1, 0.1, 0.05, 0.05, 0.02];
const SGD = { kind: 'sgd' as const, momentum: 0.9, weightDecay: 5e-4 };
const ADAMW = { kind: 'adamw' as const, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
type Settings = typeof SGD | typeof ADAMW;

function setup(): { model: ResNetCifarModel; batch: Batch; masks: Masks } {
  const rng = new SeededRng(5);
  const model = createResNetCifar(ARCH, { seed: 3 });
  const batch: Batch = {
    inputs: tf.tensor4d(rng.normalArray(4 * 8 * 8 * 3), [4, 8, 8, 3]),
    labels: tf.tensor1d([0, 3, 1, 4], 'int32'),
    size: 4,
  };
  const w = model.params.get('layer2.0.conv1.weight')!;
  const mask = tf.tensor(Float32Array.from({ length: w.size }, () => (rng.next() < 0.5 ? 0 : 1)), w.shape);
  tf.tidy(() => w.assign(tf.mul(w, mask)));
  return { model, batch, masks: new Map([['layer2.0.conv1.weight', mask]]) };
}

async function values(model: ResNetCifarModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of [...model.params, ...model.buffers]) out.set(name, Float32Array.from(await v.data()));
  return out;
}

/** The optimizer's state arrays by checkpoint name (momentum/…, adam-m/…, adam-v/…), read wherever it lives. */
async function stateOf(optimizer: MaskedOptimizer): Promise<Map<string, Float32Array>> {
  return new Map([...(await optimizer.readState()).arrays].map(([key, { data }]) => [key, data]));
}

/**
 * Trains RATES.length steps with `trainStep`: the first `compiledSteps` on the compiled step (the optimizer's
 * default), the rest op-by-op — by passing the cross-entropy explicitly, as distillation passes its loss, which
 * moves the optimizer's state home from the GPU. 0 = an optimizer made with `compiled: false`.
 */
async function run(compiledSteps: number, settings: Settings = SGD) {
  const { model, batch, masks } = setup();
  const optimizer = createMaskedOptimizer(settings, { compiled: compiledSteps > 0 ? 'always' : 'never' });
  const losses: number[] = [];
  const midway: OptimizerStateData[] = [];
  for (const [i, learningRate] of RATES.entries()) {
    losses.push(await trainStep(model, batch, optimizer, { learningRate, masks }, i < compiledSteps ? undefined : softmaxCrossEntropy));
    if (i === 0) midway.push(await optimizer.readState());
  }
  if (compiledSteps > 0) {
    const step = await compiledTrainingStepFor(model, batch.inputs, { optimizer: settings.kind });
    expect(step!.steps, 'the compiled step took the first steps').toBe(compiledSteps);
  }
  await optimizer.moveStateTo(null);
  const out = { losses, tensors: await values(model), state: await stateOf(optimizer), midway: midway[0]! };
  await disposeCompiledTrainingSteps(model);
  optimizer.dispose();
  tf.dispose([batch.inputs as tf.Tensor, batch.labels, ...masks.values()]);
  model.dispose();
  return out;
}

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => expectRelativelyClose(actual, expected, what, TOLERANCE);

async function compareRuns(settings: Settings): Promise<void> {
  await initEngine({ backend: 'webgpu' });
  takeBackendErrors();
  const opByOp = await run(0, settings);
  const compiled = await run(RATES.length, settings);
  const switched = await run(2, settings);
  expect(takeBackendErrors()).toEqual([]);
  for (const [label, other] of [['compiled', compiled], ['compiled, then the optimizer', switched]] as const) {
    expectClose(other.losses, opByOp.losses, `${label}: loss curve`);
    for (const [name, v] of opByOp.tensors) expectClose(other.tensors.get(name)!, v, `${label}: ${name}`);
    expect([...other.state.keys()].sort()).toEqual([...opByOp.state.keys()].sort());
    for (const [key, v] of opByOp.state) expectClose(other.state.get(key)!, v, `${label}: optimizer state ${key}`);
    // readState() after the first step, read from the GPU without moving the state
    expect(other.midway.steps).toBe(1);
    for (const [key, v] of opByOp.midway.arrays) {
      expect(other.midway.arrays.get(key)!.shape).toEqual(v.shape);
      expectClose(other.midway.arrays.get(key)!.data, v.data, `${label}: state after step 1 ${key}`);
    }
  }
  // the run learns (the curve is a curve, not a constant)
  expect(opByOp.losses[RATES.length - 1]!).toBeLessThan(opByOp.losses[0]!);
}

describe('the compiled step through its hook trains as trainStep does (webgpu)', () => {
  itRequires(requirement, 'SGD: same loss curve, weights and momentum; switching to the optimizer halfway carries the state over', () => compareRuns(SGD), FIRST_DISPATCH_TIMEOUT_MS);
  itRequires(requirement, 'AdamW: same loss curve, weights and moments (bias correction, decay on weights only); the switch carries moments and step count', () => compareRuns(ADAMW), FIRST_DISPATCH_TIMEOUT_MS);
  itRequires(requirement, 'gradient reads (the trainer\'s gradients: SNIP, SAFE\'s SAM, RigL) on the compiled gradient step equal tfjs\'s: loss, every gradient, running statistics; no parameter changed', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    await expectCompiledGradientReads(setup, (model, batch) => {
      tf.dispose([batch.inputs as tf.Tensor, batch.labels]);
      model.dispose();
    });
    expect(takeBackendErrors()).toEqual([]);
  }, FIRST_DISPATCH_TIMEOUT_MS);
});
