import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { bertArch, createBert } from '@prunebench/models';
import { calibrateLayers, calibrationBatches, reconstructionErrors, reductionRows, relativeReconstructionError, reportedLayers } from './calibration.js';
import { takeSnapshot } from './snapshot.js';
import { createToyConvModel, createToyModel, SimpleBudgetedTrainer } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('calibration', () => {
  it('the im2col rows times the flattened HWIO weight is the convolution (stride 1 and 2, padding 1)', async () => {
    const rng = new SeededRng(3);
    const x = tf.tensor(rng.normalArray(2 * 5 * 5 * 3, 1), [2, 5, 5, 3]) as tf.Tensor4D;
    const w = tf.tensor(rng.normalArray(3 * 3 * 3 * 4, 1), [3, 3, 3, 4]) as tf.Tensor4D;
    for (const stride of [1, 2]) {
      const { rows } = reductionRows({ weight: 'w', input: x, conv: { stride, pad: 1 } }, w.shape);
      const viaRows = tf.matMul(rows, w.reshape([27, 4]));
      const conv = tf.conv2d(x, w, stride, 1);
      expect(viaRows.shape).toEqual([conv.shape[0] * conv.shape[1] * conv.shape[2], 4]);
      const [a, b] = [await viaRows.data(), await conv.data()];
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 4);
    }
  });

  it('accumulates the squared norms and XᵀX of each layer input over the batches, through the forward tap', async () => {
    const model = createToyModel({ seed: 1 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 0, seed: 2 });
    const batches = calibrationBatches(trainer, new SeededRng(4), 40, 16);
    expect(batches.map((b) => b.size)).toEqual([16, 16, 8]);
    const stats = await calibrateLayers(model, batches, ['fc1.weight', 'fc2.weight'], 'gram');
    // fc1's input is the batch itself: compare with a direct computation.
    const x = tf.concat(batches.map((b) => b.inputs as tf.Tensor2D));
    const norms = await tf.sum(tf.square(x), 0).data();
    const gram = await tf.matMul(x, x, true, false).data();
    const fc1 = stats.get('fc1.weight')!;
    expect(fc1.rows).toBe(40);
    fc1.squaredNorms.forEach((v, i) => expect(v).toBeCloseTo(norms[i], 3));
    fc1.gram!.forEach((v, i) => expect(v).toBeCloseTo(gram[i], 3));
    expect(stats.get('fc2.weight')!.squaredNorms).toHaveLength(16);
    // The same seed draws the same examples.
    const again = calibrationBatches(trainer, new SeededRng(4), 40, 16);
    expect(Array.from(await (again[0].inputs as tf.Tensor).data())).toEqual(Array.from(await (batches[0].inputs as tf.Tensor).data()));
    await expect(calibrateLayers(model, batches, ['nope.weight'], 'squared-norms')).rejects.toThrow(/does not report the input of "nope.weight"/);
  });

  it('reconstruction errors: 0 for unchanged weights, the hand value for a zeroed one', async () => {
    const model = createToyConvModel({ seed: 5 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 0, seed: 2 });
    const batches = calibrationBatches(trainer, new SeededRng(1), 32, 32);
    const dense = takeSnapshot(model);
    const names = ['conv1.weight', 'conv2.weight', 'fc.weight'];
    expect([...(await reconstructionErrors(dense.params, model, batches, names)).values()]).toEqual([0, 0, 0]);
    model.params.get('fc.weight')!.assign(tf.zerosLike(model.params.get('fc.weight')!));
    expect((await reconstructionErrors(dense.params, model, batches, names)).get('fc.weight')).toBeCloseTo(1, 10);
    // ‖(W − Ŵ)ᵀX‖² / ‖WᵀX‖² by hand: X = I (2 inputs), W = [[1, 0], [0, 2]] → zeroing the second output loses 4 of 5.
    expect(relativeReconstructionError(Float64Array.from([1, 0, 0, 2]), Float64Array.from([1, 0, 0, 0]), Float64Array.from([1, 0, 0, 1]), 2, 2)).toBeCloseTo(0.8, 12);
  });

  it('BERT: every linear layer reports its input, the embedding tables do not, and padded tokens are not counted', async () => {
    const model = createBert(bertArch({ layers: 1, hidden: 8, heads: 2, intermediate: 16, vocabSize: 30, maxPosition: 16 }), { seed: 1 });
    const batch = {
      inputs: {
        input_ids: tf.tensor2d([[2, 5, 7, 0], [3, 4, 0, 0]], [2, 4], 'int32'),
        attention_mask: tf.tensor2d([[1, 1, 1, 0], [1, 1, 0, 0]], [2, 4], 'int32'),
      },
      labels: tf.tensor1d([0, 1], 'int32'),
      size: 2,
    };
    const names = [...model.paramKinds].filter(([, kind]) => kind === 'linear' || kind === 'embedding').map(([name]) => name);
    const reported = reportedLayers(model, batch, names);
    expect(reported).toContain('bert.encoder.layer.0.attention.self.query.weight');
    expect(reported).toContain('classifier.weight');
    expect(reported.filter((name) => name.includes('embeddings'))).toEqual([]);
    expect(names.filter((name) => !reported.includes(name)).every((name) => model.paramKinds.get(name) === 'embedding')).toBe(true);
    const stats = await calibrateLayers(model, [batch], ['bert.encoder.layer.0.attention.self.query.weight', 'classifier.weight'], 'squared-norms');
    expect(stats.get('bert.encoder.layer.0.attention.self.query.weight')!.rows).toBe(5); // 3 + 2 real tokens
    expect(stats.get('classifier.weight')!.rows).toBe(2); // one pooled row per example
  });
});
