/** The HarnessTrainer's mask-update hook and distillation: both reproducible on resume; distillation in suites and run ids. */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { dropAndGrow, randomScores, type Masks, type TrainOptions } from '@prunebench/pruning';
import { beforeAll, describe, expect, it } from 'vitest';
import { RunInterruptedError, SuiteValidationError } from './errors.js';
import { createMethodRegistry } from './methods.js';
import { planSuite } from './plan.js';
import { validateSuite } from './suite.js';
import { fakeIterativeMagnitude } from './testing/fake-methods.js';
import { FAKE_RECIPE, fakeTask } from './testing/fake-task.js';
import type { TensorFileContents } from './tensor-file.js';
import { HarnessTrainer, type TrainerCheckpoints } from './trainer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const memory = (): TrainerCheckpoints => {
  const partial = new Map<number, TensorFileContents>();
  const finished = new Map<number, TensorFileContents>();
  return {
    readFinished: (call) => finished.get(call) ?? null,
    readPartial: (call) => partial.get(call) ?? null,
    writeFinished(call, contents) { finished.set(call, contents); partial.delete(call); },
    writePartial(call, contents) { partial.set(call, contents); },
  };
};

const WEIGHTS = ['fc1.weight', 'fc2.weight'];

/** Every third weight pruned, then a drop-and-grow with seeded random regrowth at every update (deterministic in k). */
async function trainOnce(checkpoints: TrainerCheckpoints, opts: { abortAfterSteps?: number; distil?: boolean; hook?: boolean }) {
  const task = await fakeTask('fake-blobs', { batchesDrawn: 0 }).load({ trainPerClass: 0, valSize: 12, testSize: 0, evalBatchSize: 16 }, {
    cacheDir: '/nonexistent', log: () => {},
  });
  const model = await task.startingModel();
  const teacher = opts.distil ? await task.startingModel() : null;
  const controller = new AbortController();
  let steps = 0;
  const trainer = new HarnessTrainer({
    task, recipe: FAKE_RECIPE, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 16, checkpoints, signal: controller.signal,
    onProgress: () => { if (++steps === opts.abortAfterSteps) controller.abort(); },
    ...(teacher ? { distillation: { alpha: 0.5, temperature: 3, teacher } } : {}),
  });
  const masks: Masks = new Map(WEIGHTS.map((name) => {
    const p = model.params.get(name)!;
    return [name, tf.tensor(Float32Array.from({ length: p.size }, (_, i) => (i % 3 === 0 ? 0 : 1)), p.shape)];
  }));
  const options: TrainOptions = { examples: 64, masks };
  if (opts.hook) {
    options.maskUpdate = {
      every: 16,
      async update(event) {
        const scores = randomScores(event.model, WEIGHTS, new SeededRng(100 + event.index));
        try {
          return (await dropAndGrow(event.model, event.masks, scores, 0.3)).masks;
        } finally {
          tf.dispose([...scores.values()]);
        }
      },
    };
  }
  try {
    const summary = await trainer.train(model, options);
    const finalMasks: Record<string, number[]> = {};
    for (const [name, mask] of summary.masks ?? new Map()) finalMasks[name] = Array.from(await mask.data());
    tf.dispose([...(summary.masks?.values() ?? [])]);
    return {
      weights: Float32Array.from(await model.params.get('fc1.weight')!.data()),
      masks: finalMasks,
      updates: summary.maskUpdates,
      teacherForwards: trainer.teacherForwardExamples(),
      losses: trainer.log.map((r) => r.loss),
    };
  } finally {
    tf.dispose([...masks.values()]);
    model.dispose();
    teacher?.dispose();
  }
}

describe('HarnessTrainer mask updates and distillation', () => {
  it('a call with a mask-update hook resumes from a mid-call checkpoint to the same masks and weights', async () => {
    const reference = await trainOnce(memory(), { hook: true });
    expect(reference.updates!.map((u) => u.index)).toEqual([1, 2, 3]);
    for (const u of reference.updates!) expect(u.grown).toBe(u.dropped);
    const store = memory();
    // 8 examples a step: the chunk checkpoint after step 2 holds the masks of update 1; stop in step 5.
    await expect(trainOnce(store, { hook: true, abortAfterSteps: 5 })).rejects.toBeInstanceOf(RunInterruptedError);
    expect([...store.readPartial(0)!.arrays.keys()]).toEqual(expect.arrayContaining(['mask/fc1.weight', 'mask/fc2.weight']));
    const resumed = await trainOnce(store, { hook: true });
    expect(resumed.weights).toEqual(reference.weights);
    expect(resumed.masks).toEqual(reference.masks);
    expect(resumed.updates).toEqual(reference.updates);
    // A finished call replays from its checkpoint with its final masks.
    const replayed = await trainOnce(store, { hook: true });
    expect(replayed.masks).toEqual(reference.masks);
    expect(replayed.weights).toEqual(reference.weights);
  });

  it('distillation counts one teacher forward per training example (not charged), changes the loss, and resumes its count', async () => {
    const plain = await trainOnce(memory(), {});
    const reference = await trainOnce(memory(), { distil: true });
    expect(plain.teacherForwards).toBe(0);
    expect(reference.teacherForwards).toBe(64);
    expect(reference.losses).not.toEqual(plain.losses);
    const store = memory();
    await expect(trainOnce(store, { distil: true, abortAfterSteps: 5 })).rejects.toBeInstanceOf(RunInterruptedError);
    const resumed = await trainOnce(store, { distil: true });
    expect(resumed.teacherForwards).toBe(64);
    expect(resumed.weights).toEqual(reference.weights);
    expect((await trainOnce(store, { distil: true })).teacherForwards).toBe(64);
  });
});

describe('suite distillation', () => {
  const registries = { tasks: new Map([['fake-blobs', fakeTask()]]), methods: createMethodRegistry([fakeIterativeMagnitude]) };
  const suite = { name: 'mini', tasks: ['fake-blobs'], methods: ['fake-iterative'], targets: [{ compression: 2 }], seeds: [0], budget: 64 };

  it('is validated field by field', () => {
    const problems = (input: unknown) => {
      try {
        validateSuite({ ...suite, distillation: input }, registries);
      } catch (error) {
        return (error as SuiteValidationError).problems;
      }
      return [];
    };
    expect(problems({ alpha: 2, temperature: 4 })).toEqual(['suite.distillation.alpha: must be a number in [0, 1], got 2']);
    expect(problems({ alpha: 0.5, temperature: -1 })).toEqual(['suite.distillation.temperature: must be a finite number > 0, got -1']);
    expect(problems({ alpha: 0.5, temperature: 4, teacher: 'bert' })[0]).toMatch(/^suite\.distillation\.teacher: unknown field/);
    expect(problems('yes')[0]).toMatch(/^suite\.distillation: must be an object/);
    expect(problems({ alpha: 0.5, temperature: 4 })).toEqual([]);
  });

  it('is part of the pruned runs\' descriptions only when present: ids change only then, the dense row never', () => {
    const without = planSuite(validateSuite(suite, registries), registries).runs;
    const withKd = planSuite(validateSuite({ ...suite, distillation: { alpha: 0.5, temperature: 4 } }, registries), registries).runs;
    expect(without[0].description).not.toHaveProperty('distillation');
    expect(withKd[0].id).toBe(without[0].id); // the dense row
    expect(withKd[1].id).not.toBe(without[1].id);
    expect(withKd[1].description.distillation).toEqual({ alpha: 0.5, temperature: 4 });
    expect(without[1].description).not.toHaveProperty('distillation');
  });
});
