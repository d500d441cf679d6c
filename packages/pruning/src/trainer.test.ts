import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { createResNetCifar } from '@prunebench/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalMasks } from './allocation.js';
import { applyMasks, countKept, maskDensity, onesMasks } from './masks.js';
import { magnitudeScores } from './scores.js';
import { createToyConvModel, createToyModel, describeBudgetedTrainerContract, RandomImageTrainer, SimpleBudgetedTrainer, snapshotValues, toyClassificationData, weightNames } from './testing.js';
import { BudgetExceededError } from './types.js';

let trainer: SimpleBudgetedTrainer;
beforeAll(async () => {
  await tf.setBackend('cpu');
  trainer = new SimpleBudgetedTrainer({ totalExamples: 1000, seed: 3 });
});
afterAll(() => trainer.dispose());

describe('masks and masked training', () => {
  it('pruned weights stay exactly zero after training steps (MLP and conv)', async () => {
    for (const model of [createToyModel({ seed: 4 }), createToyConvModel({ seed: 4 })]) {
      const names = weightNames(model);
      const masks = await globalMasks(magnitudeScores(model, names), 60);
      const before = await snapshotValues(model, names);
      const local = new SimpleBudgetedTrainer({ totalExamples: 200, seed: 5 });
      await local.train(model, { examples: 160, masks });
      const after = await snapshotValues(model, names);
      let moved = 0;
      for (const name of names) {
        const m = masks.get(name)!.dataSync();
        const a = after.get(name)!;
        for (let i = 0; i < m.length; i++) {
          if (m[i] === 0) expect(a[i]).toBe(0);
          else if (a[i] !== before.get(name)![i]) moved++;
        }
      }
      // The kept weights did train.
      expect(moved).toBeGreaterThan(15); // kept weights did train (some sit behind dead ReLUs)
      local.dispose();
      model.dispose();
    }
  });

  it('applyMasks zeroes in place and checks names and shapes', async () => {
    const model = createToyModel({ seed: 7 });
    const masks = new Map([['fc2.weight', tf.zeros([16, 3])]]);
    applyMasks(model, masks);
    expect(Array.from(model.params.get('fc2.weight')!.dataSync()).every((v) => v === 0)).toBe(true);
    expect(await maskDensity(masks)).toBe(0);
    expect(await countKept(onesMasks(model, ['fc1.weight']))).toBe(128);
    expect(() => applyMasks(model, new Map([['nope', tf.ones([1])]]))).toThrow(/unknown parameter "nope"/);
    expect(() => applyMasks(model, new Map([['fc2.weight', tf.ones([3, 16])]]))).toThrow(/shape/);
    model.dispose();
  });
});

describe('SimpleBudgetedTrainer', () => {
  it('charges the examples trained and the gradient batches, and refuses to exceed the budget', async () => {
    const model = createToyModel({ seed: 8 });
    const t = new SimpleBudgetedTrainer({ totalExamples: 100, seed: 1 });
    const summary = await t.train(model, { examples: 30 });
    expect(summary.steps).toBe(2);
    expect(t.usedExamples()).toBe(30);
    const [batch] = t.sampleBatches(1, 16, new SeededRng(2));
    await t.gradients(model, batch);
    expect(t.remainingExamples()).toBe(54);
    await expect(t.train(model, { examples: 55 })).rejects.toBeInstanceOf(BudgetExceededError);
    expect(t.usedExamples()).toBe(46);
    await expect(t.gradients(model, toyClassificationData(new SeededRng(3), 60))).rejects.toThrow(BudgetExceededError);
    t.dispose();
    model.dispose();
  });

  it('learns the toy task (validation accuracy well above chance)', async () => {
    const model = createToyModel({ seed: 9 });
    const t = new SimpleBudgetedTrainer({ totalExamples: 2000, seed: 2 });
    const before = await t.validate(model);
    await t.train(model, { examples: 2000 });
    const after = await t.validate(model);
    expect(after).toBeGreaterThan(0.7);
    expect(after).toBeGreaterThan(before);
    t.dispose();
    model.dispose();
  });
});

describeBudgetedTrainerContract('SimpleBudgetedTrainer', (totalExamples) => {
  const trainer = new SimpleBudgetedTrainer({ totalExamples, seed: 4 });
  return { trainer, model: createToyModel({ seed: 5 }), dispose: () => trainer.dispose() };
});

describeBudgetedTrainerContract('SimpleBudgetedTrainer on a conv model', (totalExamples) => {
  const trainer = new SimpleBudgetedTrainer({ totalExamples, seed: 4 });
  return { trainer, model: createToyConvModel({ seed: 5 }), dispose: () => trainer.dispose() };
});

describeBudgetedTrainerContract('RandomImageTrainer', (totalExamples) => ({
  trainer: new RandomImageTrainer(totalExamples),
  // A ResNet-8 on 8×8×3 images with 3 classes and few channels (the structured methods' test model).
  model: createResNetCifar({
    family: 'resnet-cifar', depth: 8, numClasses: 3, stem: 4,
    stages: [{ blocks: [{ mid: 6, out: 4, stride: 1 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }],
  }, { seed: 6 }),
}));
