/**
 * Issue 16: HarnessTrainer's `gradients` (SNIP, SAFE's SAM, RigL) runs on the model's compiled gradient step under
 * the same rule as its training steps (`compiledStep`): with 'always' it issues no tfjs kernels for the forward
 * and backward (one submit of the engine's own dispatches), charges the batch, and gives what 'never' (tfjs op by
 * op) gives up to float32 rounding (expectGradientsClose, the rule of packages/pruning/src/gradient-reads.test-util.ts,
 * which checks the kernels in depth).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, initEngine, takeBackendErrors } from '@prunebench/engine';
import { FIRST_DISPATCH_TIMEOUT_MS, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { createResNetCifar, disposeCompiledTrainingSteps } from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';
import { COMPILED_STEP_TEST_ARCH as ARCH, expectGradientsClose } from '@prunebench/pruning/testing';
import type { CompiledStepUse } from '@prunebench/pruning';
import { HarnessTrainer, type HarnessTrainerOptions } from './trainer.js';

const requirement = await webgpuRequirement();

/** Only `gradients` is called: the task's other parts must not be reached. */
const unused = () => { throw new Error('not used by gradients()'); };
const TASK = { trainExamples: 4, trainBatches: unused, trainBatchStream: unused, sampleBatches: unused, evaluate: unused } as unknown as HarnessTrainerOptions['task'];

async function read(compiledStep: CompiledStepUse) {
  const model = createResNetCifar(ARCH, { seed: 3 });
  const rng = new SeededRng(5);
  const batch: Batch = { inputs: tf.tensor4d(rng.normalArray(4 * 8 * 8 * 3), [4, 8, 8, 3]), labels: tf.tensor1d([0, 3, 1, 4], 'int32'), size: 4 };
  const trainer = new HarnessTrainer({
    task: TASK, totalExamples: 8, rng: new SeededRng(0), chunkExamples: 4, compiledStep,
    recipe: { optimizer: 'sgd', momentum: 0.9, learningRate: 0.05, schedule: 'cosine', weightDecay: 5e-4, batchSize: 4, augment: false },
  });
  await trainer.gradients(model, batch).then(({ grads }) => tf.dispose([...grads.values()])); // builds the compiled step
  let result!: { loss: number; grads: Map<string, tf.Tensor> };
  const profile = await tf.profile(async () => {
    result = await trainer.gradients(model, batch);
  });
  const grads = new Map<string, Float32Array>();
  for (const [name, g] of result.grads) grads.set(name, Float32Array.from(await g.data()));
  tf.dispose([...result.grads.values(), batch.inputs as tf.Tensor, batch.labels]);
  await disposeCompiledTrainingSteps(model);
  model.dispose();
  return { loss: result.loss, grads, kernels: profile.kernels.length, budgetUsed: trainer.usedExamples() };
}

describe('HarnessTrainer.gradients on the compiled gradient step (webgpu)', () => {
  itRequires(requirement, 'compiledStep always: no tfjs kernels, the budget charged, the op-by-op loss and gradients', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    const opByOp = await read('never');
    const compiled = await read('always');
    expect(takeBackendErrors()).toEqual([]);
    expect(opByOp.kernels, 'op by op: tfjs runs the forward and backward').toBeGreaterThan(100);
    expect(compiled.kernels, 'compiled: tfjs runs no kernel (the engine\'s dispatches, one submit)').toBe(0);
    expect(compiled.budgetUsed).toBe(8);
    expect(Math.abs(compiled.loss - opByOp.loss)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(opByOp.loss)));
    expectGradientsClose(compiled.grads, opByOp.grads, 'HarnessTrainer.gradients');
  }, FIRST_DISPATCH_TIMEOUT_MS);
});
