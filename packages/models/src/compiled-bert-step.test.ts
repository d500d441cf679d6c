/**
 * The trainer hook (`compiledTrainingStepFor`) for BERT (issue 16): a compiled step for a BertModel on webgpu with
 * the inputs BertModel takes (named or input_ids alone), cached per batch × seq, steps of two shapes sharing one
 * optimizer state; the loss it returns is the model's own loss (BertModel.forward + softmax cross-entropy, computed
 * by tfjs before the step); null on another backend or for inputs it does not take; clear errors for a net that does
 * not match the model and for inputs of another shape. (That whole runs equal trainStep with the masked AdamW is
 * tested in @prunebench/pruning's compiled-bert-step.test.ts, which may import the optimizer.)
 *
 * Tolerance of the loss: |compiled − tfjs| ≤ 1e-4 · max(1, tfjs): both float32, different summation orders.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { compileBertStep, initEngine, takeBackendErrors } from '@prunebench/engine';
import { FIRST_DISPATCH_TIMEOUT_MS, itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { createBert, bertPoolerWidth, type BertArch } from './bert/index.js';
import { compiledTrainingStepFor, disposeCompiledTrainingSteps } from './compiled-step.js';

const requirement = await webgpuRequirement();
const ARCH: BertArch = {
  family: 'bert', vocabSize: 30, hidden: 16, maxPosition: 12, typeVocabSize: 2, layerNormEps: 1e-12, numLabels: 2,
  layers: [{ heads: 2, headDim: 8, intermediate: 32 }, { heads: 1, headDim: 8, intermediate: 20 }],
};
const ADAMW = { kind: 'adamw' as const, learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 };

const idsOf = (batch: number, seq: number) => tf.tensor2d(Int32Array.from({ length: batch * seq }, (_, i) => (i * 7) % ARCH.vocabSize), [batch, seq], 'int32');

describe('compiledTrainingStepFor: BERT', () => {
  itRequires(requirement, 'a step per batch × seq (cached), sharing one AdamW state; its loss is the model\'s; null on cpu and for other inputs', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    const model = createBert(ARCH, { seed: 2 });
    const ids = idsOf(2, 6);
    const inputs = { input_ids: ids, attention_mask: tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], [2, 6], 'int32') };
    const labels = tf.tensor1d([1, 0], 'int32');
    const step = await compiledTrainingStepFor(model, inputs, { optimizer: 'adamw' });
    expect(step).not.toBeNull();
    expect(await compiledTrainingStepFor(model, inputs, { optimizer: 'adamw' })).toBe(step);
    expect(step!.stats.dispatches, '7 + 26 per layer').toBe(7 + 26 * ARCH.layers.length);
    expect(step!.trainedNames.sort()).toEqual([...model.params.keys()].sort());
    const expected = tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels as tf.Tensor1D, 2), model.forward(inputs, { training: true }) as tf.Tensor2D));
    const tfjsLoss = (await expected.data())[0]!;
    expected.dispose();
    const loss = await step!.step(inputs, labels, ADAMW);
    expect(Math.abs(loss - tfjsLoss)).toBeLessThanOrEqual(1e-4 * Math.max(1, tfjsLoss));
    expect(step!.steps).toBe(1);

    // another batch shape (input_ids alone): its own step, the same moments and step count
    const short = idsOf(1, 4);
    const other = await compiledTrainingStepFor(model, short, { optimizer: 'adamw' });
    expect(other).not.toBeNull();
    expect(other).not.toBe(step);
    expect(other!.steps).toBe(1);
    const [a, b] = [await step!.readState(), await other!.readState()];
    const key = 'adam-v/bert.pooler.dense.weight';
    expect(a.get(key)!.some((v) => v > 0)).toBe(true);
    expect([...b.get(key)!]).toEqual([...a.get(key)!]);
    expect(Number.isFinite(await other!.step(short, tf.tensor1d([0], 'int32'), ADAMW))).toBe(true);
    expect(step!.steps).toBe(2);

    // not taken: rank-1 ids, a mask of another shape, unknown inputs, sequences beyond maxPosition, another backend
    expect(await compiledTrainingStepFor(model, tf.zeros([6], 'int32'))).toBeNull();
    expect(await compiledTrainingStepFor(model, { input_ids: ids, attention_mask: tf.ones([2, 5], 'int32') })).toBeNull();
    expect(await compiledTrainingStepFor(model, { input_ids: ids, position_ids: ids })).toBeNull();
    expect(await compiledTrainingStepFor(model, idsOf(1, ARCH.maxPosition + 1))).toBeNull();
    await tf.setBackend('cpu');
    expect(await compiledTrainingStepFor(model, inputs)).toBeNull();
    await tf.setBackend('webgpu');
    expect(takeBackendErrors()).toEqual([]);
    await disposeCompiledTrainingSteps(model);
    model.dispose();
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'errors: a net that does not match the model; inputs or labels of another shape; use after dispose', async () => {
    await initEngine({ backend: 'webgpu' });
    const model = createBert(ARCH, { seed: 2 });
    const net = { ...ARCH, pooler: bertPoolerWidth(ARCH), layerNormWidth: ARCH.hidden };
    await expect(compileBertStep({ ...net, hidden: 24, layerNormWidth: 24 }, model, { batch: 2, seq: 6 })).rejects.toThrow(/'bert.embeddings.word_embeddings.weight' must be float32 \[30,24\]/);
    await expect(compileBertStep(net, model, { batch: 2, seq: 13 })).rejects.toThrow(/sequence length 13 exceeds maxPosition 12/);
    const step = await compileBertStep(net, model, { batch: 2, seq: 6 });
    const labels = tf.tensor1d([1, 0], 'int32');
    expect(() => step.step(idsOf(2, 5), labels, ADAMW)).toThrow(/input_ids must be a tensor \[2, 6\], got \[2,5\]/);
    expect(() => step.step({ input_ids: idsOf(2, 6), token_type_ids: tf.zeros([2, 5], 'int32') }, labels, ADAMW)).toThrow(/token_type_ids must have the shape of input_ids/);
    expect(() => step.step(idsOf(2, 6), tf.tensor1d([1], 'int32'), ADAMW)).toThrow(/labels must be \[2\]/);
    expect(() => step.step(idsOf(2, 6), labels, { learningRate: 0.1 })).toThrow(/compiled for adamw, given sgd settings/);
    step.dispose();
    expect(() => step.step(idsOf(2, 6), labels, ADAMW)).toThrow(/after dispose/);
    model.dispose();
  }, FIRST_DISPATCH_TIMEOUT_MS);
});
