import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { countKept, globalMasks, keepCountForTarget } from '@prunebench/pruning';
import { createToyConvModel, createToyModel, SimpleBudgetedTrainer, snapshotValues, testMethodContext, toyClassificationData, weightNames } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, { snipMethod, snipScores } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Softmax regression z = x W + b, L = (1/n) Σ_i −log softmax(z_i)[y_i].
 * ∂L/∂W[f][c] = (1/n) Σ_i x_i[f] (softmax(z_i)[c] − [y_i = c]); SNIP's score is |∂L/∂W ⊙ W|.
 */
function handScores(x: Float32Array, y: Int32Array, w: Float32Array, b: Float32Array, n: number, features: number, classes: number): number[] {
  const grad = new Array(features * classes).fill(0);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: classes }, (_, c) => {
      let s = b[c];
      for (let f = 0; f < features; f++) s += x[i * features + f] * w[f * classes + c];
      return s;
    });
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, v) => a + v, 0);
    for (let c = 0; c < classes; c++) {
      const delta = e[c] / sum - (y[i] === c ? 1 : 0);
      for (let f = 0; f < features; f++) grad[f * classes + c] += (x[i * features + f] * delta) / n;
    }
  }
  return grad.map((g, j) => Math.abs(g * w[j]));
}

describe('snip method', () => {
  it('scores equal |g ⊙ w| computed by hand on softmax regression', async () => {
    const model = createToyModel({ seed: 51, sizes: [8, 3] });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 100 });
    const batch = toyClassificationData(new SeededRng(9), 12);
    const x = Float32Array.from((batch.inputs as tf.Tensor).dataSync());
    const y = Int32Array.from(batch.labels.dataSync());
    const { 'fc1.weight': w, 'fc1.bias': b } = Object.fromEntries(await snapshotValues(model));
    const expected = handScores(x, y, w, b, 12, 8, 3);
    const scores = await snipScores(model, ['fc1.weight'], trainer, [batch]);
    const got = Array.from(scores.get('fc1.weight')!.dataSync());
    expect(got).toHaveLength(24);
    got.forEach((v, j) => expect(v).toBeCloseTo(expected[j], 6));
    expect(expected.some((v) => v > 1e-3)).toBe(true);
    expect(trainer.usedExamples()).toBe(12);
  });

  it('prunes in one shot by those scores, hits the target exactly and trains within the budget', async () => {
    expect(defaultExport).toBe(snipMethod);
    const model = createToyModel({ seed: 52 });
    const twin = createToyModel({ seed: 52 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 300, seed: 3 });
    const twinTrainer = new SimpleBudgetedTrainer({ totalExamples: 300, seed: 3 });
    const target = { kind: 'compression' as const, ratio: 3 };
    const options = { batches: 2, batchSize: 32 };
    const result = await snipMethod.run(testMethodContext(snipMethod, { model, trainer, target, options, seed: 7 }));
    const keep = keepCountForTarget(model, weightNames(model), target);
    expect(await countKept(result.masks!)).toBe(keep);
    // The same batches drawn by hand give the same masks.
    const batches = twinTrainer.sampleBatches(2, 32, new SeededRng(7).fork('snip-batches'));
    const expected = await globalMasks(await snipScores(twin, weightNames(twin), twinTrainer, batches), keep);
    for (const [name, m] of result.masks!) expect(Array.from(m.dataSync())).toEqual(Array.from(expected.get(name)!.dataSync()));
    expect(trainer.usedExamples()).toBe(300);
    expect(trainer.trainCalls).toEqual([expect.objectContaining({ examples: 300 - 64, keptWeights: keep })]);
    for (const [name, m] of result.masks!) {
      const w = model.params.get(name)!.dataSync();
      m.dataSync().forEach((v, i) => v === 0 && expect(w[i]).toBe(0));
    }
  });

  it('atInit re-initialises the weights (Kaiming normal) before scoring', async () => {
    const model = createToyConvModel({ seed: 53 });
    const before = await snapshotValues(model);
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 40, seed: 1 });
    const target = { kind: 'compression' as const, ratio: 2 };
    const result = await snipMethod.run(
      testMethodContext(snipMethod, { model, trainer, target, options: { atInit: true, batchSize: 40, finetune: false } }),
    );
    const after = await snapshotValues(model);
    expect(after.get('norm1.weight')).toEqual(before.get('norm1.weight'));
    const changed = Array.from(after.get('conv2.weight')!).filter((v, i) => v !== 0 && v !== before.get('conv2.weight')![i]);
    expect(changed.length).toBe(await countKept(new Map([['c', result.masks!.get('conv2.weight')!]])));
    expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, weightNames(model), target));
    expect(trainer.usedExamples()).toBe(40);
  });

  it('rejects bad options, FLOPs targets, and scoring beyond the budget', async () => {
    expect(() => snipMethod.parseOptions({ batches: 0 })).toThrow(/snip: option batches/);
    expect(() => snipMethod.parseOptions({ batchSize: 1.5 })).toThrow(/option batchSize/);
    expect(() => snipMethod.parseOptions({ atInit: 'yes' })).toThrow(/option atInit/);
    const model = createToyModel({ seed: 1 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 100 });
    const flops = testMethodContext(snipMethod, { model, trainer, target: { kind: 'flops-reduction', fraction: 0.5 } });
    await expect(snipMethod.run(flops)).rejects.toThrow(/flops-reduction/);
    const tooMany = testMethodContext(snipMethod, { model, trainer, target: { kind: 'compression', ratio: 2 }, options: { batches: 2 } });
    await expect(snipMethod.run(tooMany)).rejects.toThrow(/batches × batchSize = 256 examples exceed the remaining budget \(100\)/);
  });
});
