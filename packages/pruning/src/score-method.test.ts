import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { countKept } from './masks.js';
import { numberOption } from './options.js';
import { SCORE_METHOD_OPTIONS, allocateMasks, defineScoreMethod, scheduleSparsities } from './score-method.js';
import { magnitudeScores } from './scores.js';
import { keepCountForTarget } from './target.js';
import { createToyModel, SimpleBudgetedTrainer, testMethodContext, weightNames } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A score method whose scores are |w| and whose every score call charges `cost` examples through `gradients`. */
function toyMethod() {
  const scoreCalls: number[] = [];
  const method = defineScoreMethod({
    name: 'toy',
    description: 'toy',
    options: { cost: numberOption({ default: 0, min: 0, integer: true, doc: 'examples charged per score call' }) },
    scoring: { examples: (o) => o.cost, from: 'option cost' },
    score: async ({ model, trainer, options, rng }, prunable, step) => {
      scoreCalls.push(step.index);
      if (options.cost > 0) {
        const [batch] = trainer.sampleBatches(1, options.cost, rng.fork(`b${step.index}`));
        const { grads } = await trainer.gradients(model, batch);
        tf.dispose([...grads.values(), batch.inputs as tf.Tensor, batch.labels]);
      }
      return magnitudeScores(model, prunable);
    },
  });
  return { method, scoreCalls };
}

describe('defineScoreMethod', () => {
  it('declares the shared options beside the method own, with their defaults', () => {
    const { method } = toyMethod();
    expect(Object.keys(method.options)).toEqual(['cost', ...Object.keys(SCORE_METHOD_OPTIONS)]);
    expect(method.defaults).toEqual({
      cost: 0,
      allocation: 'global',
      minKeepPerLayer: { fraction: 0.01 },
      schedule: 'one-shot',
      initialSparsity: 0,
      finetune: true,
      pruneFirstConv: true,
      pruneClassifier: true,
    });
    expect(() => method.parseOptions({ layerRatios: { 'fc1.weight': 1 } })).toThrow(/^toy: option layerRatios needs allocation "layerwise" or "per-output"$/);
    expect(() => method.parseOptions({ rounds: 2 })).toThrow(/^toy: option rounds must be 1 for schedule "one-shot", got 2$/);
    expect(() => method.parseOptions({ initialSparsity: 0.1 })).toThrow(/^toy: option initialSparsity needs schedule "cubic"$/);
  });

  it('scores every step of an iterative schedule, lands on the target, and splits what scoring leaves equally', async () => {
    const { method, scoreCalls } = toyMethod();
    const model = createToyModel({ seed: 3 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 400, seed: 1 });
    const target = { kind: 'sparsity' as const, fraction: 0.8 };
    const context = testMethodContext(method, { model, trainer, target, options: { schedule: 'iterative', rounds: 3, cost: 16 } });
    const result = await method.run(context);
    expect(scoreCalls).toEqual([0, 1, 2]);
    expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, weightNames(model), target));
    // 3 × 16 scoring examples, then (400 − 48) = 352 split 118 / 117 / 117 over the three steps.
    expect(trainer.trainCalls.map((c) => c.examples)).toEqual([118, 117, 117]);
    expect(trainer.trainCalls.map((c) => c.label)).toEqual(['toy-step-1', 'toy-step-2', 'toy-step-3']);
    expect(trainer.usedExamples()).toBe(400);
    expect(result.details).toMatchObject({ allocation: 'global', schedule: 'iterative', scoringExamples: 48 });
    expect(context.messages[0]).toMatch(/^toy step 1\/3: keep \d+ of 176 prunable weights$/);
  });

  it('refuses scoring beyond the budget before any work, naming the options', async () => {
    const { method, scoreCalls } = toyMethod();
    const model = createToyModel({ seed: 3 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 40, seed: 1 });
    const context = testMethodContext(method, { model, trainer, target: { kind: 'sparsity', fraction: 0.5 }, options: { schedule: 'iterative', rounds: 3, cost: 16 } });
    await expect(method.run(context)).rejects.toThrow(/^toy: option cost = 16 examples per step × 3 steps exceed the remaining budget \(40\)$/);
    expect(scoreCalls).toEqual([]);
    expect(trainer.usedExamples()).toBe(0);
  });

  it('keeps the first conv / classifier dense when asked, and checks layerRatios names', async () => {
    const { method } = toyMethod();
    const model = createToyModel({ seed: 3 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 0 });
    const target = { kind: 'sparsity' as const, fraction: 0.5 };
    const result = await method.run(testMethodContext(method, { model, trainer, target, options: { pruneClassifier: false, finetune: false } }));
    expect([...result.masks!.keys()]).toEqual(['fc1.weight']);
    const bad = testMethodContext(method, { model, trainer, target, options: { allocation: 'layerwise', layerRatios: { nope: 1 } } });
    await expect(method.run(bad)).rejects.toThrow(/^toy: option layerRatios names "nope", which is not prunable$/);
  });
});

describe('allocateMasks', () => {
  it('layerwise at a sparsity target keeps round(s · n) pruned per layer; min-threshold keeps every floor', async () => {
    const model = createToyModel({ seed: 5 });
    const prunable = weightNames(model);
    const target = { kind: 'sparsity' as const, fraction: 0.7 };
    const keep = keepCountForTarget(model, prunable, target);
    const scores = magnitudeScores(model, prunable);
    const layerwise = await allocateMasks(scores, keep, { allocation: 'layerwise', minKeepPerLayer: 0 }, { model, prunable, target });
    for (const name of prunable) {
      const size = model.params.get(name)!.size;
      expect(await countKept(new Map([[name, layerwise.get(name)!]]))).toBe(size - Math.round(0.7 * size));
    }
    const floor = await allocateMasks(scores, keep, { allocation: 'min-threshold', minKeepPerLayer: 20 }, { model, prunable, target });
    for (const name of prunable) expect(await countKept(new Map([[name, floor.get(name)!]]))).toBeGreaterThanOrEqual(20);
    expect(await countKept(floor)).toBe(keep);
    tf.dispose([...scores.values(), ...layerwise.values(), ...floor.values()]);
  });
});

describe('scheduleSparsities', () => {
  it('one-shot, iterative (geometric in density) and cubic all end exactly on the target', () => {
    const base = { initialSparsity: 0, finetune: true } as const;
    expect(scheduleSparsities('m', { ...base, schedule: 'one-shot' }, 0.9)).toEqual([0.9]);
    const iterative = scheduleSparsities('m', { ...base, schedule: 'iterative', rounds: 2 }, 0.75);
    expect(iterative[0]).toBeCloseTo(0.5, 12);
    expect(iterative[1]).toBe(0.75);
    expect(scheduleSparsities('m', { ...base, schedule: 'cubic' }, 0.8)).toHaveLength(11);
    expect(() => scheduleSparsities('m', { ...base, schedule: 'cubic', initialSparsity: 0.9 }, 0.8)).toThrow(/^m: option initialSparsity 0.9 is above the target's sparsity 0.8$/);
  });
});
