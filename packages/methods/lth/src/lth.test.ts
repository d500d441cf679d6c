import * as tf from '@tensorflow/tfjs';
import { countKept, keepCountForTarget, type TrainOptions } from '@prunebench/pruning';
import { createToyModel, SimpleBudgetedTrainer, snapshotValues, testMethodContext, weightNames } from '@prunebench/pruning/testing';
import type { Model } from '@prunebench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, { lthMethod } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface Observed {
  label: string;
  values: Map<string, Float32Array>;
  masks: Map<string, Float32Array> | null;
}

/** Runs LTH with a trainer that records the weights (and masks) at the start of every train call. */
async function runLth(options: Record<string, unknown>, ratio: number, budget: number) {
  const model = createToyModel({ seed: 41 });
  const start = await snapshotValues(model);
  // onTrainStart is synchronous and reading weights back is not: it keeps clones, read after the run.
  const seen: Array<Omit<Observed, 'values'> & { clones: Map<string, tf.Tensor> }> = [];
  const onTrainStart = (m: Model, o: TrainOptions) =>
    seen.push({
      label: o.label ?? '',
      clones: new Map([...m.params].map(([n, v]) => [n, v.clone()])),
      masks: o.masks ? new Map([...o.masks].map(([n, t]) => [n, Float32Array.from(t.dataSync())])) : null,
    });
  const trainer = new SimpleBudgetedTrainer({ totalExamples: budget, seed: 2, onTrainStart });
  const target = { kind: 'compression' as const, ratio };
  const result = await lthMethod.run(testMethodContext(lthMethod, { model, trainer, target, options }));
  const observed: Observed[] = [];
  for (const { label, clones, masks } of seen) {
    const values = new Map<string, Float32Array>();
    for (const [n, t] of clones) values.set(n, Float32Array.from((await t.data()) as Float32Array));
    tf.dispose([...clones.values()]);
    observed.push({ label, values, masks });
  }
  return { model, start, observed, trainer, result, keep: keepCountForTarget(model, weightNames(model), target) };
}

/** Surviving weights equal the rewind point exactly; pruned ones are 0; non-prunable params are rewound too. */
function expectRewoundTo(round: Observed, rewindPoint: Map<string, Float32Array>): void {
  for (const [name, values] of round.values) {
    const mask = round.masks!.get(name);
    const expected = rewindPoint.get(name)!;
    values.forEach((v, i) => expect(v).toBe(mask && mask[i] === 0 ? 0 : expected[i]));
  }
}

describe('lth method', () => {
  it('rewinds the surviving weights to the original values (k = 0) every round', async () => {
    expect(defaultExport).toBe(lthMethod);
    const { start, observed, trainer, result, keep } = await runLth({}, 2.5, 600);
    // 176 weights → keep 59: 20 % per round takes 5 rounds (density .8, .64, .51, .41, then the target).
    expect(observed.map((o) => o.label)).toEqual(['lth-train', 'lth-round-1', 'lth-round-2', 'lth-round-3', 'lth-round-4', 'lth-round-5']);
    const kept = trainer.trainCalls.slice(1).map((c) => c.keptWeights);
    expect(kept).toEqual([141, 113, 90, 72, keep]);
    for (const round of observed.slice(1)) expectRewoundTo(round, start);
    expect(await countKept(result.masks!)).toBe(keep);
    expect(trainer.usedExamples()).toBeLessThanOrEqual(600);
    expect(trainer.usedExamples()).toBe(600);
  });

  it('late rewinding rewinds to the weights after rewindExamples of training', async () => {
    const { start, observed, trainer, keep, result } = await runLth({ rewindExamples: 48 }, 1.5, 400);
    expect(observed[0].label).toBe('lth-rewind-point');
    expect(trainer.trainCalls[0].examples).toBe(48);
    // The rewind point is the state at the start of the next train call (right after the k examples).
    const rewindPoint = observed[1].values;
    expect(rewindPoint.get('fc1.weight')).not.toEqual(start.get('fc1.weight'));
    const rounds = observed.filter((o) => o.label.startsWith('lth-round'));
    expect(rounds.length).toBeGreaterThan(1);
    for (const round of rounds) expectRewoundTo(round, rewindPoint);
    expect(await countKept(result.masks!)).toBe(keep);
    expect(trainer.usedExamples()).toBe(400);
  });

  it('without trainFirst prunes the starting weights; pruned weights stay zero after training', async () => {
    const { model, start, observed, result, keep } = await runLth({ trainFirst: false, pruneFraction: 0.5 }, 3, 200);
    expect(observed[0].label).toBe('lth-round-1');
    expectRewoundTo(observed[0], start);
    for (const [name, m] of result.masks!) {
      const w = model.params.get(name)!.dataSync();
      m.dataSync().forEach((v, i) => v === 0 && expect(w[i]).toBe(0));
    }
    expect(await countKept(result.masks!)).toBe(keep);
  });

  it('skip rule: rounds whose pruning costs less validation than the threshold are neither rewound nor retrained; the last gets their budget', async () => {
    // Threshold 1: every round but the last is skipped; the budget after lth-train all goes to the last round.
    const { observed, trainer, start, result, keep } = await runLth({ skipFinetuneBelow: 1 }, 2.5, 600);
    expect(observed.map((o) => o.label)).toEqual(['lth-train', 'lth-round-5']);
    expect(trainer.trainCalls.map((c) => c.examples)).toEqual([100, 500]);
    expect(trainer.usedExamples()).toBe(600);
    expectRewoundTo(observed[1], start);
    expect(await countKept(result.masks!)).toBe(keep);
    expect((result.details as { skipRule: { skippedSteps: number[] } }).skipRule.skippedSteps).toEqual([1, 2, 3, 4]);
  });

  it('rejects bad options, FLOPs targets and a rewind point beyond the budget', async () => {
    expect(() => lthMethod.parseOptions({ pruneFraction: 1 })).toThrow(/lth: option pruneFraction/);
    expect(() => lthMethod.parseOptions({ rewindExamples: -1 })).toThrow(/option rewindExamples/);
    expect(() => lthMethod.parseOptions({ trainFirst: 'no' })).toThrow(/option trainFirst/);
    await expect(runLth({ rewindExamples: 500 }, 2, 100)).rejects.toThrow(/rewindExamples \(500\) exceeds the remaining budget \(100\)/);
    const model = createToyModel({ seed: 1 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 0 });
    await expect(lthMethod.run(testMethodContext(lthMethod, { model, trainer, target: { kind: 'flops-reduction', fraction: 0.5 } }))).rejects.toThrow(/flops-reduction/);
  });
});
