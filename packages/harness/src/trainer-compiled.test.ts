/**
 * Issue 16: HarnessTrainer on webgpu trains a ResNet-CIFAR on its compiled step (one submit per step, the next step
 * issued before the last loss is read, checkpoints snapshotted while training goes on), and that run equals the
 * op-by-op one (`compiledStep: 'never'`) up to float32 rounding: the same log, weights and running statistics. An
 * interrupted compiled run, whose checkpoint holds optimizer state read from the GPU mid-run, resumes to the
 * uninterrupted run's weights.
 *
 * Tolerance: max |a − b| ≤ 1e-4 · max(1, max |b|) per tensor and loss, as packages/pruning/src/compiled-step.test.ts
 * (float32, other summation orders; the gap measured there after 5 steps is ~1e-6).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, initEngine, takeBackendErrors } from '@prunebench/engine';
import { FIRST_DISPATCH_TIMEOUT_MS, expectRelativelyClose, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { createResNetCifar, disposeCompiledTrainingSteps, type Model } from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';
import { COMPILED_STEP_TEST_ARCH as ARCH } from '@prunebench/pruning/testing';
import { RunInterruptedError } from './errors.js';
import type { FineTuneRecipe } from './tasks/types.js';
import { memoryCheckpoints } from './testing/memory-checkpoints.js';
import { HarnessTrainer, type HarnessTrainerOptions, type TrainerCheckpoints } from './trainer.js';

const requirement = await webgpuRequirement();
const TOLERANCE = 1e-4;
/** Batch 4 on 8×8 images with COMPILED_STEP_TEST_ARCH, as packages/pruning/src/compiled-step.test.ts: shared pipelines. */
const RECIPE: FineTuneRecipe = {
  optimizer: 'sgd', momentum: 0.9, learningRate: 0.05, schedule: 'cosine', weightDecay: 5e-4, batchSize: 4, augment: false,
};
/** Six steps of 4; a truncated last batch would be a second compiled shape (models/src/compiled-step.test.ts covers those). */
const EXAMPLES = 24;
const IMAGES = 12;

/** A task of 12 random 8×8 images in 4 classes; the stream reshuffles them each pass with the call's generator. */
function tinyTask(): HarnessTrainerOptions['task'] {
  const data = new SeededRng(7);
  const pixels = Float32Array.from(data.normalArray(IMAGES * 8 * 8 * 3));
  const labels = Int32Array.from({ length: IMAGES }, (_, i) => i % 4);
  const batch = (indices: number[]): Batch => {
    const x = new Float32Array(indices.length * 192);
    indices.forEach((src, i) => x.set(pixels.subarray(src * 192, (src + 1) * 192), i * 192));
    return { inputs: tf.tensor4d(x, [indices.length, 8, 8, 3]), labels: tf.tensor1d(indices.map((i) => labels[i]!), 'int32'), size: indices.length };
  };
  return {
    trainExamples: IMAGES,
    *trainBatches(batchSize: number, rng: SeededRng): Iterator<Batch> {
      for (;;) {
        const order = [...rng.permutation(IMAGES)];
        for (let at = 0; at + batchSize <= IMAGES; at += batchSize) yield batch(order.slice(at, at + batchSize));
      }
    },
    sampleBatches: () => { throw new Error('not used'); },
    evaluate: () => { throw new Error('not used'); },
  };
}

async function values(model: Model): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of [...model.params, ...model.buffers]) out.set(name, Float32Array.from(await v.data()));
  return out;
}

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => expectRelativelyClose(actual, expected, what, TOLERANCE);

/** One train call of EXAMPLES on a fresh model; `abortAfterSteps` stops it there (RunInterruptedError). */
async function train(options: { compiledStep: 'always' | 'never'; checkpoints?: TrainerCheckpoints; abortAfterSteps?: number }) {
  const model = createResNetCifar(ARCH, { seed: 3 });
  const controller = new AbortController();
  let steps = 0;
  const trainer = new HarnessTrainer({
    task: tinyTask(), recipe: RECIPE, totalExamples: EXAMPLES, rng: new SeededRng(3), chunkExamples: 8,
    checkpoints: options.checkpoints, compiledStep: options.compiledStep, signal: controller.signal,
    onProgress: () => { if (++steps === options.abortAfterSteps) controller.abort(); },
  });
  try {
    const summary = await trainer.train(model, { examples: EXAMPLES });
    return { summary, log: trainer.log, tensors: await values(model) };
  } finally {
    await disposeCompiledTrainingSteps(model);
    model.dispose();
  }
}

describe('HarnessTrainer on the compiled step (webgpu)', () => {
  itRequires(requirement, 'trains as the op-by-op step does, and an interrupted compiled run resumes to the same weights', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    const opByOp = await train({ compiledStep: 'never' });
    const compiled = await train({ compiledStep: 'always', checkpoints: memoryCheckpoints() });
    expect(opByOp.summary.compiledSteps).toBe(0);
    expect(compiled.summary.steps).toBe(6);
    expect(compiled.summary.compiledSteps).toBe(6);
    expect(compiled.log.map((r) => [r.step, r.examples, r.budgetUsed])).toEqual(opByOp.log.map((r) => [r.step, r.examples, r.budgetUsed]));
    expect(compiled.log.map((r) => [r.step, r.examples])).toEqual([[2, 8], [4, 8], [6, 8]]);
    expectClose(compiled.log.map((r) => r.loss), opByOp.log.map((r) => r.loss), 'chunk losses');
    for (const [name, v] of opByOp.tensors) expectClose(compiled.tensors.get(name)!, v, name);
    // the run learns: the last chunk's loss is below the first's
    expect(opByOp.log[2]!.loss).toBeLessThan(opByOp.log[0]!.loss);

    const checkpoints = memoryCheckpoints();
    await expect(train({ compiledStep: 'always', checkpoints, abortAfterSteps: 3 })).rejects.toBeInstanceOf(RunInterruptedError);
    const stored = checkpoints.readPartial(0)!;
    expect((stored.meta as { step: number }).step).toBe(3);
    const paramNames = [...stored.arrays.keys()].filter((k) => k.startsWith('param/')).map((k) => k.slice('param/'.length));
    expect([...stored.arrays.keys()].filter((k) => k.startsWith('momentum/')).sort()).toEqual(paramNames.map((n) => `momentum/${n}`).sort());
    const resumed = await train({ compiledStep: 'always', checkpoints });
    expect(resumed.summary.compiledSteps).toBe(6);
    expect(resumed.log.map((r) => r.loss)).toEqual(compiled.log.map((r) => r.loss));
    for (const [name, v] of compiled.tensors) expect(resumed.tensors.get(name), name).toEqual(v);
    expect(takeBackendErrors()).toEqual([]);
    await tf.setBackend('cpu');
  }, FIRST_DISPATCH_TIMEOUT_MS);
});
