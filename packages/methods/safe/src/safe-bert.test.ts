// SAFE on BERT takes AdamW (its BERT defaults), and a 2× pruned BERT-tiny stays well above chance on a small task:
// does token 7 occur in a 12-token sequence (balanced classes, chance 0.5).
import * as tf from '@tensorflow/tfjs';
import { SeededRng, initEngine } from '@prunebench/engine';
import { bertArch, createBert, type Model } from '@prunebench/models';
import { disposeBatch, lossAndGradients, readScalar, type Batch } from '@prunebench/pruning';
import { describeBudgetedTrainerContract, ToyBudgetedTrainer } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAFE_OPTIMIZER_DEFAULTS, safeMethod, safeOptimizerFor, type SafeOptions } from './safe.js';

const VOCAB = 40;
const SEQ = 12;
const MARKER = 7;

// BERT-tiny's layers (2 × hidden 128, 2 heads, FFN 512) with a 40-token vocabulary and 16 positions, on wasm (fast enough).
const ARCH = bertArch({ layers: 2, hidden: 128, heads: 2, intermediate: 512, vocabSize: VOCAB, maxPosition: 16 });

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

function markerTask(count: number, rng: SeededRng): { ids: Int32Array; labels: Int32Array } {
  const ids = new Int32Array(count * SEQ);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    for (let j = 0; j < SEQ; j++) {
      let token = 10 + rng.int(VOCAB - 10);
      if (j === 0) token = 1; // a [CLS]-like first token
      ids[i * SEQ + j] = token;
    }
    if (labels[i] === 1) ids[i * SEQ + 1 + rng.int(SEQ - 1)] = MARKER;
  }
  return { ids, labels };
}

function batchOf(set: { ids: Int32Array; labels: Int32Array }, indices: ArrayLike<number>): Batch {
  const n = indices.length;
  const ids = new Int32Array(n * SEQ);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    ids.set(set.ids.subarray(indices[k] * SEQ, (indices[k] + 1) * SEQ), k * SEQ);
    labels[k] = set.labels[indices[k]];
  }
  return {
    inputs: {
      input_ids: tf.tensor2d(ids, [n, SEQ], 'int32'),
      attention_mask: tf.ones([n, SEQ], 'int32'),
      token_type_ids: tf.zeros([n, SEQ], 'int32'),
    },
    labels: tf.tensor1d(labels, 'int32'),
    size: n,
  };
}

async function accuracy(model: Model, set: { ids: Int32Array; labels: Int32Array }): Promise<number> {
  const batch = batchOf(set, Array.from({ length: set.labels.length }, (_, i) => i));
  try {
    return await readScalar(tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.forward(batch.inputs, { training: false }), -1), batch.labels), 'float32'))));
  } finally {
    disposeBatch(batch);
  }
}

/** The marker task as a BudgetedTrainer (the shared test trainer's budget, AdamW steps and gradients). */
class MarkerTrainer extends ToyBudgetedTrainer {
  private readonly order = new SeededRng(8);
  constructor(
    totalExamples: number,
    private readonly train_: { ids: Int32Array; labels: Int32Array },
    private readonly validation: { ids: Int32Array; labels: Int32Array },
  ) {
    super(totalExamples, { batchSize: 16, learningRate: 1e-3, optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 } });
  }
  protected nextTrainBatch(size: number): Batch {
    return batchOf(this.train_, this.order.permutation(this.train_.labels.length).slice(0, size));
  }
  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[] {
    return Array.from({ length: count }, () => batchOf(this.train_, rng.permutation(this.train_.labels.length).slice(0, batchSize)));
  }
  protected validationScore(model: Model): Promise<number> {
    return accuracy(model, this.validation);
  }
}

// A one-layer BERT (hidden 32) keeps the contract's training steps quick.
const SMALL_ARCH = bertArch({ layers: 1, hidden: 32, heads: 2, intermediate: 64, vocabSize: VOCAB, maxPosition: 16 });
describeBudgetedTrainerContract('MarkerTrainer (SAFE on BERT tests)', (totalExamples) => {
  const rng = new SeededRng(21);
  return { trainer: new MarkerTrainer(totalExamples, markerTask(64, rng.fork('train')), markerTask(32, rng.fork('val'))), model: createBert(SMALL_ARCH, { seed: 1 }) };
});

/** A dense BERT-tiny (vocabulary 40) trained on the marker task with Adam: the starting point. */
async function denseBert(train: { ids: Int32Array; labels: Int32Array }): Promise<Model> {
  const model = createBert(ARCH, { seed: 3 });
  const optimizer = tf.train.adam(1e-3);
  const rng = new SeededRng(4);
  for (let step = 0; step < 120; step++) {
    const batch = batchOf(train, rng.permutation(train.labels.length).slice(0, 32));
    const { grads } = await lossAndGradients(model, batch);
    optimizer.applyGradients([...grads].map(([name, g]) => ({ name: model.params.get(name)!.name, tensor: g })));
    tf.dispose([...grads.values()]);
    disposeBatch(batch);
  }
  optimizer.dispose();
  return model;
}

describe('SAFE on BERT', () => {
  it('takes AdamW on BERT and the reference SGD elsewhere, unless options say otherwise', () => {
    const parsed = safeMethod.parseOptions({}) as SafeOptions;
    expect(safeOptimizerFor('bert', parsed)).toEqual(SAFE_OPTIMIZER_DEFAULTS.bert);
    expect(safeOptimizerFor('resnet-cifar', parsed)).toEqual({ optimizer: 'sgd', learningRate: 0.1, momentum: 0.9, weightDecay: 0.0001, warmupFraction: 0.025 });
    expect(safeOptimizerFor('bert', safeMethod.parseOptions({ learningRate: 1e-3 }) as SafeOptions)).toMatchObject({ optimizer: 'adamw', learningRate: 1e-3 });
    expect(() => safeMethod.parseOptions({ optimizer: 'lion' })).toThrow(/option optimizer/);
  });

  it('keeps a 2× pruned BERT-tiny well above chance on a small task', async () => {
    const rng = new SeededRng(11);
    const train = markerTask(512, rng.fork('train'));
    const test = markerTask(256, rng.fork('test'));
    const validation = markerTask(64, rng.fork('validation'));
    const dense = await denseBert(train);
    const denseAccuracy = await accuracy(dense, test);
    expect(denseAccuracy).toBeGreaterThan(0.9);
    const prunable = [...dense.params.keys()].filter((name) => ['linear', 'embedding'].includes(dense.paramKinds.get(name)!));

    const pruneWith = async (options: Record<string, unknown> = {}) => {
      const model = createBert(ARCH, { seed: 3 });
      for (const [name, param] of dense.params) model.params.get(name)!.assign(param);
      const result = await safeMethod.run({
        model, options: safeMethod.parseOptions({ batchSize: 32, dualUpdateInterval: 8, ...options }), target: { kind: 'compression', ratio: 2 },
        trainer: new MarkerTrainer(64 * 40, train, validation), rng: new SeededRng(5), prunable, log: () => {},
      });
      const score = await accuracy(model, test);
      for (const mask of result.masks!.values()) mask.dispose();
      model.dispose();
      return { score, optimizer: (result.details as { optimizer: { optimizer: string } }).optimizer.optimizer };
    };
    const bertDefaults = await pruneWith();
    expect(bertDefaults.optimizer).toBe('adamw');
    expect(bertDefaults.score).toBeGreaterThan(0.8);
    console.log(`SAFE 2x on BERT-tiny (marker task): dense ${denseAccuracy}, pruned with the BERT defaults ${bertDefaults.score}`);
    dense.dispose();
  });
});
