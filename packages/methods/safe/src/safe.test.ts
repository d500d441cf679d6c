import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { BN_EPS, updatedRunningStats, type Model, type ParamKind } from '@prunebench/models';
import { compressionRatioOfMasks, countKept, keepCountForTarget, type Batch, type Masks } from '@prunebench/pruning';
import { createToyModel, describeBudgetedTrainerContract, SimpleBudgetedTrainer, testMethodContext, toyClassificationData, weightNames } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, {
  globalNorm,
  penaltyAt,
  plannedSafeSteps,
  projectOntoTopK,
  reestimateBatchNorm,
  safeMethod,
  samPerturbation,
  SAFE_DEFAULTS,
} from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const target = (ratio: number) => ({ kind: 'compression' as const, ratio });

/** A SimpleBudgetedTrainer that records every gradient call: the model's weights and the charge. */
class RecordingTrainer extends SimpleBudgetedTrainer {
  readonly calls: { params: Map<string, Float32Array>; charged: number }[] = [];
  override async gradients(model: Model, batch: Batch) {
    const before = this.usedExamples();
    const params = new Map([...model.params].map(([name, v]) => [name, Float32Array.from(v.dataSync() as Float32Array)]));
    const result = await super.gradients(model, batch);
    this.calls.push({ params, charged: this.usedExamples() - before });
    return result;
  }
}

describeBudgetedTrainerContract('RecordingTrainer (SAFE tests)', (totalExamples) => {
  const trainer = new RecordingTrainer({ totalExamples, seed: 5 });
  return { trainer, model: createToyModel({ seed: 11 }), dispose: () => trainer.dispose() };
});

async function runSafe(options: Record<string, unknown>, budget: number, ratio = 4, model: Model = createToyModel({ seed: 11 })) {
  const trainer = new RecordingTrainer({ totalExamples: budget, seed: 5 });
  const context = testMethodContext(safeMethod, { model, trainer, target: target(ratio), options });
  const result = await safeMethod.run(context);
  return { model, inner: trainer, trainer, result, context, keep: keepCountForTarget(model, context.prunable, target(ratio)) };
}

function expectPrunedExactlyZero(model: Model, masks: Masks): void {
  for (const [name, mask] of masks) {
    const m = mask.dataSync();
    const w = model.params.get(name)!.dataSync();
    for (let i = 0; i < m.length; i++) if (m[i] === 0) expect(Object.is(w[i], 0)).toBe(true);
  }
}

describe('projectOntoTopK', () => {
  it('keeps exactly the k largest magnitudes over all tensors and zeroes the rest', async () => {
    const a = tf.tensor([0.5, -3, 0.1, 2], [2, 2]);
    const b = tf.tensor([-1, 0.05, 4]);
    const { projected, masks } = await projectOntoTopK(new Map([['a', a], ['b', b]]), 3);
    expect(Array.from(projected.get('a')!.dataSync())).toEqual([0, -3, 0, 2]);
    expect(Array.from(projected.get('b')!.dataSync())).toEqual([0, 0, 4]);
    expect(await countKept(masks)).toBe(3);
    // Whatever is kept has a magnitude >= whatever is dropped.
    const values = [...a.dataSync(), ...b.dataSync()];
    const keep = [...masks.get('a')!.dataSync(), ...masks.get('b')!.dataSync()];
    const minKept = Math.min(...values.filter((_, i) => keep[i]).map(Math.abs));
    const maxDropped = Math.max(...values.filter((_, i) => !keep[i]).map(Math.abs));
    expect(minKept).toBeGreaterThanOrEqual(maxDropped);
  });

  it('breaks ties deterministically: the earliest entry (map order, then index) is kept', async () => {
    const a = tf.tensor([1, -2, 2]);
    const b = tf.tensor([-2, 2, 0.5]);
    const first = await projectOntoTopK(new Map([['a', a], ['b', b]]), 2);
    expect(Array.from(first.masks.get('a')!.dataSync())).toEqual([0, 1, 1]);
    expect(Array.from(first.masks.get('b')!.dataSync())).toEqual([0, 0, 0]);
    const again = await projectOntoTopK(new Map([['a', a], ['b', b]]), 2);
    expect(Array.from(again.projected.get('a')!.dataSync())).toEqual([0, -2, 2]);
    const three = await projectOntoTopK(new Map([['a', a], ['b', b]]), 3);
    expect(Array.from(three.masks.get('b')!.dataSync())).toEqual([1, 0, 0]);
  });

  it('layerwise scope gives every tensor the same sparsity with an exact total', async () => {
    const a = tf.tensor(new SeededRng(1).normalArray(40));
    const b = tf.tensor(new SeededRng(2).normalArray(10).map((x) => x * 100));
    const global = await projectOntoTopK(new Map([['a', a], ['b', b]]), 10, 'global');
    expect(await countKept(new Map([['b', global.masks.get('b')!]]))).toBe(10);
    const layerwise = await projectOntoTopK(new Map([['a', a], ['b', b]]), 10, 'layerwise');
    expect(await countKept(new Map([['a', layerwise.masks.get('a')!]]))).toBe(8);
    expect(await countKept(new Map([['b', layerwise.masks.get('b')!]]))).toBe(2);
  });
});

describe('SAM perturbation and schedules', () => {
  it('has global L2 norm rho over all the gradients and points along the gradient', async () => {
    const grads = new Map([
      ['x', tf.tensor([3, 0, -4])],
      ['y', tf.tensor([[12]])],
    ]);
    const { perturbation, gradNorm } = await samPerturbation(grads, 0.05);
    expect(gradNorm).toBeCloseTo(13, 5);
    expect(await globalNorm(perturbation.values())).toBeCloseTo(0.05, 6);
    const x = perturbation.get('x')!.dataSync();
    expect(x[0] / 3).toBeCloseTo(0.05 / 13, 7);
    expect(x[2] / -4).toBeCloseTo(0.05 / 13, 7);
  });

  it('grows the penalty from 0 to lambda on the cosine and linear schedules', () => {
    expect(penaltyAt(0, 100, 0.01, 'cosine')).toBe(0);
    expect(penaltyAt(50, 100, 0.01, 'cosine')).toBeCloseTo(0.005, 10);
    expect(penaltyAt(100, 100, 0.01, 'cosine')).toBeCloseTo(0.01, 10);
    expect(penaltyAt(25, 100, 0.01, 'linear')).toBeCloseTo(0.0025, 10);
    expect(penaltyAt(3, 100, 0.01, 'constant')).toBe(0.01);
    for (let t = 1; t < 100; t++) expect(penaltyAt(t, 100, 1, 'cosine')).toBeGreaterThan(penaltyAt(t - 1, 100, 1, 'cosine'));
  });
});

describe('safe method', () => {
  it('is exported by name and as default, with the reference defaults', () => {
    expect(defaultExport).toBe(safeMethod);
    expect(safeMethod.name).toBe('safe');
    expect(safeMethod.parseOptions(undefined)).toEqual(SAFE_DEFAULTS);
    expect(SAFE_DEFAULTS).toMatchObject({ rho: 0.1, lambdaSchedule: 'cosine', dualUpdateInterval: 32, sparsityScope: 'global' });
  });

  it('perturbs by exactly rho at the second gradient of every step and charges 2 × batch per step', async () => {
    const rho = 0.07;
    const { trainer, inner, result } = await runSafe({ rho, batchSize: 16, dualUpdateInterval: 4, bnTuningExamples: 0 }, 330);
    const steps = plannedSafeSteps(330, 16);
    expect(steps).toBe(10);
    expect(result.details!.steps).toBe(steps);
    expect(trainer.calls).toHaveLength(2 * steps);
    for (const call of trainer.calls) expect(call.charged).toBe(16);
    expect(inner.usedExamples()).toBe(2 * 16 * steps);
    expect(inner.usedExamples()).toBeLessThanOrEqual(330);
    for (let s = 0; s < steps; s++) {
      const at = trainer.calls[2 * s].params;
      const perturbed = trainer.calls[2 * s + 1].params;
      let sq = 0;
      for (const [name, w] of at) {
        const p = perturbed.get(name)!;
        for (let i = 0; i < w.length; i++) sq += (p[i] - w[i]) ** 2;
      }
      expect(Math.sqrt(sq)).toBeCloseTo(rho, 4);
      // The weights are restored before the update: the next step starts from a different point than w + ε.
      if (s + 1 < steps) expect(trainer.calls[2 * s + 2].params).not.toEqual(perturbed);
    }
  });

  it('meets the target exactly, with pruned weights exactly zero, and reports the penalty reached', async () => {
    const { model, result, keep, context } = await runSafe({ batchSize: 16, dualUpdateInterval: 3 }, 640, 3);
    const masks = result.masks!;
    expect(await countKept(masks)).toBe(keep);
    expect([...masks.keys()]).toEqual(weightNames(model));
    expect(Math.abs((await compressionRatioOfMasks(model, context.prunable, masks)) - 3)).toBeLessThan(0.05);
    expectPrunedExactlyZero(model, masks);
    const steps = result.details!.steps as number;
    expect(steps).toBe(20);
    expect(result.details!.finalPenalty).toBeCloseTo(penaltyAt(steps - 1, steps, SAFE_DEFAULTS.lambda, 'cosine'), 12);
    expect(result.details!.dualUpdates).toBe(6);
    expect(result.details!.bnTuningBatches).toBe(0); // the toy MLP has no batch norm
  });

  it('pulls the weights towards the sparse set: a larger penalty leaves less to cut at the final projection', async () => {
    const common = { batchSize: 16, dualUpdateInterval: 8, lambdaSchedule: 'constant', learningRate: 0.05, rho: 0.05 };
    const free = await runSafe({ ...common, lambda: 0 }, 1280, 4, createToyModel({ seed: 3 }));
    const constrained = await runSafe({ ...common, lambda: 0.5 }, 1280, 4, createToyModel({ seed: 3 }));
    const dFree = free.result.details!.projectionDistance as number;
    const dConstrained = constrained.result.details!.projectionDistance as number;
    expect(dConstrained).toBeLessThan(0.5 * dFree);
  });

  it('keeps a share of the budget for masked fine-tuning through trainer.train when asked', async () => {
    const { inner, result, keep } = await runSafe({ batchSize: 16, finetuneFraction: 0.25 }, 640);
    expect(result.details!.steps).toBe(15);
    expect(inner.trainCalls).toHaveLength(1);
    expect(inner.trainCalls[0].examples).toBe(160);
    expect(inner.trainCalls[0].keptWeights).toBe(keep);
    expect(inner.usedExamples()).toBe(640);
    expectPrunedExactlyZero(result.model, result.masks!);
  });

  it('still projects exactly to the target when the budget is too small for one SAFE step', async () => {
    const { inner, result, keep } = await runSafe({ batchSize: 16 }, 31);
    expect(result.details!.steps).toBe(0);
    expect(inner.usedExamples()).toBe(0);
    expect(await countKept(result.masks!)).toBe(keep);
  });

  it('rejects bad options and targets, naming the field', async () => {
    expect(() => safeMethod.parseOptions({ rho: -0.1 })).toThrow(/safe: option rho/);
    expect(() => safeMethod.parseOptions({ lambda: 'big' })).toThrow(/option lambda /);
    expect(() => safeMethod.parseOptions({ lambdaSchedule: 'step' })).toThrow(/option lambdaSchedule/);
    expect(() => safeMethod.parseOptions({ dualUpdateInterval: 1.5 })).toThrow(/option dualUpdateInterval/);
    expect(() => safeMethod.parseOptions({ batchSize: 0 })).toThrow(/option batchSize/);
    expect(() => safeMethod.parseOptions({ momentum: 1 })).toThrow(/option momentum/);
    expect(() => safeMethod.parseOptions({ finetuneFraction: 1 })).toThrow(/option finetuneFraction/);
    expect(() => safeMethod.parseOptions({ sparsity: 0.9 })).toThrow(/unknown option "sparsity"/);
    const model = createToyModel({ seed: 1 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 10 });
    const flops = testMethodContext(safeMethod, { model, trainer, target: { kind: 'flops-reduction', fraction: 0.5 } });
    await expect(safeMethod.run(flops)).rejects.toThrow(/flops-reduction/);
  });
});

/** A one-hidden-layer model with a batch norm (running statistics as buffers) between the layers. */
function createBatchNormModel(seed: number): Model {
  const rng = new SeededRng(seed);
  const params = new Map<string, tf.Variable>([
    ['fc.weight', tf.variable(tf.tensor(rng.normalArray(8 * 4, 0.5), [8, 4]))],
    ['head.weight', tf.variable(tf.tensor(rng.normalArray(4 * 3, 0.5), [4, 3]))],
  ]);
  const buffers = new Map<string, tf.Variable>([
    ['bn.running_mean', tf.variable(tf.zeros([4]), false)],
    ['bn.running_var', tf.variable(tf.ones([4]), false)],
  ]);
  const paramKinds = new Map<string, ParamKind>([
    ['fc.weight', 'linear'],
    ['head.weight', 'linear'],
  ]);
  return {
    arch: { family: 'toy-bn' },
    params,
    buffers,
    paramKinds,
    forward(input, opts) {
      const pending: tf.Tensor[] = [];
      const logits = tf.tidy(() => {
        const h = tf.matMul(input as tf.Tensor, params.get('fc.weight')!);
        let normed: tf.Tensor;
        if (opts.training) {
          const { mean, variance } = tf.moments(h, 0);
          normed = tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, BN_EPS)));
          const next = updatedRunningStats(
            buffers.get('bn.running_mean') as unknown as tf.Tensor1D,
            buffers.get('bn.running_var') as unknown as tf.Tensor1D,
            mean as tf.Tensor1D,
            variance as tf.Tensor1D,
            h.shape[0],
          );
          pending.push(tf.keep(next.mean), tf.keep(next.variance));
        } else {
          normed = tf.div(tf.sub(h, buffers.get('bn.running_mean')!), tf.sqrt(tf.add(buffers.get('bn.running_var')!, BN_EPS)));
        }
        return tf.matMul(tf.relu(normed), params.get('head.weight')!);
      });
      if (pending.length) {
        buffers.get('bn.running_mean')!.assign(pending[0]);
        buffers.get('bn.running_var')!.assign(pending[1]);
        pending.forEach((t) => t.dispose());
      }
      return logits;
    },
    dispose() {
      for (const v of [...params.values(), ...buffers.values()]) v.dispose();
    },
  };
}

describe('batch-norm re-estimation', () => {
  it('sets the running statistics to the average of the per-batch statistics', () => {
    const model = createBatchNormModel(4);
    const rng = new SeededRng(9);
    const batches = [0, 1, 2].map(() => toyClassificationData(rng, 10));
    expect(reestimateBatchNorm(model, batches)).toBe(1);
    const means: number[][] = [];
    const vars: number[][] = [];
    for (const batch of batches) {
      const h = tf.matMul(batch.inputs as tf.Tensor, model.params.get('fc.weight')!);
      const { mean, variance } = tf.moments(h, 0);
      means.push(Array.from(mean.dataSync()));
      vars.push(Array.from(variance.dataSync()).map((v) => (v * 10) / 9));
    }
    const runningMean = model.buffers.get('bn.running_mean')!.dataSync();
    const runningVar = model.buffers.get('bn.running_var')!.dataSync();
    for (let c = 0; c < 4; c++) {
      expect(runningMean[c]).toBeCloseTo((means[0][c] + means[1][c] + means[2][c]) / 3, 4);
      expect(runningVar[c]).toBeCloseTo((vars[0][c] + vars[1][c] + vars[2][c]) / 3, 4);
    }
  });

  it('runs after the final projection inside SAFE, charging nothing for the forward passes', async () => {
    const model = createBatchNormModel(5);
    const { inner, result, keep } = await runSafe({ batchSize: 16, bnTuningExamples: 40 }, 200, 2, model);
    expect(result.details!.bnLayers).toBe(1);
    expect(result.details!.bnTuningBatches).toBe(3);
    expect(inner.usedExamples()).toBe(192);
    expect(await countKept(result.masks!)).toBe(keep);
    expect(Array.from(model.buffers.get('bn.running_var')!.dataSync()).every((v) => v > 0 && v !== 1)).toBe(true);
    expectPrunedExactlyZero(model, result.masks!);
  });
});
