import * as tf from '@tensorflow/tfjs';
import { compressionRatioOfMasks, countKept, countPrunableParams, globalMasks, keepCountForTarget, magnitudeScores, type Masks, type MethodResult } from '@prunebench/pruning';
import { createToyConvModel, createToyModel, SimpleBudgetedTrainer, snapshotValues, testMethodContext, weightNames } from '@prunebench/pruning/testing';
import type { Model } from '@prunebench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, { magnitudeMethod } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const target = (ratio: number) => ({ kind: 'compression' as const, ratio });

async function prune(options: Record<string, unknown>, ratio: number, budget = 320, model: Model = createToyModel({ seed: 21 })) {
  const trainer = new SimpleBudgetedTrainer({ totalExamples: budget, seed: 4 });
  const context = testMethodContext(magnitudeMethod, { model, trainer, target: target(ratio), options });
  const result = await magnitudeMethod.run(context);
  return { model, trainer, result, keep: keepCountForTarget(model, context.prunable, target(ratio)) };
}

async function keptPerLayer(masks: Masks): Promise<Record<string, number>> {
  const kept: Record<string, number> = {};
  for (const [name, m] of masks) kept[name] = await countKept(new Map([[name, m]]));
  return kept;
}

function expectMasksHoldInModel(model: Model, result: MethodResult): void {
  for (const [name, mask] of result.masks!) {
    const m = mask.dataSync();
    const w = model.params.get(name)!.dataSync();
    for (let i = 0; i < m.length; i++) if (m[i] === 0) expect(w[i]).toBe(0);
  }
}

describe('magnitude method', () => {
  it('is exported by name and as default, with paper defaults', () => {
    expect(defaultExport).toBe(magnitudeMethod);
    expect(magnitudeMethod.name).toBe('magnitude');
    expect(magnitudeMethod.parseOptions(undefined)).toEqual(magnitudeMethod.defaults);
  });

  it('one-shot global keeps exactly the largest weights, then fine-tunes within the budget', async () => {
    const model = createToyModel({ seed: 21 });
    const expected = await globalMasks(magnitudeScores(model, weightNames(model)), keepCountForTarget(model, weightNames(model), target(4)));
    const { trainer, result, keep } = await prune({}, 4, 320, model);
    expect(await countKept(result.masks!)).toBe(keep);
    for (const [name, m] of result.masks!) expect(Array.from(m.dataSync())).toEqual(Array.from(expected.get(name)!.dataSync()));
    expect(trainer.usedExamples()).toBe(320);
    expect(trainer.trainCalls).toHaveLength(1);
    expect(Math.abs((await compressionRatioOfMasks(model, weightNames(model), result.masks!)) - 4)).toBeLessThan(0.05);
    expectMasksHoldInModel(model, result);
  });

  it('layerwise gives every layer the same sparsity within one weight', async () => {
    const { result, keep } = await prune({ allocation: 'layerwise' }, 3);
    const kept = await keptPerLayer(result.masks!);
    expect(kept['fc1.weight'] + kept['fc2.weight']).toBe(keep);
    expect(Math.abs(kept['fc1.weight'] - (128 * keep) / 176)).toBeLessThan(1);
    expect(Math.abs(kept['fc2.weight'] - (48 * keep) / 176)).toBeLessThan(1);
  });

  it('layerwise with per-layer ratios scales them to the exact target', async () => {
    const { result, keep } = await prune({ allocation: 'layerwise', layerRatios: { 'fc1.weight': 0.9, 'fc2.weight': 0.3 } }, 2);
    const kept = await keptPerLayer(result.masks!);
    expect(kept['fc1.weight'] + kept['fc2.weight']).toBe(keep);
    // Sparsities in the ratio 3 : 1.
    const s1 = 1 - kept['fc1.weight'] / 128;
    const s2 = 1 - kept['fc2.weight'] / 48;
    expect(s1 / s2).toBeGreaterThan(2.7);
    expect(s1 / s2).toBeLessThan(3.3);
  });

  it('min-threshold keeps the floor in every layer and the exact total', async () => {
    const model = createToyModel({ seed: 21 });
    const names = weightNames(model);
    // Plain global pruning at this target leaves fc2 (smaller init scale) with fewer than 5 weights.
    const plain = await globalMasks(magnitudeScores(model, names), keepCountForTarget(model, names, target(6)));
    expect((await keptPerLayer(plain))['fc2.weight']).toBeLessThan(5);
    for (const schedule of ['one-shot', 'iterative']) {
      const { result, keep } = await prune({ allocation: 'min-threshold', minKeepPerLayer: 5, schedule }, 6);
      const kept = await keptPerLayer(result.masks!);
      expect(kept['fc1.weight']).toBeGreaterThanOrEqual(5);
      expect(kept['fc2.weight']).toBeGreaterThanOrEqual(5);
      expect(kept['fc1.weight'] + kept['fc2.weight']).toBe(keep);
    }
  });

  it('iterative prunes the same fraction per round, ends exactly on target, and spends the budget in rounds', async () => {
    const { trainer, result, keep, model } = await prune({ schedule: 'iterative', rounds: 4 }, 5, 400);
    const kept = trainer.trainCalls.map((c) => c.keptWeights!);
    expect(kept).toHaveLength(4);
    expect(kept[3]).toBe(keep);
    for (let i = 1; i < 4; i++) expect(kept[i]).toBeLessThan(kept[i - 1]);
    expect(kept[0]).toBe(Math.round(176 * Math.pow(keep / 176, 1 / 4)));
    expect(trainer.trainCalls.map((c) => c.examples)).toEqual([100, 100, 100, 100]);
    expect(await countKept(result.masks!)).toBe(keep);
    expectMasksHoldInModel(model, result);
  });

  it('cubic follows Zhu & Gupta and ends exactly on target', async () => {
    const { trainer, keep } = await prune({ schedule: 'cubic', rounds: 4, initialSparsity: 0.1 }, 4, 250);
    const kept = trainer.trainCalls.map((c) => c.keptWeights!);
    const sf = 1 - keep / 176;
    const expected = [0, 1, 2, 3].map((t) => Math.round(176 * (1 - (sf + (0.1 - sf) * Math.pow(1 - t / 4, 3)))));
    expect(kept).toEqual([...expected, keep]);
    expect(trainer.usedExamples()).toBe(250);
  });

  it('leaves the first conv and the classifier dense when asked', async () => {
    const model = createToyConvModel({ seed: 3 });
    const before = await snapshotValues(model, ['conv1.weight']);
    const { result, trainer } = await prune({ pruneFirstConv: false, pruneClassifier: false, finetune: false }, 1.5, 100, model);
    expect([...result.masks!.keys()]).toEqual(['conv2.weight']);
    expect(await snapshotValues(model, ['conv1.weight'])).toEqual(before);
    expect(trainer.usedExamples()).toBe(0);
    expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, ['conv2.weight'], target(1.5)));
    expect(countPrunableParams(model, ['conv2.weight']).prunable).toBe(216);
  });

  it('rejects bad options and targets, naming the field', async () => {
    expect(() => magnitudeMethod.parseOptions({ allocation: 'best' })).toThrow(/magnitude: option allocation/);
    expect(() => magnitudeMethod.parseOptions({ schedule: 'one-shot', rounds: 3 })).toThrow(/option rounds/);
    expect(() => magnitudeMethod.parseOptions({ rounds: 0, schedule: 'iterative' })).toThrow(/option rounds/);
    expect(() => magnitudeMethod.parseOptions({ layerRatios: { a: 1 } })).toThrow(/option layerRatios needs allocation "layerwise"/);
    expect(() => magnitudeMethod.parseOptions({ minKeepPerLayer: { fraction: 2 } })).toThrow(/minKeepPerLayer.fraction/);
    expect(() => magnitudeMethod.parseOptions({ sparsity: 0.9 })).toThrow(/unknown option "sparsity"/);
    await expect(prune({ allocation: 'layerwise', layerRatios: { 'fc9.weight': 1 } }, 2)).rejects.toThrow(/layerRatios names "fc9.weight"/);
    const model = createToyModel({ seed: 1 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 10 });
    const flops = testMethodContext(magnitudeMethod, { model, trainer, target: { kind: 'flops-reduction', fraction: 0.5 } });
    await expect(magnitudeMethod.run(flops)).rejects.toThrow(/flops-reduction/);
    await expect(prune({}, 50)).rejects.toThrow(/target.ratio 50 is unreachable/);
  });
});
