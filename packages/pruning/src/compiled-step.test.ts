/**
 * Issue 16: the compiled ResNet-CIFAR step through its trainer hook (`compiledTrainingStepFor`) gives the same
 * short training run as prunebench's op-by-op step (`trainStep` with `createMaskedOptimizer` SGD), both on webgpu:
 * the same loss curve, the same weights, the same momentum state (`momentum/<param>`), and a run that switches
 * from the compiled step to the optimizer halfway (state moved with readVelocity → restore) goes on identically.
 *
 * Tolerance: max |compiled − op-by-op| ≤ 1e-4 · max(1, max |op-by-op|), per loss and tensor (float32, different
 * summation orders; the measured gap after 5 steps is ~1e-6).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, initEngine, takeBackendErrors } from '@prunebench/engine';
import { itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { compiledTrainingStepFor, createResNetCifar, disposeCompiledTrainingSteps, type ResNetCifarArch, type ResNetCifarModel } from '@prunebench/models';
import { createMaskedOptimizer, trainStep, type MaskedOptimizer } from './optimizer.js';
import type { Batch, Masks } from './types.js';

const requirement = await webgpuRequirement();
const TOLERANCE = 1e-4;
const ARCH: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 10, numClasses: 5, stem: 4,
  stages: [
    { blocks: [{ mid: 3, out: 4, stride: 1 }] },
    { blocks: [{ mid: 6, out: 8, stride: 2 }, { mid: 0, out: 8, stride: 1, removed: true }] },
    { blocks: [{ mid: 0, out: 12, stride: 2, removed: true }] },
  ],
};
const RATES = [0.1, 0.1, 0.05, 0.05, 0.02];
const SGD = { kind: 'sgd' as const, momentum: 0.9, weightDecay: 5e-4 };

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

async function momentum(optimizer: MaskedOptimizer): Promise<Map<string, Float32Array>> {
  const state = optimizer.state();
  const out = new Map<string, Float32Array>();
  for (const [key, t] of state.tensors) out.set(key.replace(/^momentum\//, ''), Float32Array.from(await t.data()));
  tf.dispose([...state.tensors.values()]);
  return out;
}

/** Trains RATES.length steps: the first `compiledSteps` through the hook, the rest with the op-by-op optimizer. */
async function run(compiledSteps: number) {
  const { model, batch, masks } = setup();
  const optimizer = createMaskedOptimizer(SGD);
  const losses: number[] = [];
  for (const [i, learningRate] of RATES.entries()) {
    if (i < compiledSteps) {
      const step = await compiledTrainingStepFor(model, batch.inputs);
      expect(step, 'a compiled step exists for ResNet-CIFAR on webgpu').not.toBeNull();
      losses.push(await step!.step(batch.inputs as tf.Tensor, batch.labels, { learningRate, momentum: SGD.momentum, weightDecay: SGD.weightDecay, masks }));
      if (i + 1 === compiledSteps && compiledSteps < RATES.length) {
        // hand the momentum over to the optimizer, as a trainer switching paths (or checkpointing) would
        const velocity = await step!.readVelocity();
        const tensors = new Map([...velocity].map(([name, v]) => [`momentum/${name}`, tf.tensor(v, model.params.get(name)!.shape)] as const));
        optimizer.restore({ steps: compiledSteps, tensors });
        tf.dispose([...tensors.values()]);
      }
    } else {
      losses.push(await trainStep(model, batch, optimizer, { learningRate, masks }));
    }
  }
  const step = await compiledTrainingStepFor(model, batch.inputs);
  const out = {
    losses,
    tensors: await values(model),
    momentum: compiledSteps === RATES.length ? await step!.readVelocity() : await momentum(optimizer),
  };
  await disposeCompiledTrainingSteps(model);
  optimizer.dispose();
  tf.dispose([batch.inputs as tf.Tensor, batch.labels, ...masks.values()]);
  model.dispose();
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 1, diff = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
  }
  expect(diff / scale, `${what}: max |compiled − op-by-op| / scale`).toBeLessThanOrEqual(TOLERANCE);
}

describe('the compiled step through its hook trains as trainStep does (webgpu)', () => {
  itRequires(requirement, 'same loss curve, weights and momentum; switching to the optimizer halfway carries the state over', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    const opByOp = await run(0);
    const compiled = await run(RATES.length);
    const switched = await run(2);
    expect(takeBackendErrors()).toEqual([]);
    for (const [label, other] of [['compiled', compiled], ['compiled, then the optimizer', switched]] as const) {
      expectClose(other.losses, opByOp.losses, `${label}: loss curve`);
      for (const [name, v] of opByOp.tensors) expectClose(other.tensors.get(name)!, v, `${label}: ${name}`);
      for (const [name, v] of opByOp.momentum) expectClose(other.momentum.get(name)!, v, `${label}: momentum of ${name}`);
    }
    // the run learns (the curve is a curve, not a constant)
    expect(opByOp.losses[RATES.length - 1]!).toBeLessThan(opByOp.losses[0]!);
  }, 300_000);
});
