/**
 * Issue 16: the compiled BERT step through its trainer hook (`compiledTrainingStepFor`) gives the same short
 * training run as prunebench's op-by-op step (`trainStep` with `createMaskedOptimizer({ kind: 'adamw' })`, the
 * GLUE recipe's betas and eps), both on webgpu: the same loss curve, the same weights, the same moments and step
 * count — for a structured-pruned BERT (layer 1 cut to 1 head and a narrower FFN, hidden cut below the LayerNorm
 * width, a narrower pooler), with padding in the attention mask, two token types, repeated token ids and masks on a
 * query weight, an FFN weight and the word embeddings; and a run that switches from the compiled step to the
 * optimizer halfway (state moved with readState → restore) goes on identically, and so does trainStep with an
 * optimizer made with `compiled: 'always'` (it moves its state onto the compiled step, as the harness trainer does;
 * the op-by-op runs use `compiled: 'never'`). SGD too (the same kernels with SGD's update), over fewer steps.
 *
 * Tolerance. Loss and weights: max |compiled − op-by-op| ≤ 1e-4 · max(1, max |op-by-op|). AdamW moves every
 * entry by about lr = 1e-3 a step whatever its gradient's size, so a wrong gradient is off by ~1e-3 or more,
 * while float32 rounding (different summation orders, measured ~1e-7 on the gradients) changes an update by
 * ~1e-7 · lr. (The key bias's gradient is zero in exact arithmetic — softmax ignores a constant per row — so its
 * entries are rounding noise ~1e-9, and with eps = 1e-6 their updates stay below 1e-3 · lr.) Optimizer state: per
 * tensor max |Δ| ≤ 1e-3 · max |op-by-op| (relative to the tensor's own scale: m ~ gradients, v ~ their squares)
 * + 1e-6 · the largest value of that state over all parameters (the key bias's moments are rounding noise ~1e-14,
 * which no relative bound holds).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, initEngine, takeBackendErrors } from '@prunebench/engine';
import { FIRST_DISPATCH_TIMEOUT_MS, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { compiledTrainingStepFor, createBert, disposeCompiledTrainingSteps, type BertArch, type BertModel } from '@prunebench/models';
import { createMaskedOptimizer, trainStep, type MaskedOptimizer } from './optimizer.js';
import type { Batch, Masks } from './types.js';
import { expectCompiledGradientReads } from './gradient-reads.test-util.js';

const requirement = await webgpuRequirement();
const ARCH: BertArch = {
  family: 'bert', vocabSize: 50, hidden: 32, maxPosition: 16, typeVocabSize: 2, layerNormEps: 1e-12, numLabels: 3,
  layers: [{ heads: 2, headDim: 16, intermediate: 64 }, { heads: 1, headDim: 16, intermediate: 40 }],
  layerNormWidth: 40, pooler: 24,
};
const BATCH = 3, SEQ = 10;
const ADAMW = { kind: 'adamw' as const, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 };
const SGD = { kind: 'sgd' as const, momentum: 0.9, weightDecay: 0.01 };
type Settings = typeof ADAMW | typeof SGD;
const MASKED = ['bert.encoder.layer.0.attention.self.query.weight', 'bert.encoder.layer.1.intermediate.dense.weight', 'bert.embeddings.word_embeddings.weight'];

function setup(): { model: BertModel; batch: Batch; masks: Masks } {
  const rng = new SeededRng(21);
  const model = createBert(ARCH, { seed: 4 });
  // a few ids repeat (the embedding gradient's token lists); the last example has 4 padding tokens
  const ids = Int32Array.from({ length: BATCH * SEQ }, (_, t) => (t % 7 === 3 ? 5 : 1 + rng.int(ARCH.vocabSize - 1)));
  const mask = Int32Array.from({ length: BATCH * SEQ }, (_, t) => (t >= (BATCH - 1) * SEQ + 6 ? 0 : 1));
  const types = Int32Array.from({ length: BATCH * SEQ }, (_, t) => (t % SEQ >= 6 ? 1 : 0));
  const batch: Batch = {
    inputs: {
      input_ids: tf.tensor2d(ids, [BATCH, SEQ], 'int32'),
      attention_mask: tf.tensor2d(mask, [BATCH, SEQ], 'int32'),
      token_type_ids: tf.tensor2d(types, [BATCH, SEQ], 'int32'),
    },
    labels: tf.tensor1d([2, 0, 1], 'int32'),
    size: BATCH,
  };
  const masks: Masks = new Map();
  for (const name of MASKED) {
    const w = model.params.get(name)!;
    const m = tf.tensor(Float32Array.from({ length: w.size }, () => (rng.next() < 0.4 ? 0 : 1)), w.shape);
    tf.tidy(() => w.assign(tf.mul(w, m)));
    masks.set(name, m);
  }
  return { model, batch, masks };
}

async function values(model: BertModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.params) out.set(name, Float32Array.from(await v.data()));
  return out;
}

/** The optimizer's state arrays by checkpoint name (momentum/…, adam-m/…, adam-v/…), read wherever it lives. */
async function stateOf(optimizer: MaskedOptimizer): Promise<Map<string, Float32Array>> {
  return new Map([...(await optimizer.readState()).arrays].map(([key, { data }]) => [key, data]));
}

/**
 * Trains rates.length steps: the first `compiledSteps` through the hook, the rest with the op-by-op optimizer; or
 * (`viaTrainStep`) every step by trainStep with an optimizer that always uses the compiled step (it moves its state
 * there and back, as the harness trainer does).
 */
async function run(compiledSteps: number, settings: Settings, rates: number[], viaTrainStep = false) {
  const { model, batch, masks } = setup();
  const optimizer = createMaskedOptimizer(settings, { compiled: 'never' });
  const trainer = createMaskedOptimizer(settings, { compiled: 'always' });
  const hook = { optimizer: settings.kind };
  const losses: number[] = [];
  let dispatches = 0;
  for (const [i, learningRate] of rates.entries()) {
    if (viaTrainStep) {
      losses.push(await trainStep(model, batch, trainer, { learningRate, masks }));
    } else if (i < compiledSteps) {
      const step = await compiledTrainingStepFor(model, batch.inputs, hook);
      expect(step, 'a compiled step exists for BERT on webgpu').not.toBeNull();
      dispatches = step!.stats.dispatches;
      losses.push(await step!.step(batch.inputs, batch.labels, { ...settings, learningRate, masks }));
      if (i + 1 === compiledSteps && compiledSteps < rates.length) {
        const state = await step!.readState();
        const tensors = new Map([...state].map(([key, v]) => [key, tf.tensor(v, model.params.get(key.slice(key.indexOf('/') + 1))!.shape)] as const));
        optimizer.restore({ steps: step!.steps, tensors });
        tf.dispose([...tensors.values()]);
      }
    } else {
      losses.push(await trainStep(model, batch, optimizer, { learningRate, masks }));
    }
  }
  const step = await compiledTrainingStepFor(model, batch.inputs, hook);
  if (viaTrainStep) {
    dispatches = step!.stats.dispatches;
    expect(step!.steps, 'the compiled step took every step').toBe(rates.length);
    await trainer.moveStateTo(null);
  }
  const out = {
    losses, dispatches,
    tensors: await values(model),
    state: viaTrainStep ? await stateOf(trainer) : compiledSteps === rates.length ? await step!.readState() : await stateOf(optimizer),
    steps: viaTrainStep ? trainer.steps : compiledSteps === rates.length ? step!.steps : optimizer.steps,
  };
  await disposeCompiledTrainingSteps(model);
  optimizer.dispose();
  trainer.dispose();
  tf.dispose([...Object.values(batch.inputs as Record<string, tf.Tensor>), batch.labels, ...masks.values()]);
  model.dispose();
  return out;
}

function maxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): { diff: number; max: number } {
  expect(actual.length, what).toBe(expected.length);
  let max = 0, diff = 0;
  for (let i = 0; i < expected.length; i++) {
    max = Math.max(max, Math.abs(expected[i]!));
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
  }
  expect(Number.isFinite(diff), `${what}: finite`).toBe(true);
  return { diff, max };
}

async function compareRuns(settings: Settings, rates: number[]): Promise<void> {
  await initEngine({ backend: 'webgpu' });
  takeBackendErrors();
  const opByOp = await run(0, settings, rates);
  const compiled = await run(rates.length, settings, rates);
  const switched = await run(2, settings, rates);
  const trained = await run(0, settings, rates, true);
  expect(takeBackendErrors()).toEqual([]);
  expect(compiled.dispatches, 'dispatches: 7 + 26 per layer').toBe(7 + 26 * ARCH.layers.length);
  expect(trained.dispatches, 'trainStep with compiled: always ran the compiled step').toBe(compiled.dispatches);
  for (const [label, other] of [['compiled', compiled], ['compiled, then the optimizer', switched], ['trainStep, compiled: always', trained]] as const) {
    const loss = maxDiff(other.losses, opByOp.losses, `${label}: loss curve`);
    expect(loss.diff / Math.max(1, loss.max), `${label}: loss curve`).toBeLessThanOrEqual(1e-4);
    for (const [name, v] of opByOp.tensors) {
      const d = maxDiff(other.tensors.get(name)!, v, `${label}: ${name}`);
      expect(d.diff / Math.max(1, d.max), `${label}: ${name}: max |compiled − op-by-op| / scale`).toBeLessThanOrEqual(1e-4);
    }
    expect([...other.state.keys()].sort()).toEqual([...opByOp.state.keys()].sort());
    // the largest value of each kind of state (momentum, adam-m, adam-v) over all parameters: the floor of the
    // tolerance, for a tensor whose true gradient is zero (the key bias) and which holds rounding noise only
    const kindMax = new Map<string, number>();
    for (const [key, v] of opByOp.state) {
      const kind = key.slice(0, key.indexOf('/'));
      kindMax.set(kind, Math.max(kindMax.get(kind) ?? 0, ...v.map(Math.abs)));
    }
    for (const [key, v] of opByOp.state) {
      const d = maxDiff(other.state.get(key)!, v, `${label}: ${key}`);
      const floor = 1e-6 * kindMax.get(key.slice(0, key.indexOf('/')))!;
      expect(d.diff, `${label}: optimizer state ${key}: max |Δ| against 1e-3 · max ${d.max} + ${floor}`).toBeLessThanOrEqual(1e-3 * d.max + floor);
    }
    expect(other.steps).toBe(opByOp.steps);
  }
  // pruned weights are exactly +0 after the compiled steps
  for (const name of MASKED) {
    const { model, masks } = setup();
    const maskValues = await masks.get(name)!.data();
    const w = compiled.tensors.get(name)!;
    expect(w.every((x, i) => maskValues[i] !== 0 || Object.is(x, 0)), `${name}: pruned entries are +0`).toBe(true);
    tf.dispose([...masks.values()]);
    model.dispose();
  }
  expect(opByOp.losses[rates.length - 1]!).toBeLessThan(opByOp.losses[0]!);
}

describe('the compiled BERT step through its hook trains as trainStep does (webgpu)', () => {
  itRequires(requirement, 'AdamW (GLUE recipe betas/eps, decay on weights and tables only): loss curve, weights, moments, step count; switching halfway carries them over', () => compareRuns(ADAMW, [1e-3, 1e-3, 8e-4, 6e-4]), FIRST_DISPATCH_TIMEOUT_MS);
  itRequires(requirement, 'SGD (momentum, weight decay): loss curve, weights, momentum', () => compareRuns(SGD, [0.05, 0.05, 0.02]), FIRST_DISPATCH_TIMEOUT_MS);
  itRequires(requirement, 'gradient reads on the compiled gradient step equal tfjs\'s: loss, every gradient (embeddings, attention, the pruned shape), no parameter changed', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    await expectCompiledGradientReads(() => {
      const { model, batch, masks } = setup();
      tf.dispose([...masks.values()]);
      return { model, batch };
    }, (model, batch) => {
      tf.dispose([...Object.values(batch.inputs as Record<string, tf.Tensor>), batch.labels]);
      model.dispose();
    });
    expect(takeBackendErrors()).toEqual([]);
  }, FIRST_DISPATCH_TIMEOUT_MS);
});
