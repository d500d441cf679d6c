import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getModelFamily, getModelStructure, traceLayers } from '../family.js';
import { readSafetensorsFile, writeSafetensors } from '../safetensors.js';
import { saveSafetensors, stateDict } from '../state-dict.js';
import { StructureError } from '../structure.js';
import type { TensorMap } from '../tensor-map.js';
import { bertArch, bertTinyArch, type BertArch } from './arch.js';
import { loadHuggingFaceBert } from './huggingface.js';
import { createBert, type BertModel } from './model.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** One layer, 2 heads of 3, FFN 5, 3 labels, 13-token vocabulary. */
const oneLayer: BertArch = bertArch({ layers: 1, hidden: 6, heads: 2, intermediate: 5, vocabSize: 13, maxPosition: 8, numLabels: 3 });
const twoLayers: BertArch = bertArch({ layers: 2, hidden: 6, heads: 2, intermediate: 5, vocabSize: 13, maxPosition: 8, numLabels: 3 });

const IDS = [[2, 5, 7, 3, 0], [2, 9, 3, 11, 3]];
const MASK = [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]];
const TYPES = [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]];
const inputs = () => ({
  input_ids: tf.tensor2d(IDS, undefined, 'int32'),
  attention_mask: tf.tensor2d(MASK, undefined, 'int32'),
  token_type_ids: tf.tensor2d(TYPES, undefined, 'int32'),
});

function logitsOf(model: BertModel): number[][] {
  const feed = inputs();
  const out = model.forward(feed, { training: false });
  const values = out.arraySync() as number[][];
  tf.dispose([out, ...Object.values(feed)]);
  return values;
}

/** Randomise every parameter (biases and norms too), so the reference check exercises all of them. */
function randomise(model: BertModel, seed: number): void {
  let i = 0;
  for (const v of model.params.values()) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', seed + i++));
}

/** A plain float64 BERT forward from the host values (PyTorch semantics written out loop by loop). */
function referenceLogits(model: BertModel): number[][] {
  const arch = model.arch;
  const p = (name: string) => Array.from(model.params.get(name)!.dataSync());
  const h = arch.hidden;
  const layerNorm = (x: number[], prefix: string) => {
    const g = p(`${prefix}.weight`);
    const b = p(`${prefix}.bias`);
    const mean = x.reduce((a, v) => a + v, 0) / h;
    const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / h;
    return x.map((v, j) => ((v - mean) / Math.sqrt(variance + arch.layerNormEps)) * g[j] + b[j]);
  };
  const linear = (x: number[], prefix: string, outFeatures: number) => {
    const w = p(`${prefix}.weight`); // [in, out]
    const b = p(`${prefix}.bias`);
    return Array.from({ length: outFeatures }, (_, o) => x.reduce((a, v, k) => a + v * w[k * outFeatures + o], b[o]));
  };
  const erf = (x: number) => {
    // Abramowitz–Stegun 7.1.26 is too coarse; use the series / continued fraction via high-precision approximation.
    const t = 1 / (1 + 0.5 * Math.abs(x));
    const y = 1 - t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
      + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0 ? y : -y;
  };
  const words = p('bert.embeddings.word_embeddings.weight');
  const positions = p('bert.embeddings.position_embeddings.weight');
  const types = p('bert.embeddings.token_type_embeddings.weight');
  return IDS.map((ids, b) => {
    let x = ids.map((id, s) => layerNorm(
      Array.from({ length: h }, (_, j) => words[id * h + j] + positions[s * h + j] + types[TYPES[b][s] * h + j]), 'bert.embeddings.LayerNorm'));
    arch.layers.forEach((layer, i) => {
      const prefix = `bert.encoder.layer.${i}`;
      const width = layer.heads * layer.headDim;
      const q = x.map((t) => linear(t, `${prefix}.attention.self.query`, width));
      const k = x.map((t) => linear(t, `${prefix}.attention.self.key`, width));
      const v = x.map((t) => linear(t, `${prefix}.attention.self.value`, width));
      const context = x.map(() => new Array<number>(width).fill(0));
      for (let head = 0; head < layer.heads; head++) {
        const off = head * layer.headDim;
        for (let s = 0; s < x.length; s++) {
          const scores = x.map((_, t) => {
            let dot = 0;
            for (let d = 0; d < layer.headDim; d++) dot += q[s][off + d] * k[t][off + d];
            return dot / Math.sqrt(layer.headDim) + (1 - MASK[b][t]) * -10000;
          });
          const max = Math.max(...scores);
          const e = scores.map((z) => Math.exp(z - max));
          const total = e.reduce((a, z) => a + z, 0);
          for (let t = 0; t < x.length; t++) for (let d = 0; d < layer.headDim; d++) context[s][off + d] += (e[t] / total) * v[t][off + d];
        }
      }
      x = x.map((t, s) => layerNorm(linear(context[s], `${prefix}.attention.output.dense`, h).map((z, j) => z + t[j]), `${prefix}.attention.output.LayerNorm`));
      x = x.map((t) => {
        const inner = linear(t, `${prefix}.intermediate.dense`, layer.intermediate).map((z) => 0.5 * z * (1 + erf(z / Math.SQRT2)));
        return layerNorm(linear(inner, `${prefix}.output.dense`, h).map((z, j) => z + t[j]), `${prefix}.output.LayerNorm`);
      });
    });
    const pooled = linear(x[0], 'bert.pooler.dense', h).map(Math.tanh);
    return linear(pooled, 'classifier', arch.numLabels);
  });
}

describe('BERT model', () => {
  it('uses Hugging Face parameter names and BERT init (N(0, 0.02), zero biases, unit norms, zero [PAD] row)', () => {
    const model = createBert(oneLayer, { seed: 3 });
    expect([...model.params.keys()]).toEqual([
      'bert.embeddings.word_embeddings.weight', 'bert.embeddings.position_embeddings.weight', 'bert.embeddings.token_type_embeddings.weight',
      'bert.embeddings.LayerNorm.weight', 'bert.embeddings.LayerNorm.bias',
      ...['query', 'key', 'value'].flatMap((n) => [`bert.encoder.layer.0.attention.self.${n}.weight`, `bert.encoder.layer.0.attention.self.${n}.bias`]),
      'bert.encoder.layer.0.attention.output.dense.weight', 'bert.encoder.layer.0.attention.output.dense.bias',
      'bert.encoder.layer.0.attention.output.LayerNorm.weight', 'bert.encoder.layer.0.attention.output.LayerNorm.bias',
      'bert.encoder.layer.0.intermediate.dense.weight', 'bert.encoder.layer.0.intermediate.dense.bias',
      'bert.encoder.layer.0.output.dense.weight', 'bert.encoder.layer.0.output.dense.bias',
      'bert.encoder.layer.0.output.LayerNorm.weight', 'bert.encoder.layer.0.output.LayerNorm.bias',
      'bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias',
    ]);
    expect(model.params.get('bert.encoder.layer.0.intermediate.dense.weight')!.shape).toEqual([6, 5]); // [in, out]
    expect(model.paramKinds.get('bert.embeddings.word_embeddings.weight')).toBe('embedding');
    expect(model.paramKinds.get('classifier.weight')).toBe('linear');
    const words = model.params.get('bert.embeddings.word_embeddings.weight')!.dataSync();
    expect(Array.from(words.slice(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    const big = createBert(bertTinyArch(2, 2000), { seed: 0 });
    const w = big.params.get('bert.encoder.layer.0.intermediate.dense.weight')!;
    const std = Math.sqrt(tf.tidy(() => tf.mean(tf.square(w)).dataSync()[0]));
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    expect(Array.from(big.params.get('bert.encoder.layer.1.output.dense.bias')!.dataSync()).every((v) => v === 0)).toBe(true);
    big.dispose();
    const again = createBert(oneLayer, { seed: 3 });
    expect(logitsOf(again)).toEqual(logitsOf(model));
    model.dispose();
    again.dispose();
  });

  it('matches a hand-written float64 reference forward (1 and 2 layers, padding, token types)', () => {
    for (const arch of [oneLayer, twoLayers]) {
      const model = createBert(arch, { seed: 1 });
      randomise(model, 10);
      const got = logitsOf(model);
      const expected = referenceLogits(model);
      for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) expect(got[b][c]).toBeCloseTo(expected[b][c], 4);
      model.dispose();
    }
  });

  it('ignores padded positions: trimming the padding leaves the logits unchanged', () => {
    const model = createBert(oneLayer, { seed: 1 });
    randomise(model, 20);
    const full = logitsOf(model)[0];
    const trimmed = model.forward({
      input_ids: tf.tensor2d([IDS[0].slice(0, 4)], undefined, 'int32'), attention_mask: tf.ones([1, 4], 'int32'),
      token_type_ids: tf.zeros([1, 4], 'int32'),
    }, { training: false }).arraySync() as number[][];
    for (let c = 0; c < 3; c++) expect(trimmed[0][c]).toBeCloseTo(full[c], 5);
    model.dispose();
  });

  it('traces MACs as a function of sequence length (linear ∝ seq, attention matmuls ∝ seq²)', () => {
    const arch = bertTinyArch();
    const macs = (seq: number) => traceLayers(arch, [seq]).reduce((sum, l) => {
      if (l.op === 'linear') return sum + l.inShape[l.inShape.length - 1] * l.outShape[l.outShape.length - 1] * (l.inShape.length === 2 ? l.inShape[0] : 1);
      if (l.op === 'matmul') return sum + l.matmulShape!.reduce((a, b) => a * b, 1) * (l.repeat ?? 1);
      return sum;
    }, 0);
    const perLayerLinear = (seq: number) => seq * (4 * 128 * 128 + 2 * 128 * 512);
    const attention = (seq: number) => 2 * 2 * seq * seq * 64;
    const head = 128 * 128 + 128 * 2;
    for (const seq of [16, 64, 128]) expect(macs(seq)).toBe(2 * (perLayerLinear(seq) + attention(seq)) + head);
    expect(() => traceLayers(arch, [513])).toThrow(/maxPosition/);
    expect(getModelFamily('bert').structure).toBeDefined();
  });
});

describe('BERT structure', () => {
  it('offers heads and neurons per layer and every layer as a block', () => {
    const model = createBert(twoLayers);
    const structure = getModelStructure(model);
    expect(structure.channelGroups(model).map((g) => [g.id, g.kind, g.size])).toEqual([
      ['bert.encoder.layer.0.attention', 'heads', 2], ['bert.encoder.layer.0.intermediate', 'neurons', 5],
      ['bert.encoder.layer.1.attention', 'heads', 2], ['bert.encoder.layer.1.intermediate', 'neurons', 5],
    ]);
    expect(structure.removableBlocks(model).map((b) => [b.id, b.kind])).toEqual([['bert.encoder.layer.0', 'encoder-layer'], ['bert.encoder.layer.1', 'encoder-layer']]);
    // priced at arch.seqLength (default 128, capped at maxPosition): one head = its q/k/v rows, output columns and
    // two attention matmuls
    const at5 = createBert({ ...twoLayers, seqLength: 5 });
    expect(structure.channelGroups(at5)[0].macsPerUnit).toBe(4 * 5 * 6 * 3 + 2 * 5 * 5 * 3);
    expect(structure.channelGroups(model)[1].macsPerUnit).toBe(2 * 8 * 6);
    const layerMacs = 2 * (4 * 5 * 6 * 3 + 2 * 5 * 5 * 3) + 5 * 2 * 5 * 6;
    expect(structure.removableBlocks(at5)[1].macs).toBe(layerMacs);
    expect(structure.totalMacs!(at5)).toBe(2 * layerMacs + 6 * 6 + 6 * 3);
    at5.dispose();
    const feed = inputs();
    const capture = structure.forwardWithActivations(model, feed, ['bert.encoder.layer.1.attention', 'bert.encoder.layer.0.intermediate']);
    expect(capture.activations.get('bert.encoder.layer.1.attention')!.shape).toEqual([2, 2, 5, 3]);
    expect(capture.activations.get('bert.encoder.layer.0.intermediate')!.shape).toEqual([2, 5, 5, 1]);
    expect(capture.features.shape).toEqual([2, 6]);
    expect(capture.output.arraySync()).toEqual(logitsOf(model));
    expect(() => structure.forwardWithActivations(model, feed, ['bert.encoder.layer.7.attention'])).toThrow(StructureError);
    tf.dispose([capture.output, capture.features, ...capture.activations.values(), ...Object.values(feed)]);
    model.dispose();
  });

  it('removes heads and neurons whose weights are zero without changing the logits', () => {
    const model = createBert(twoLayers, { seed: 2 });
    randomise(model, 30);
    const zeroRows = (name: string, rows: number[]) => {
      const v = model.params.get(name)!;
      const data = v.arraySync() as number[][];
      for (const r of rows) data[r] = data[r].map(() => 0);
      v.assign(tf.tensor2d(data));
    };
    zeroRows('bert.encoder.layer.0.attention.output.dense.weight', [3, 4, 5]); // head 1 of layer 0 (headDim 3) contributes nothing
    zeroRows('bert.encoder.layer.1.output.dense.weight', [0, 2]); // neurons 0 and 2 of layer 1
    const before = logitsOf(model);
    const pruned = getModelStructure(model).applySurgery(model, {
      keep: { 'bert.encoder.layer.0.attention': [0], 'bert.encoder.layer.1.intermediate': [1, 3, 4] },
    }) as BertModel;
    expect(pruned.arch.layers).toEqual([{ heads: 1, headDim: 3, intermediate: 5 }, { heads: 2, headDim: 3, intermediate: 3 }]);
    expect(pruned.params.get('bert.encoder.layer.0.attention.self.query.weight')!.shape).toEqual([6, 3]);
    expect(pruned.params.get('bert.encoder.layer.0.attention.output.dense.weight')!.shape).toEqual([3, 6]);
    expect(pruned.params.get('bert.encoder.layer.1.intermediate.dense.weight')!.shape).toEqual([6, 3]);
    const after = logitsOf(pruned);
    for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) expect(after[b][c]).toBeCloseTo(before[b][c], 5);
    expect(logitsOf(model)).toEqual(before); // the input model is untouched
    // the pruned model exports and reloads like any other
    const counts = traceLayers(pruned.arch, [5]).filter((l) => l.op === 'matmul').map((l) => l.repeat);
    expect(counts).toEqual([1, 1, 2, 2]);
    model.dispose();
    pruned.dispose();
  });

  it('drops an encoder layer (renumbering the rest); an identity-like layer leaves the logits unchanged', () => {
    const model = createBert(twoLayers, { seed: 4 });
    randomise(model, 40);
    // Layer 0 with zero output projections and unit norms maps a normalised x to LN(x) = x (up to eps).
    for (const name of ['attention.output.dense', 'output.dense']) {
      for (const part of ['weight', 'bias']) {
        const v = model.params.get(`bert.encoder.layer.0.${name}.${part}`)!;
        v.assign(tf.zerosLike(v));
      }
    }
    for (const norm of ['attention.output.LayerNorm', 'output.LayerNorm']) {
      model.params.get(`bert.encoder.layer.0.${norm}.weight`)!.assign(tf.ones([6]));
      model.params.get(`bert.encoder.layer.0.${norm}.bias`)!.assign(tf.zeros([6]));
    }
    model.params.get('bert.embeddings.LayerNorm.weight')!.assign(tf.ones([6]));
    model.params.get('bert.embeddings.LayerNorm.bias')!.assign(tf.zeros([6]));
    const before = logitsOf(model);
    const dropped = getModelStructure(model).applySurgery(model, { removeBlocks: ['bert.encoder.layer.0'] }) as BertModel;
    expect(dropped.arch.layers).toHaveLength(1);
    expect(dropped.params.has('bert.encoder.layer.1.attention.self.query.weight')).toBe(false);
    expect(dropped.params.get('bert.encoder.layer.0.attention.self.query.weight')!.arraySync())
      .toEqual(model.params.get('bert.encoder.layer.1.attention.self.query.weight')!.arraySync());
    const after = logitsOf(dropped);
    for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) expect(after[b][c]).toBeCloseTo(before[b][c], 4);
    model.dispose();
    dropped.dispose();
  });

  it('rejects invalid plans with a StructureError naming the group or block', () => {
    const model = createBert(twoLayers);
    const structure = getModelStructure(model);
    const bad = [
      [{ keep: { 'bert.encoder.layer.2.attention': [0] } }, /group "bert.encoder.layer.2.attention" is not a channel group/],
      [{ keep: { 'bert.encoder.layer.0.attention': [] } }, /keeping 0 of 2 units is below its minimum of 1/],
      [{ keep: { 'bert.encoder.layer.0.attention': [2] } }, /outside \[0, 2\)/],
      [{ keep: { 'bert.encoder.layer.0.intermediate': [3, 1] } }, /ascending/],
      [{ removeBlocks: ['bert.encoder.layer.5'] }, /block "bert.encoder.layer.5" cannot be dropped/],
      [{ removeBlocks: ['bert.encoder.layer.0', 'bert.encoder.layer.1'] }, /every encoder layer/],
      [{ removeBlocks: ['bert.encoder.layer.1'], keep: { 'bert.encoder.layer.1.intermediate': [0] } }, /its block "bert.encoder.layer.1" is dropped/],
    ] as const;
    for (const [plan, message] of bad) {
      expect(() => structure.applySurgery(model, plan as never)).toThrow(StructureError);
      expect(() => structure.applySurgery(model, plan as never)).toThrow(message);
    }
    model.dispose();
  });
});

describe('Hugging Face checkpoints', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const hfConfig = (overrides: Record<string, unknown> = {}) => ({
    architectures: ['BertForSequenceClassification'], model_type: 'bert', vocab_size: 13, hidden_size: 6, num_hidden_layers: 2,
    num_attention_heads: 2, intermediate_size: 5, hidden_act: 'gelu', max_position_embeddings: 8, type_vocab_size: 2,
    layer_norm_eps: 1e-12, num_labels: 3, ...overrides,
  });
  const writeCheckpoint = async (tensors: TensorMap, config: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'hf-bert-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    return dir;
  };

  it('loads a BertForSequenceClassification checkpoint (safetensors + config.json) with the same logits', async () => {
    const source = createBert(twoLayers, { seed: 5 });
    randomise(source, 50);
    const dir = await writeCheckpoint(await stateDict(source), hfConfig());
    const loaded = await loadHuggingFaceBert(dir);
    expect(loaded.arch).toEqual(twoLayers);
    expect(logitsOf(loaded)).toEqual(logitsOf(source));
    source.dispose();
    loaded.dispose();
  });

  it('loads a bare BertModel (no `bert.` prefix, TF-style gamma/beta, MLM head) and starts a fresh seeded classifier', async () => {
    const source = createBert(twoLayers, { seed: 6 });
    randomise(source, 60);
    const bare: TensorMap = new Map();
    for (const [name, t] of await stateDict(source)) {
      if (name.startsWith('classifier.')) continue;
      bare.set(name.replace(/^bert\./, '').replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'), t);
    }
    bare.set('cls.predictions.bias', { shape: [13], data: new Float32Array(13) });
    const dir = await writeCheckpoint(bare, hfConfig({ architectures: ['BertModel'], num_labels: undefined }));
    const messages: string[] = [];
    const loaded = await loadHuggingFaceBert(dir, { numLabels: 3, seed: 9, log: (m) => messages.push(m) });
    expect(messages.some((m) => /no usable classifier/.test(m))).toBe(true);
    expect(messages.some((m) => /ignoring 1 tensors/.test(m))).toBe(true);
    for (const [name, v] of source.params) {
      if (name.startsWith('classifier.')) continue;
      expect(Array.from(loaded.params.get(name)!.dataSync()), name).toEqual(Array.from(v.dataSync()));
    }
    const fresh = createBert(twoLayers, { seed: 9 });
    expect(Array.from(loaded.params.get('classifier.weight')!.dataSync())).toEqual(Array.from(fresh.params.get('classifier.weight')!.dataSync()));
    for (const m of [source, loaded, fresh]) m.dispose();
  });

  it('fails clearly on unsupported configs and incomplete checkpoints', async () => {
    const source = createBert(twoLayers, { seed: 7 });
    const tensors = await stateDict(source);
    await expect(loadHuggingFaceBert(await writeCheckpoint(tensors, hfConfig({ hidden_act: 'relu' })))).rejects.toThrow(/config\.json: "hidden_act" is "relu"/);
    await expect(loadHuggingFaceBert(await writeCheckpoint(tensors, hfConfig({ hidden_size: undefined })))).rejects.toThrow(/"hidden_size" must be a positive integer/);
    const partial = new Map(tensors);
    partial.delete('bert.encoder.layer.1.output.dense.weight');
    await expect(loadHuggingFaceBert(await writeCheckpoint(partial, hfConfig()))).rejects.toThrow(/model\.safetensors: missing 1 BERT tensors: bert\.encoder\.layer\.1\.output\.dense\.weight/);
    const empty = mkdtempSync(join(tmpdir(), 'hf-bert-'));
    dirs.push(empty);
    await expect(loadHuggingFaceBert(empty)).rejects.toThrow(/config\.json is missing/);
    source.dispose();
  });

  it('saves with the arch in the safetensors metadata', async () => {
    const model = createBert(oneLayer, { seed: 8 });
    const dir = mkdtempSync(join(tmpdir(), 'bert-save-'));
    dirs.push(dir);
    await saveSafetensors(join(dir, 'model.safetensors'), model);
    const file = await readSafetensorsFile(join(dir, 'model.safetensors'));
    expect(JSON.parse(file.metadata.arch)).toEqual(oneLayer);
    expect(file.tensors.get('classifier.weight')!.shape).toEqual([3, 6]); // PyTorch [out, in]
    model.dispose();
  });
});
