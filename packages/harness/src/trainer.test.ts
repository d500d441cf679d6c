import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { BudgetExceededError, disposeMasks, globalMasks, magnitudeScores, disposeScores } from '@prunebench/pruning';
import { describeBudgetedTrainerContract } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { NonFiniteLossError } from './errors.js';
import { learningRateAt } from './schedule.js';
import { FAKE_RECIPE, fakeTask } from './testing/fake-task.js';
import { memoryCheckpoints } from './testing/memory-checkpoints.js';
import { HarnessTrainer, type TrainerCheckpoints } from './trainer.js';
import { RunInterruptedError } from './errors.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function setup(budget: number, faults?: { nanAfterBatches?: number }) {
  const task = await fakeTask('fake-blobs', { batchesDrawn: 0, ...faults }).load({ trainPerClass: 0, valSize: 12, testSize: 0, evalBatchSize: 16 }, {
    cacheDir: '/nonexistent', log: () => {},
  });
  const model = await task.startingModel();
  const trainer = new HarnessTrainer({ task, recipe: FAKE_RECIPE, totalExamples: budget, rng: new SeededRng(3), chunkExamples: 16 });
  return { task, model, trainer };
}

describe('HarnessTrainer', () => {
  it('charges the examples trained and the gradient batches, and refuses to go over the budget', async () => {
    const { model, trainer } = await setup(40);
    const summary = await trainer.train(model, { examples: 12 });
    expect(summary.examples).toBe(12);
    expect(summary.steps).toBe(2); // a batch of 8 and a truncated batch of 4
    expect(trainer.usedExamples()).toBe(12);
    await expect(trainer.train(model, { examples: 29 })).rejects.toBeInstanceOf(BudgetExceededError);
    expect(trainer.usedExamples()).toBe(12); // a refused request charges nothing
    const { grads } = await trainer.gradients(model, trainer.sampleBatches(1, 8, new SeededRng(1))[0]);
    tf.dispose([...grads.values()]);
    expect(trainer.usedExamples()).toBe(20);
    await trainer.train(model, { examples: 20 });
    expect(trainer.remainingExamples()).toBe(0);
    await expect(trainer.gradients(model, trainer.sampleBatches(1, 1, new SeededRng(1))[0])).rejects.toThrow(BudgetExceededError);
    model.dispose();
  });

  it('keeps pruned weights exactly zero through training and logs per chunk', async () => {
    const { model, trainer } = await setup(64);
    const names = ['fc1.weight', 'fc2.weight'];
    const scores = magnitudeScores(model, names);
    const masks = await globalMasks(scores, 20);
    disposeScores(scores);
    const before = model.params.get('fc1.weight')!.dataSync().slice();
    await trainer.train(model, { examples: 48, masks, label: 'ft' });
    for (const name of names) {
      const w = model.params.get(name)!.dataSync();
      const m = masks.get(name)!.dataSync();
      for (let i = 0; i < w.length; i++) if (m[i] === 0) expect(w[i]).toBe(0);
    }
    const after = model.params.get('fc1.weight')!.dataSync();
    const m1 = masks.get('fc1.weight')!.dataSync();
    expect(after.some((v, i) => m1[i] !== 0 && v !== before[i])).toBe(true); // kept weights did train
    expect(trainer.log.map((r) => r.examples)).toEqual([16, 16, 16]);
    expect(trainer.log.every((r) => r.label === 'ft' && Number.isFinite(r.loss))).toBe(true);
    disposeMasks(masks);
    model.dispose();
  });

  it('an interrupt stops after the current step with a checkpoint of it; the resume ends where an uninterrupted call ends', async () => {
    const train = async (checkpoints: TrainerCheckpoints, abortAfterSteps?: number) => {
      const task = await fakeTask('fake-blobs', { batchesDrawn: 0 }).load({ trainPerClass: 0, valSize: 12, testSize: 0, evalBatchSize: 16 }, {
        cacheDir: '/nonexistent', log: () => {},
      });
      const model = await task.startingModel();
      const controller = new AbortController();
      let steps = 0;
      const trainer = new HarnessTrainer({
        task, recipe: FAKE_RECIPE, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 32, checkpoints, signal: controller.signal,
        onProgress: () => { if (++steps === abortAfterSteps) controller.abort(); },
      });
      try {
        await trainer.train(model, { examples: 64 });
        return { weights: Float32Array.from(await model.params.get('fc1.weight')!.data()), log: trainer.log };
      } finally {
        model.dispose();
      }
    };
    const reference = await train(memoryCheckpoints());
    const store = memoryCheckpoints();
    // chunks of 32 examples = 4 steps of 8: step 3 is inside the first chunk, so only the interrupt writes it
    await expect(train(store, 3)).rejects.toBeInstanceOf(RunInterruptedError);
    expect(store.partials).toBe(1);
    expect((store.readPartial(0)!.meta as { step: number }).step).toBe(3);
    // The SGD momentum is checkpointed under the names earlier versions wrote.
    expect([...store.readPartial(0)!.arrays.keys()]).toEqual(expect.arrayContaining(['momentum/fc1.weight', 'momentum/fc2.bias']));
    const resumed = await train(store);
    expect(resumed.weights).toEqual(reference.weights);
    expect(resumed.log.map((r) => [r.step, r.examples, r.loss])).toEqual(reference.log.map((r) => [r.step, r.examples, r.loss]));
  });

  it('raises a clear error on a non-finite loss', async () => {
    const { model, trainer } = await setup(64, { nanAfterBatches: 1 });
    await expect(trainer.train(model, { examples: 32, label: 'ft' })).rejects.toThrow(NonFiniteLossError);
    await expect(setup(64, { nanAfterBatches: 0 }).then(({ model: m, trainer: t }) => t.train(m, { examples: 8, label: 'ft' })))
      .rejects.toThrow(/training loss became (NaN|Infinity) at step 1 of train call 0 \(ft\)/);
    model.dispose();
  });

  it('decays the learning rate with a cosine over each call', () => {
    expect(learningRateAt(FAKE_RECIPE, 1, 0, 100)).toBeCloseTo(0.05);
    expect(learningRateAt(FAKE_RECIPE, 2, 50, 100)).toBeCloseTo(0.05);
    expect(learningRateAt(FAKE_RECIPE, 1, 100, 100)).toBeCloseTo(0);
  });
});

describeBudgetedTrainerContract('HarnessTrainer', async (totalExamples) => {
  const task = await fakeTask('fake-blobs', { batchesDrawn: 0 }).load({ trainPerClass: 0, valSize: 12, testSize: 0, evalBatchSize: 16 }, {
    cacheDir: '/nonexistent', log: () => {},
  });
  const trainer = new HarnessTrainer({ task, recipe: FAKE_RECIPE, totalExamples, rng: new SeededRng(3), chunkExamples: 16 });
  return { trainer, model: await task.startingModel() };
});

describeBudgetedTrainerContract('HarnessTrainer with AdamW', async (totalExamples) => {
  const task = await fakeTask('fake-blobs', { batchesDrawn: 0 }).load({ trainPerClass: 0, valSize: 12, testSize: 0, evalBatchSize: 16 }, {
    cacheDir: '/nonexistent', log: () => {},
  });
  const recipe = { ...FAKE_RECIPE, optimizer: 'adamw' as const, learningRate: 0.01, weightDecay: 0.01 };
  const trainer = new HarnessTrainer({ task, recipe, totalExamples, rng: new SeededRng(3), chunkExamples: 16 });
  return { trainer, model: await task.startingModel() };
});
