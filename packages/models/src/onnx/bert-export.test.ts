import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { bertArch, type BertArch } from '../bert/arch.js';
import { createBert, type BertModel } from '../bert/model.js';
import { getModelStructure } from '../family.js';
import { exportOnnx } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ARCH: BertArch = bertArch({ layers: 2, hidden: 8, heads: 2, intermediate: 12, vocabSize: 30, maxPosition: 16, numLabels: 3 });

function randomised(arch: BertArch, seed: number): BertModel {
  const model = createBert(arch, { seed });
  let i = 0;
  for (const v of model.params.values()) v.assign(tf.randomNormal(v.shape, 0, 0.4, 'float32', seed * 100 + i++));
  return model;
}

/** Batch 3, seq 7: one padded example, one sentence pair. */
const IDS = [[2, 5, 7, 3, 0, 0, 0], [2, 9, 3, 11, 12, 13, 3], [2, 4, 4, 4, 4, 4, 3]];
const MASK = [[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]];
const TYPES = [[0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]];

function tfjsLogits(model: BertModel, rows: number, seq: number): Float32Array {
  const cut = (m: number[][]) => m.slice(0, rows).map((r) => r.slice(0, seq));
  return tf.tidy(() => model.forward({
    input_ids: tf.tensor2d(cut(IDS), undefined, 'int32'), attention_mask: tf.tensor2d(cut(MASK), undefined, 'int32'),
    token_type_ids: tf.tensor2d(cut(TYPES), undefined, 'int32'),
  }, { training: false }).dataSync() as Float32Array);
}

async function ortLogits(bytes: Uint8Array, rows: number, seq: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  const feed = (m: number[][]) => new ort.Tensor('int64', BigInt64Array.from(m.slice(0, rows).flatMap((r) => r.slice(0, seq)).map(BigInt)), [rows, seq]);
  const out = await session.run({ input_ids: feed(IDS), attention_mask: feed(MASK), token_type_ids: feed(TYPES) });
  await session.release();
  return out.logits.data as Float32Array;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('BERT ONNX export', () => {
  it('runs in onnxruntime with the logits of the tfjs model, at any batch and sequence length (int64 inputs)', async () => {
    const model = randomised(ARCH, 1);
    const bytes = await exportOnnx(model);
    for (const [rows, seq] of [[3, 7], [1, 4], [2, 5]]) {
      const expected = tfjsLogits(model, rows, seq);
      const got = await ortLogits(bytes, rows, seq);
      expect(got.length).toBe(rows * 3);
      expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);
    }
    model.dispose();
  });

  it('exports structurally pruned layers (fewer heads and neurons, a dropped layer) and masked weights as zeros', async () => {
    const model = randomised(ARCH, 2);
    const pruned = getModelStructure(model).applySurgery(model, {
      keep: { 'bert.encoder.layer.0.attention': [1], 'bert.encoder.layer.0.intermediate': [0, 5, 11] },
      removeBlocks: ['bert.encoder.layer.1'],
    }) as BertModel;
    const mask = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([8, 8], 0, 1, 'float32', 3), 0.5), 'float32'));
    const masks = new Map([['bert.pooler.dense.weight', mask]]);
    const bytes = await exportOnnx(pruned, { masks });
    const pooler = pruned.params.get('bert.pooler.dense.weight')!;
    const original = pooler.clone();
    pooler.assign(tf.mul(pooler, mask));
    expect(maxAbsDiff(await ortLogits(bytes, 3, 7), tfjsLogits(pruned, 3, 7))).toBeLessThan(1e-4);
    pooler.assign(original);
    tf.dispose([mask, original]);
    model.dispose();
    pruned.dispose();
  });

  it('refuses opsets without LayerNormalization', async () => {
    const model = createBert(ARCH);
    await expect(exportOnnx(model, { opset: 16 })).rejects.toThrow(/opset >= 17/);
    model.dispose();
  });
});
