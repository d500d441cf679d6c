import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { createMaskedOptimizer, lossAndGradients, trainStep } from '@prunebench/pruning';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointMismatchError, RunInterruptedError } from './errors.js';
import { learningRateAt } from './schedule.js';
import type { FineTuneRecipe } from './tasks/types.js';
import type { TensorFileContents } from './tensor-file.js';
import { FAKE_RECIPE, fakeTask } from './testing/fake-task.js';
import { HarnessTrainer, optimizerSettings, type TrainerCheckpoints } from './trainer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ADAMW: FineTuneRecipe = {
  optimizer: 'adamw', momentum: 0, learningRate: 0.01, schedule: 'linear', warmupFraction: 0.25, weightDecay: 0.1,
  batchSize: 8, augment: false, betas: [0.9, 0.99], eps: 1e-6,
};

async function setup() {
  const task = await fakeTask('fake-blobs', { batchesDrawn: 0 }).load({ trainPerClass: 0, valSize: 12, testSize: 0, evalBatchSize: 16 }, {
    cacheDir: '/nonexistent', log: () => {},
  });
  return { task, model: await task.startingModel() };
}

function memoryCheckpoints(): TrainerCheckpoints & { partialWrites: number } {
  const done = new Map<number, TensorFileContents>();
  const partial = new Map<number, TensorFileContents>();
  const store = {
    partialWrites: 0,
    readFinished: (call: number) => done.get(call) ?? null,
    readPartial: (call: number) => partial.get(call) ?? null,
    writeFinished: (call: number, contents: TensorFileContents) => {
      done.set(call, structuredClone(contents));
      partial.delete(call);
    },
    writePartial: (call: number, contents: TensorFileContents) => {
      store.partialWrites++;
      partial.set(call, structuredClone(contents));
    },
  };
  return store;
}

describe('AdamW in the harness trainer', () => {
  it('takes PyTorch AdamW steps: decoupled decay on weights only, bias-corrected moments, masks kept at zero', async () => {
    const { task, model } = await setup();
    const [batch] = task.sampleBatches(1, 8, new SeededRng(1));
    const { grads } = await lossAndGradients(model, batch);
    const before = new Map([...model.params].map(([n, v]) => [n, Array.from(v.dataSync())]));
    const g = new Map([...grads].map(([n, t]) => [n, Array.from(t.dataSync())]));
    tf.dispose([...grads.values()]);
    const mask = tf.tensor(Array.from({ length: model.params.get('fc1.weight')!.size }, (_, i) => (i % 3 === 0 ? 0 : 1)), model.params.get('fc1.weight')!.shape);
    const masks = new Map([['fc1.weight', mask]]);
    const optimizer = createMaskedOptimizer(optimizerSettings(ADAMW));
    expect(optimizer.settings).toEqual({ kind: 'adamw', beta1: 0.9, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 });
    const lr = 0.01;
    await trainStep(model, batch, optimizer, { learningRate: lr, masks });
    const maskValues = mask.dataSync();
    for (const [name, w0] of before) {
      const decayed = name.endsWith('.weight'); // linear weights decay, biases do not
      const after = model.params.get(name)!.dataSync();
      w0.forEach((w, i) => {
        const masked = name === 'fc1.weight' && maskValues[i] === 0;
        const grad = masked ? 0 : g.get(name)![i];
        // step 1: m̂ = g, v̂ = g², so the update is g / (|g| + eps)
        const expected = masked ? 0 : w * (1 - (decayed ? lr * ADAMW.weightDecay : 0)) - (lr * grad) / (Math.abs(grad) + 1e-6);
        expect(after[i], `${name}[${i}]`).toBeCloseTo(expected, 6);
      });
    }
    optimizer.dispose();
    tf.dispose([mask, batch.inputs as tf.Tensor, batch.labels]);
    model.dispose();
  });

  it('warms up linearly, then decays linearly to zero', () => {
    expect(learningRateAt(ADAMW, 1, 0, 100)).toBeCloseTo(0.01 / 25);
    expect(learningRateAt(ADAMW, 1, 24, 100)).toBeCloseTo(0.01);
    expect(learningRateAt(ADAMW, 1, 25, 100)).toBeCloseTo(0.01);
    expect(learningRateAt(ADAMW, 1, 62.5, 100)).toBeCloseTo(0.005);
    expect(learningRateAt(ADAMW, 1, 100, 100)).toBe(0);
  });

  it('checkpoints the Adam moments: an interrupted call resumes to the same weights as an uninterrupted one', async () => {
    const straight = await setup();
    const reference = new HarnessTrainer({ task: straight.task, recipe: ADAMW, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 16 });
    await reference.train(straight.model, { examples: 64 });
    const expected = new Map([...straight.model.params].map(([n, v]) => [n, Array.from(v.dataSync())]));

    const resumed = await setup();
    const checkpoints = memoryCheckpoints();
    const abort = new AbortController();
    const first = new HarnessTrainer({
      task: resumed.task, recipe: ADAMW, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 16, checkpoints, signal: abort.signal,
      onProgress: (used) => { if (used >= 40) abort.abort(); },
    });
    await expect(first.train(resumed.model, { examples: 64 })).rejects.toBeInstanceOf(RunInterruptedError);
    expect(checkpoints.partialWrites).toBeGreaterThan(0);
    // The checkpoint names of the optimizer state are the ones earlier versions wrote.
    const keys = [...checkpoints.readPartial(0)!.arrays.keys()];
    expect(keys).toEqual(expect.arrayContaining(['adam-m/fc1.weight', 'adam-v/fc1.weight', 'adam-m/fc2.bias', 'adam-v/fc2.bias']));
    expect(keys.filter((k) => k.startsWith('momentum/'))).toEqual([]);
    const fresh = await setup(); // a new process: fresh weights, state only from the checkpoint
    const second = new HarnessTrainer({ task: fresh.task, recipe: ADAMW, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 16, checkpoints });
    await second.train(fresh.model, { examples: 64 });
    for (const [name, values] of expected) expect(Array.from(fresh.model.params.get(name)!.dataSync()), name).toEqual(values);
    for (const m of [straight.model, resumed.model, fresh.model]) m.dispose();
  });

  it('refuses to resume an SGD checkpoint with AdamW, with a CheckpointMismatchError', async () => {
    const sgd = await setup();
    const checkpoints = memoryCheckpoints();
    const abort = new AbortController();
    const first = new HarnessTrainer({
      task: sgd.task, recipe: FAKE_RECIPE, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 16, checkpoints, signal: abort.signal,
      onProgress: (used) => { if (used >= 24) abort.abort(); },
    });
    await expect(first.train(sgd.model, { examples: 64 })).rejects.toBeInstanceOf(RunInterruptedError);
    expect([...checkpoints.readPartial(0)!.arrays.keys()]).toContain('momentum/fc1.weight');
    const adam = await setup();
    const second = new HarnessTrainer({ task: adam.task, recipe: ADAMW, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 16, checkpoints });
    const error = await second.train(adam.model, { examples: 64 }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toMatch(/cannot resume: optimizer state has a buffer "momentum\/[^"]+" this optimizer does not keep/);
    for (const m of [sgd.model, adam.model]) m.dispose();
  });
});
