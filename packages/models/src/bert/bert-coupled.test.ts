import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { traceLayers } from '../family.js';
import { exportOnnx } from '../onnx/index.js';
import { loadModelFromSafetensors } from '../saved-model.js';
import { saveSafetensors } from '../state-dict.js';
import type { LayerSpec, Model } from '../types.js';
import { bertArch, type BertArch } from './arch.js';
import { createBert, type BertModel } from './model.js';
import { BERT_HIDDEN_GROUP, bertStructure } from './structure.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ARCH: BertArch = { ...bertArch({ layers: 2, hidden: 8, heads: 2, intermediate: 6, vocabSize: 20, maxPosition: 8, numLabels: 3 }), seqLength: 5 };
const IDS = [[2, 5, 7, 3, 0], [2, 9, 3, 11, 3]];
const MASK = [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]];
const TYPES = [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]];

function randomised(seed: number): BertModel {
  const model = createBert(ARCH, { seed });
  let i = 0;
  for (const v of model.params.values()) v.assign(tf.randomNormal(v.shape, 0, 0.4, 'float32', seed * 100 + i++));
  return model;
}

const logits = (m: BertModel) => tf.tidy(() => m.forward({
  input_ids: tf.tensor2d(IDS, undefined, 'int32'), attention_mask: tf.tensor2d(MASK, undefined, 'int32'), token_type_ids: tf.tensor2d(TYPES, undefined, 'int32'),
}, { training: false }).dataSync() as Float32Array);

async function ortLogits(bytes: Uint8Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  const feed = (m: number[][]) => new ort.Tensor('int64', BigInt64Array.from(m.flat().map(BigInt)), [m.length, m[0].length]);
  const out = await session.run({ input_ids: feed(IDS), attention_mask: feed(MASK), token_type_ids: feed(TYPES) });
  await session.release();
  return out.logits.data as Float32Array;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const paramsOf = (m: Model) => [...m.params.values()].reduce((n, v) => n + v.size, 0);
/** Headline MACs at `seq` tokens from the trace (as metrics' countMacs): linear layers per token, attention matmuls. */
function macsOf(m: Model, seq = 5): number {
  return traceLayers(m.arch, [seq]).reduce((sum: number, l: LayerSpec) => {
    if (l.op === 'linear') return sum + (l.outShape.length === 2 ? l.outShape[0] : 1) * l.inShape[l.inShape.length - 1] * l.outShape[l.outShape.length - 1];
    if (l.op === 'matmul') return sum + l.matmulShape!.reduce((a, b) => a * b, 1) * (l.repeat ?? 1);
    return sum;
  }, 0);
}

/** Zero the named slices: rows (axis 0) or columns (axis 1) of 2-D weights, entries of 1-D ones. */
function zero(model: BertModel, name: string, axis: 0 | 1, indices: number[]): void {
  const v = model.params.get(name)!;
  const data = Float32Array.from(v.dataSync() as Float32Array);
  const cols = v.shape.length === 2 ? v.shape[1] : 1;
  for (let i = 0; i < data.length; i++) {
    const index = v.shape.length === 1 ? i : axis === 0 ? Math.floor(i / cols) : i % cols;
    if (indices.includes(index)) data[i] = 0;
  }
  v.assign(tf.tensor(data, v.shape));
}

/** Make hidden channels carry zero everywhere: whatever writes them (embeddings, output projections and their biases, LayerNorm scale and shift). */
function silenceHidden(model: BertModel, channels: number[]): void {
  for (const table of ['word_embeddings', 'position_embeddings', 'token_type_embeddings']) zero(model, `bert.embeddings.${table}.weight`, 1, channels);
  const norms = ['bert.embeddings.LayerNorm'];
  model.arch.layers.forEach((_, i) => {
    const p = `bert.encoder.layer.${i}`;
    for (const dense of [`${p}.attention.output.dense`, `${p}.output.dense`]) {
      zero(model, `${dense}.weight`, 1, channels);
      zero(model, `${dense}.bias`, 0, channels);
    }
    norms.push(`${p}.attention.output.LayerNorm`, `${p}.output.LayerNorm`);
  });
  for (const norm of norms) for (const part of ['weight', 'bias']) zero(model, `${norm}.${part}`, 0, channels);
}

describe('BERT coupled group: the hidden size', () => {
  it('is offered only when asked for, with exact unit costs', () => {
    const model = randomised(1);
    expect(bertStructure.channelGroups(model).some((g) => g.id === BERT_HIDDEN_GROUP)).toBe(false);
    const group = bertStructure.channelGroups(model, { coupled: true }).find((g) => g.id === BERT_HIDDEN_GROUP)!;
    expect([group.kind, group.size, group.minSize]).toEqual(['coupled-channels', 8, 1]);
    const cut = bertStructure.applySurgery(model, { keep: { [BERT_HIDDEN_GROUP]: [0, 1, 2, 4, 5, 7] } });
    expect(macsOf(model) - macsOf(cut)).toBe(2 * group.macsPerUnit);
    expect(paramsOf(model) - paramsOf(cut)).toBe(2 * group.paramsPerUnit);
    expect(bertStructure.totalMacs!(cut)).toBe(macsOf(cut));
    expect(cut.arch).toMatchObject({ hidden: 6, pooler: 8, layerNormWidth: 8 });
    // with heads and neurons cut too, the unit costs overlap; planSize is exact
    const plan = { keep: { [BERT_HIDDEN_GROUP]: [1, 3, 6], 'bert.encoder.layer.0.attention': [1], 'bert.encoder.layer.1.intermediate': [0, 5] } };
    const both = bertStructure.applySurgery(model, plan);
    expect(bertStructure.planSize!(model, plan)).toEqual({ macs: macsOf(both), params: paramsOf(both) });
    model.dispose();
    cut.dispose();
    both.dispose();
  });

  it('cutting hidden channels that carry zero (with a head and neurons) leaves the logits unchanged, in tfjs and ONNX', async () => {
    const model = randomised(2);
    silenceHidden(model, [2, 5]);
    zero(model, 'bert.encoder.layer.1.attention.output.dense.weight', 0, [0, 1, 2, 3]); // head 0 of layer 1 (headDim 4) contributes nothing
    zero(model, 'bert.encoder.layer.0.output.dense.weight', 0, [1, 4]); // neurons 1 and 4 of layer 0
    const before = logits(model);
    const cut = bertStructure.applySurgery(model, {
      keep: { [BERT_HIDDEN_GROUP]: [0, 1, 3, 4, 6, 7], 'bert.encoder.layer.1.attention': [1], 'bert.encoder.layer.0.intermediate': [0, 2, 3, 5] },
    }) as BertModel;
    expect(cut.params.get('bert.embeddings.word_embeddings.weight')!.shape).toEqual([20, 6]);
    expect(cut.params.get('bert.encoder.layer.1.attention.self.query.weight')!.shape).toEqual([6, 4]);
    expect(cut.params.get('bert.pooler.dense.weight')!.shape).toEqual([6, 8]);
    expect(maxAbsDiff(logits(cut), before)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await ortLogits(await exportOnnx(cut)), before)).toBeLessThan(1e-4);
    model.dispose();
    cut.dispose();
  });

  it('a hidden-cut model re-creates from its arch, reloads, trains and exposes its activations', async () => {
    const model = randomised(3);
    const cut = bertStructure.applySurgery(model, { keep: { [BERT_HIDDEN_GROUP]: [0, 2, 3, 7] } }) as BertModel;
    const again = createBert(cut.arch);
    expect([...again.params].map(([n, v]) => [n, v.shape])).toEqual([...cut.params].map(([n, v]) => [n, v.shape]));
    again.dispose();
    const dir = mkdtempSync(join(tmpdir(), 'bert-coupled-'));
    try {
      await saveSafetensors(join(dir, 'model.safetensors'), cut);
      const reloaded = (await loadModelFromSafetensors(join(dir, 'model.safetensors'))) as BertModel;
      expect(reloaded.arch).toEqual(cut.arch);
      expect(maxAbsDiff(logits(reloaded), logits(cut))).toBe(0);
      reloaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const input = { input_ids: tf.tensor2d(IDS, undefined, 'int32') };
    const capture = bertStructure.forwardWithActivations(cut, input, [BERT_HIDDEN_GROUP]);
    expect(capture.activations.get(BERT_HIDDEN_GROUP)!.shape).toEqual([2, 4, 5, 1]);
    const weights = bertStructure.unitWeights!(cut, BERT_HIDDEN_GROUP);
    expect(weights.shape).toEqual([4, 2 * (8 + 6)]); // per layer: attention-output (width 8) and FFN-output (6) columns
    const heads = bertStructure.unitWeights!(cut, 'bert.encoder.layer.0.attention');
    expect(heads.shape).toEqual([2, 3 * 4 * 4]); // q, k, v: hidden 4 × headDim 4 each
    const vars = [...cut.params.values()];
    const labels = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, cut.forward(input, { training: true })) as tf.Scalar, vars);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(Object.keys(grads)).toHaveLength(vars.length);
    tf.dispose([value, ...Object.values(grads), labels, input.input_ids, capture.output, capture.features, ...capture.activations.values(), weights, heads]);
    model.dispose();
    cut.dispose();
  });
});
