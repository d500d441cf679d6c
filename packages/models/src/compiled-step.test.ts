/**
 * The engine's compiled ResNet-CIFAR training step (issue 16) on webgpu against the tfjs step on the cpu backend:
 * loss by tf.variableGrads of the training-mode forward (batch norm with running statistics) and softmax
 * cross-entropy, then prunebench's masked SGD (PyTorch's momentum and weight decay; pruned weights take no
 * gradient and are +0 after the update) — the math of @prunebench/pruning's SGD, written out here because the
 * models package may not import pruning. Compared after several steps (the learning rate changing between them):
 * every loss, every parameter, the running statistics and the momentum buffers.
 *
 * Tolerance: max |webgpu − cpu| ≤ 1e-4 · max(1, max |cpu|) per tensor. Both are float32 and sum in different
 * orders (rounding differences ~1e-7 relative per step measured); a few SGD steps amplify them by less than 100×,
 * while a wrong kernel or binding is off by O(1e-2) or more.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, compileResNetCifarStep, initEngine, takeBackendErrors, type CompiledResNetCifarStep } from '@prunebench/engine';
import { FIRST_DISPATCH_TIMEOUT_MS, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { createResNetCifar, resnetCifarArch, resolveBlocks, type ResNetCifarArch, type ResNetCifarModel } from './resnet-cifar.js';
import { randomResNetCifar } from './testing/random-resnet-cifar.js';
import { compiledTrainingStepFor, disposeCompiledTrainingSteps } from './compiled-step.js';

const requirement = await webgpuRequirement();
const TOLERANCE = 1e-4;

/** Stem 4; an identity block, a widening stride-2 block, a removed option-A block, a removed identity block. */
const SURGERED: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 10, numClasses: 5, stem: 4,
  stages: [
    { blocks: [{ mid: 3, out: 4, stride: 1 }] },
    { blocks: [{ mid: 6, out: 8, stride: 2 }, { mid: 0, out: 8, stride: 1, removed: true }] },
    { blocks: [{ mid: 0, out: 12, stride: 2, removed: true }] },
  ],
};

interface Setup {
  arch: ResNetCifarArch;
  batch: number;
  hw: number;
  learningRates: number[];
  /** Parameters pruned at random (a fraction of their weights set to 0 by a mask). */
  masked: string[];
}

interface Outcome {
  losses: number[];
  tensors: Map<string, Float32Array>;
  velocity: Map<string, Float32Array>;
}

const MOMENTUM = 0.9, WEIGHT_DECAY = 5e-4;

function inputs(setup: Setup) {
  const rng = new SeededRng(3);
  const x = tf.tensor4d(rng.normalArray(setup.batch * setup.hw * setup.hw * 3), [setup.batch, setup.hw, setup.hw, 3]);
  const y = tf.tensor1d(Int32Array.from({ length: setup.batch }, () => rng.int(setup.arch.numClasses)), 'int32');
  return { x, y };
}

function masksFor(model: ResNetCifarModel, names: string[]): Map<string, tf.Tensor> {
  const rng = new SeededRng(7);
  return new Map(names.map((name) => {
    const v = model.params.get(name)!;
    return [name, tf.tensor(Float32Array.from({ length: v.size }, () => (rng.next() < 0.4 ? 0 : 1)), v.shape)];
  }));
}

async function snapshot(model: ResNetCifarModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of [...model.params, ...model.buffers]) out.set(name, Float32Array.from(await v.data()));
  return out;
}

/** The tfjs step on the cpu backend: variableGrads of the loss, then masked SGD exactly as maskedSgdStep. */
async function reference(setup: Setup): Promise<Outcome> {
  await tf.setBackend('cpu');
  const model = randomResNetCifar(setup.arch, 11);
  const { x, y } = inputs(setup);
  const masks = masksFor(model, setup.masked);
  for (const [name, mask] of masks) tf.tidy(() => model.params.get(name)!.assign(tf.mul(model.params.get(name)!, mask)));
  const velocity = new Map<string, tf.Tensor>();
  const losses: number[] = [];
  const names = [...model.params.keys()];
  for (const lr of setup.learningRates) {
    const vars = names.map((n) => model.params.get(n)!);
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forward(x, { training: true });
      return tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, setup.arch.numClasses), logits as tf.Tensor2D) as tf.Scalar;
    }, vars);
    for (const [i, name] of names.entries()) {
      const param = vars[i]!;
      const mask = masks.get(name);
      tf.tidy(() => {
        let g: tf.Tensor = tf.add(grads[param.name]!, tf.mul(param, WEIGHT_DECAY));
        if (mask) g = tf.mul(g, mask);
        const previous = velocity.get(name);
        const v = previous ? tf.add(tf.mul(previous, MOMENTUM), g) : g;
        previous?.dispose();
        velocity.set(name, tf.keep(v.clone()));
        let updated = tf.sub(param, tf.mul(v, lr));
        if (mask) updated = tf.where(tf.notEqual(mask, 0), updated, tf.zerosLike(updated));
        param.assign(updated);
      });
    }
    tf.dispose(Object.values(grads));
    losses.push((await value.data())[0]!);
    value.dispose();
  }
  const out: Outcome = { losses, tensors: await snapshot(model), velocity: new Map() };
  for (const [name, v] of velocity) out.velocity.set(name, Float32Array.from(await v.data()));
  tf.dispose([x, y, ...masks.values(), ...velocity.values()]);
  model.dispose();
  await tf.setBackend('webgpu');
  return out;
}

async function compiled(setup: Setup): Promise<Outcome & { dispatches: number; cloneUnchanged: boolean; maskValues: Map<string, Float32Array> }> {
  const model = randomResNetCifar(setup.arch, 11);
  const { x, y } = inputs(setup);
  const masks = masksFor(model, setup.masked);
  for (const [name, mask] of masks) tf.tidy(() => model.params.get(name)!.assign(tf.mul(model.params.get(name)!, mask)));
  const maskValues = new Map<string, Float32Array>();
  for (const [name, mask] of masks) maskValues.set(name, Float32Array.from(await mask.data()));
  // a tensor sharing a parameter's data (tfjs clones do) must not see the step's in-place update
  const clone = model.params.get('conv1.weight')!.clone();
  const before = Float32Array.from(await clone.data());
  const step = await compileResNetCifarStep(
    { stem: setup.arch.stem, numClasses: setup.arch.numClasses, blocks: resolveBlocks(setup.arch) },
    model, { batch: setup.batch, height: setup.hw, width: setup.hw },
  );
  const losses: number[] = [];
  for (const lr of setup.learningRates) {
    losses.push(await step.step(x, y, { learningRate: lr, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY, masks }));
  }
  const cloneNow = Float32Array.from(await clone.data());
  const out = {
    losses, tensors: await snapshot(model), velocity: await step.readVelocity(), dispatches: step.stats.dispatches,
    cloneUnchanged: cloneNow.every((v, i) => v === before[i]), maskValues,
  };
  step.dispose();
  tf.dispose([x, y, clone, ...masks.values()]);
  model.dispose();
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): number {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 1, diff = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
  }
  expect(Number.isFinite(diff), `${what}: finite`).toBe(true);
  expect(diff / scale, `${what}: max |webgpu − cpu| / scale`).toBeLessThanOrEqual(TOLERANCE);
  return diff / scale;
}

async function compare(setup: Setup): Promise<{ worst: number; dispatches: number }> {
  await initEngine({ backend: 'webgpu' });
  takeBackendErrors();
  const expected = await reference(setup);
  const actual = await compiled(setup);
  expect(takeBackendErrors()).toEqual([]);
  expect(actual.cloneUnchanged, 'a clone of a parameter keeps its values').toBe(true);
  let worst = 0;
  actual.losses.forEach((loss, i) => {
    expect(Math.abs(loss - expected.losses[i]!), `loss of step ${i + 1}`).toBeLessThanOrEqual(TOLERANCE * Math.max(1, expected.losses[i]!));
  });
  for (const [name, values] of expected.tensors) worst = Math.max(worst, expectClose(actual.tensors.get(name)!, values, name));
  for (const [name, values] of expected.velocity) worst = Math.max(worst, expectClose(actual.velocity.get(name)!, values, `momentum of ${name}`));
  for (const name of setup.masked) {
    const m = actual.maskValues.get(name)!;
    expect(actual.tensors.get(name)!.every((v, i) => m[i] !== 0 || Object.is(v, 0)), `${name}: pruned weights are +0`).toBe(true);
  }
  return { worst, dispatches: actual.dispatches };
}

describe('compiled ResNet-CIFAR SGD step (webgpu) agrees with the tfjs step on cpu', () => {
  itRequires(requirement, 'a surgered net (removed option-A and identity blocks), masks, momentum, weight decay, a changing learning rate', async () => {
    const { worst } = await compare({ arch: SURGERED, batch: 4, hw: 8, learningRates: [0.05, 0.05, 0.02], masked: ['layer1.0.conv2.weight', 'linear.weight'] });
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'ResNet-20 (its real widths) at batch 2 on 8×8 images: two steps, 154 dispatches each', async () => {
    const { dispatches } = await compare({ arch: resnetCifarArch(20), batch: 2, hw: 8, learningRates: [0.1, 0.1], masked: ['layer2.1.conv1.weight'] });
    expect(dispatches).toBe(154);
  }, 600_000);
});

describe('compiledTrainingStepFor (the trainer hook)', () => {
  itRequires(requirement, 'a step for ResNet-CIFAR on webgpu, cached per shape; null elsewhere; shapes can share one momentum state', async () => {
    await initEngine({ backend: 'webgpu' });
    const model = randomResNetCifar(SURGERED, 11);
    const x = tf.zeros([4, 8, 8, 3]);
    const step = await compiledTrainingStepFor(model, x);
    expect(step).not.toBeNull();
    expect(await compiledTrainingStepFor(model, x)).toBe(step);
    expect(await compiledTrainingStepFor(model, tf.zeros([4, 8, 8, 1]))).toBeNull();
    const other = await compileResNetCifarStep(
      { stem: SURGERED.stem, numClasses: SURGERED.numClasses, blocks: resolveBlocks(SURGERED) }, model,
      { batch: 4, height: 8, width: 8 }, { shareVelocityWith: step as CompiledResNetCifarStep },
    );
    step!.writeState(new Map([['momentum/linear.bias', Float32Array.from([1, 2, 3, 4, 5])]]));
    expect([...(await other.readVelocity()).get('linear.bias')!]).toEqual([1, 2, 3, 4, 5]);
    other.dispose();
    await disposeCompiledTrainingSteps(model);
    await tf.setBackend('cpu');
    expect(await compiledTrainingStepFor(model, x)).toBeNull();
    await tf.setBackend('webgpu');
    model.dispose();

    // a model's dispose() frees the steps built for it (GPU memory a garbage collector would free late)
    const kept = randomResNetCifar(SURGERED, 12);
    const built = await compiledTrainingStepFor(kept, x);
    kept.dispose();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const labels = tf.zeros([4], 'int32');
    expect(() => built!.step(x, labels, { learningRate: 0.1 })).toThrow('compiled step: used after dispose()');
    tf.dispose([x, labels]);
  }, FIRST_DISPATCH_TIMEOUT_MS);
});

describe('compiled step: what it refuses', () => {
  itRequires(requirement, 'a model whose option-A shortcut carries a channel map (coupled-channel surgery): null, so tfjs trains it', async () => {
    await initEngine({ backend: 'webgpu' });
    const arch = resnetCifarArch(8);
    // stage 2's first block pads 16 channels into 32; a map puts them elsewhere (here reversed)
    arch.stages[1].blocks[0].shortcut = Array.from({ length: 16 }, (_, i) => 31 - i);
    const model = createResNetCifar(arch, { seed: 1 });
    const x = tf.zeros([2, 8, 8, 3]);
    expect(await compiledTrainingStepFor(model, x)).toBeNull();
    model.dispose();
    x.dispose();
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'a net that does not match the model, and a batch of another shape', async () => {
    await initEngine({ backend: 'webgpu' });
    const model = randomResNetCifar(SURGERED, 11);
    const net = { stem: SURGERED.stem, numClasses: SURGERED.numClasses, blocks: resolveBlocks(SURGERED) };
    await expect(compileResNetCifarStep({ ...net, stem: 5 }, model, { batch: 4, height: 8, width: 8 })).rejects.toThrow(/'conv1.weight' must be float32 \[3,3,3,5\]/);
    const step = await compileResNetCifarStep(net, model, { batch: 4, height: 8, width: 8 });
    const x = tf.zeros([2, 8, 8, 3]);
    const y = tf.zeros([2], 'int32');
    expect(() => step.step(x, y, { learningRate: 0.1 })).toThrow(/images must be float32 \[4, 8, 8, 3\]/);
    step.dispose();
    expect(() => step.step(x, y, { learningRate: 0.1 })).toThrow(/after dispose/);
    tf.dispose([x, y]);
    model.dispose();
  }, 120_000);
});
