import * as tf from '@tensorflow/tfjs';
import { checkNmPattern, countKept, keepCountForTarget, perOutputMasks, layerKeepCountsForTarget, magnitudeScores, type PruningTarget } from '@prunebench/pruning';
import { createToyConvModel, createToyModel, SimpleBudgetedTrainer, testMethodContext, weightNames } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, { wandaMethod, wandaScores } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function prune(options: Record<string, unknown>, target: PruningTarget, seed = 0, model = createToyModel({ seed: 31 })) {
  const trainer = new SimpleBudgetedTrainer({ totalExamples: 160, seed: 1 });
  const context = testMethodContext(wandaMethod, { model, trainer, target, options, seed });
  const result = await wandaMethod.run(context);
  return { model, trainer, result, context, keep: keepCountForTarget(model, weightNames(model), target) };
}

const flat = async (masks: Map<string, tf.Tensor>) => (await Promise.all([...masks.values()].map((m) => m.data()))).flatMap((d) => Array.from(d));

describe('wanda method', () => {
  it('is the package default export, per-output and without fine-tuning by default', () => {
    expect(defaultExport).toBe(wandaMethod);
    expect(wandaMethod.defaults).toMatchObject({ calibrationExamples: 128, allocation: 'per-output', schedule: 'one-shot', finetune: false });
  });

  it('equals magnitude pruning per output when every input feature has the same norm', async () => {
    const model = createToyModel({ seed: 7 });
    const names = weightNames(model);
    const target: PruningTarget = { kind: 'sparsity', fraction: 0.6 };
    const counts = layerKeepCountsForTarget(model, names, target);
    const equal = new Map(names.map((name) => [name, new Array(model.params.get(name)!.shape[0]).fill(2.5)]));
    const wanda = await perOutputMasks(wandaScores(model, names, equal), counts);
    // magnitude with the per-output allocation: the same masks, weight for weight.
    const magnitude = await perOutputMasks(magnitudeScores(model, names), counts);
    expect(await flat(wanda)).toEqual(await flat(magnitude));
    expect(await flat(wanda)).not.toEqual(await flat(await perOutputMasks(wandaScores(model, names, new Map(names.map((n) => [n, equal.get(n)!.map((_, j) => j + 1)]))), counts)));
  });

  it('weights each input feature by its activation norm: a feature that is always 0 is pruned first', async () => {
    const model = createToyModel({ seed: 3 });
    const names = weightNames(model);
    const norms = new Map(names.map((name) => [name, Array.from({ length: model.params.get(name)!.shape[0] }, (_, j) => (j === 0 ? 0 : 1))]));
    const scores = wandaScores(model, names, norms);
    const fc1 = await scores.get('fc1.weight')!.data();
    for (let o = 0; o < 16; o++) expect(fc1[o]).toBe(0);
    expect(fc1[16]).toBeCloseTo(Math.abs((await model.params.get('fc1.weight')!.data())[16]), 6);
  });

  it('keeps exactly the target per output on calibration data, spends no budget, records its calibration, reproducibly', async () => {
    const target: PruningTarget = { kind: 'sparsity', fraction: 0.5 };
    const a = await prune({ calibrationExamples: 64 }, target, 1);
    const b = await prune({ calibrationExamples: 64 }, target, 1);
    expect(await countKept(a.result.masks!)).toBe(a.keep);
    // Per output: fc1 has 8 inputs per output → 4 kept each.
    const fc1 = await a.result.masks!.get('fc1.weight')!.data();
    for (let o = 0; o < 16; o++) expect([0, 1, 2, 3, 4, 5, 6, 7].reduce((n, i) => n + fc1[i * 16 + o], 0)).toBe(4);
    expect(await flat(a.result.masks!)).toEqual(await flat(b.result.masks!));
    expect(a.trainer.usedExamples()).toBe(0);
    expect(a.result.details).toMatchObject({ allocation: 'per-output', calibrationExamples: 64, forwardOnlyExamples: 64 });
  });

  it('reaches a 2:4 target on a conv model, the pattern exact', async () => {
    const target: PruningTarget = { kind: 'n-of-m', n: 2, m: 4 };
    const { model, result } = await prune({ calibrationExamples: 32 }, target, 0, createToyConvModel({ seed: 4 }));
    expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, weightNames(model), target));
    expect((await checkNmPattern(model, weightNames(model), target)).violations).toBe(0);
  });

  it('rejects bad options, naming the method and the field', () => {
    expect(() => wandaMethod.parseOptions({ calibrationExamples: 0 })).toThrow(/^wanda: option calibrationExamples must be >= 1/);
    expect(() => wandaMethod.parseOptions({ unknownOption: 1 })).toThrow(/unknownOption/);
  });
});
