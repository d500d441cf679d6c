import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import type { ForwardOptions, LayerInputTap, Model, ParamKind } from '../types.js';
import { disposeCompiledTrainingSteps } from '../compiled-step-cache.js';
import { bertLayerPrefix, bertPoolerWidth, validateBertArch, type BertArch } from './arch.js';

/** BERT's initializer range: every linear and embedding weight ~ N(0, 0.02) (Hugging Face `initializer_range`). */
export const BERT_INIT_STD = 0.02;
/** Added to attention scores at padding positions (the original BERT's value; exp underflows to 0 either way). */
export const BERT_MASK_PENALTY = -10_000;
/** The [PAD] id of the uncased vocabulary; its word-embedding row starts at zero, as in Hugging Face's init. */
export const BERT_PAD_TOKEN_ID = 0;

/** The three token inputs, int32 [batch, seq]; `attention_mask` defaults to all ones, `token_type_ids` to zeros. */
export interface BertInputs {
  input_ids: tf.Tensor;
  attention_mask?: tf.Tensor;
  token_type_ids?: tf.Tensor;
}

/** What one forward pass can hand back besides the logits (see ModelStructure.forwardWithActivations). */
export interface BertForwardResult {
  logits: tf.Tensor;
  /** Pooled [CLS] representation [batch, hidden] (tanh of the pooler). */
  features: tf.Tensor;
  /**
   * Per requested group id: heads [batch, heads, seq, headDim] (context per head), neurons [batch, neurons, seq, 1]
   * (after GELU), `bert.hidden` [batch, hidden, seq, 1] (the last layer's output).
   */
  activations: Map<string, tf.Tensor>;
}

/** The names of one encoder layer's parameters (Hugging Face `BertLayer`). */
export function bertLayerParamNames(index: number) {
  const p = bertLayerPrefix(index);
  return {
    query: `${p}.attention.self.query`,
    key: `${p}.attention.self.key`,
    value: `${p}.attention.self.value`,
    attentionOut: `${p}.attention.output.dense`,
    attentionNorm: `${p}.attention.output.LayerNorm`,
    intermediate: `${p}.intermediate.dense`,
    output: `${p}.output.dense`,
    outputNorm: `${p}.output.LayerNorm`,
  };
}

/**
 * BERT for sequence classification with Hugging Face parameter names (`bert.embeddings.word_embeddings.weight`,
 * `bert.encoder.layer.N.attention.self.query.weight`, …, `bert.pooler.dense.*`, `classifier.*`): embeddings (word +
 * position + token type) → LayerNorm → post-LN encoder layers (self-attention, GELU (erf) FFN) → tanh pooler on [CLS]
 * → linear classifier. Linear weights are stored [in, out] (models convention), embeddings [rows, dim].
 *
 * No dropout, in training or not: the forward is a pure function of weights and inputs, so a resumed run and a fresh
 * one compute the same numbers, and every method sees the same function. (Hugging Face's BERT uses dropout 0.1; our
 * from-scratch recipe trains briefly enough that it matters little, and fine-tuning a real checkpoint without it is
 * a documented difference.)
 */
export class BertModel implements Model<BertArch> {
  readonly params = new Map<string, tf.Variable>();
  /** BERT has no running statistics. */
  readonly buffers = new Map<string, tf.Variable>();
  readonly paramKinds = new Map<string, ParamKind>();
  private disposed = false;

  constructor(readonly arch: BertArch, seed: number) {
    validateBertArch(arch);
    const rng = new SeededRng(seed);
    const normal = (name: string, shape: number[]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return tf.tensor(rng.fork(name).normalArray(size, BERT_INIT_STD), shape);
    };
    const linear = (prefix: string, inFeatures: number, outFeatures: number) => {
      this.addParam(`${prefix}.weight`, 'linear', normal(`${prefix}.weight`, [inFeatures, outFeatures]));
      this.addParam(`${prefix}.bias`, 'bias', tf.zeros([outFeatures]));
    };
    const layerNorm = (prefix: string) => {
      this.addParam(`${prefix}.weight`, 'norm-scale', tf.ones([arch.hidden]));
      this.addParam(`${prefix}.bias`, 'norm-shift', tf.zeros([arch.hidden]));
    };
    const h = arch.hidden;
    const words = rng.fork('bert.embeddings.word_embeddings.weight').normalArray(arch.vocabSize * h, BERT_INIT_STD);
    if (BERT_PAD_TOKEN_ID < arch.vocabSize) words.fill(0, BERT_PAD_TOKEN_ID * h, (BERT_PAD_TOKEN_ID + 1) * h);
    this.addParam('bert.embeddings.word_embeddings.weight', 'embedding', tf.tensor2d(words, [arch.vocabSize, h]));
    this.addParam('bert.embeddings.position_embeddings.weight', 'embedding', normal('bert.embeddings.position_embeddings.weight', [arch.maxPosition, h]));
    this.addParam('bert.embeddings.token_type_embeddings.weight', 'embedding', normal('bert.embeddings.token_type_embeddings.weight', [arch.typeVocabSize, h]));
    layerNorm('bert.embeddings.LayerNorm');
    arch.layers.forEach((layer, i) => {
      const n = bertLayerParamNames(i);
      const width = layer.heads * layer.headDim;
      linear(n.query, h, width);
      linear(n.key, h, width);
      linear(n.value, h, width);
      linear(n.attentionOut, width, h);
      layerNorm(n.attentionNorm);
      linear(n.intermediate, h, layer.intermediate);
      linear(n.output, layer.intermediate, h);
      layerNorm(n.outputNorm);
    });
    linear('bert.pooler.dense', h, bertPoolerWidth(arch));
    linear('classifier', bertPoolerWidth(arch), arch.numLabels);
  }

  private addParam(name: string, kind: ParamKind, value: tf.Tensor): void {
    this.params.set(name, tf.variable(value, true));
    this.paramKinds.set(name, kind);
    value.dispose();
  }

  private param(name: string): tf.Tensor {
    const p = this.params.get(name);
    if (!p) throw new Error(`bert: missing parameter ${name}`);
    return p;
  }

  forward(input: tf.Tensor | Record<string, tf.Tensor>, opts: ForwardOptions): tf.Tensor {
    const { logits, features } = this.run(input, opts.training, [], opts.tap);
    features.dispose();
    return logits;
  }

  /** The forward pass, also returning the pooled features and the activations of the named groups. */
  run(input: tf.Tensor | Record<string, tf.Tensor>, _training: boolean, groupIds: readonly string[], tap?: LayerInputTap): BertForwardResult {
    if (this.disposed) throw new Error('bert: forward on a disposed model');
    const inputs = checkBertInputs(input);
    const wanted = new Set(groupIds);
    const known = new Set([...this.arch.layers.flatMap((_, i) => [`${bertLayerPrefix(i)}.attention`, `${bertLayerPrefix(i)}.intermediate`]), 'bert.hidden']);
    for (const id of wanted) if (!known.has(id)) throw new Error(`bert: no channel group "${id}" (groups: ${[...known].join(', ')})`);
    const { arch } = this;
    const [batch, seq] = inputs.input_ids.shape as [number, number];
    if (seq > arch.maxPosition) throw new Error(`bert: sequence length ${seq} exceeds maxPosition ${arch.maxPosition}`);
    const captured: Record<string, tf.Tensor> = {};
    const out = tf.tidy(() => {
      const h = arch.hidden;
      const ids = tf.cast(inputs.input_ids, 'int32');
      const types = inputs.token_type_ids ? tf.cast(inputs.token_type_ids, 'int32') : tf.zeros([batch, seq], 'int32');
      const mask = inputs.attention_mask ? tf.cast(inputs.attention_mask, 'float32') : tf.ones([batch, seq]);
      // Rows of the [batch * seq, ·] activations are tokens; padded ones are marked for calibration taps.
      const tokenRows = tap ? tf.reshape(mask, [batch * seq]) : undefined;
      const linear = (x: tf.Tensor, prefix: string, rows: 'tokens' | 'examples' = 'tokens') => {
        tap?.({ weight: `${prefix}.weight`, input: x, rowMask: rows === 'tokens' ? tokenRows : undefined });
        return tf.add(tf.matMul(x as tf.Tensor2D, this.param(`${prefix}.weight`) as tf.Tensor2D), this.param(`${prefix}.bias`));
      };
      // statistics over layerNormWidth channels, the ones beyond hidden counting as zeros (see BertArch.layerNormWidth)
      const normWidth = arch.layerNormWidth ?? h;
      const layerNorm = (x: tf.Tensor, prefix: string) => {
        const mean = normWidth === h ? tf.mean(x, -1, true) : tf.div(tf.sum(x, -1, true), normWidth);
        const centered = tf.sub(x, mean);
        const variance = normWidth === h
          ? tf.mean(tf.square(centered), -1, true)
          : tf.div(tf.add(tf.sum(tf.square(centered), -1, true), tf.mul(tf.square(mean), normWidth - h)), normWidth);
        const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, arch.layerNormEps)));
        return tf.add(tf.mul(normed, this.param(`${prefix}.weight`)), this.param(`${prefix}.bias`));
      };
      const words = tf.gather(this.param('bert.embeddings.word_embeddings.weight'), tf.reshape(ids, [-1]));
      const positions = tf.gather(this.param('bert.embeddings.position_embeddings.weight'), tf.range(0, seq, 1, 'int32'));
      const typeRows = tf.gather(this.param('bert.embeddings.token_type_embeddings.weight'), tf.reshape(types, [-1]));
      const embedded = tf.add(tf.reshape(tf.add(words, typeRows), [batch, seq, h]), positions);
      // [batch * seq, hidden] throughout, so every linear layer is one plain 2-D matmul.
      let x = layerNorm(tf.reshape(embedded, [batch * seq, h]), 'bert.embeddings.LayerNorm');
      const maskPenalty = tf.reshape(tf.mul(tf.sub(1, mask), BERT_MASK_PENALTY), [batch, 1, 1, seq]);
      arch.layers.forEach((layer, i) => {
        const n = bertLayerParamNames(i);
        const { heads, headDim } = layer;
        const split = (t: tf.Tensor, perm: number[]) => tf.transpose(tf.reshape(t, [batch, seq, heads, headDim]), perm);
        const q = split(linear(x, n.query), [0, 2, 1, 3]); // [b, heads, seq, d]
        const kT = split(linear(x, n.key), [0, 2, 3, 1]); // [b, heads, d, seq]
        const v = split(linear(x, n.value), [0, 2, 1, 3]);
        const scores = tf.add(tf.mul(tf.matMul(q, kT), 1 / Math.sqrt(headDim)), maskPenalty);
        const context = tf.matMul(tf.softmax(scores), v); // [b, heads, seq, d]
        const attentionId = `${bertLayerPrefix(i)}.attention`;
        if (wanted.has(attentionId)) captured[attentionId] = context;
        const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch * seq, heads * headDim]);
        x = layerNorm(tf.add(linear(merged, n.attentionOut), x), n.attentionNorm);
        const inner = gelu(linear(x, n.intermediate)); // [b * seq, intermediate]
        const intermediateId = `${bertLayerPrefix(i)}.intermediate`;
        if (wanted.has(intermediateId)) {
          captured[intermediateId] = tf.reshape(tf.transpose(tf.reshape(inner, [batch, seq, layer.intermediate]), [0, 2, 1]), [batch, layer.intermediate, seq, 1]);
        }
        x = layerNorm(tf.add(linear(inner, n.output), x), n.outputNorm);
      });
      // the hidden size (coupled group `bert.hidden`): the final encoder output, [batch, hidden, seq, 1]
      if (wanted.has('bert.hidden')) captured['bert.hidden'] = tf.reshape(tf.transpose(tf.reshape(x, [batch, seq, h]), [0, 2, 1]), [batch, h, seq, 1]);
      const cls = tf.reshape(tf.slice(tf.reshape(x, [batch, seq, h]), [0, 0, 0], [batch, 1, h]), [batch, h]);
      const features = tf.tanh(linear(cls, 'bert.pooler.dense', 'examples'));
      const logits = linear(features, 'classifier', 'examples');
      return { logits, features, captured: groupIds.filter((id) => wanted.has(id)).map((id) => captured[id]) };
    });
    const activations = new Map<string, tf.Tensor>();
    [...new Set(groupIds)].forEach((id, k) => activations.set(id, out.captured[k]));
    return { logits: out.logits, features: out.features, activations };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void disposeCompiledTrainingSteps(this);
    for (const v of this.params.values()) v.dispose();
  }
}

/** GELU, exact (erf) form as BERT: x · Φ(x) = 0.5 · x · (1 + erf(x / √2)). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

function checkBertInputs(input: tf.Tensor | Record<string, tf.Tensor>): BertInputs {
  if (input instanceof tf.Tensor) return checkBertInputs({ input_ids: input });
  const ids = input.input_ids;
  if (!(ids instanceof tf.Tensor) || ids.rank !== 2) {
    throw new Error(`bert: input_ids must be an int32 tensor [batch, seq], got ${ids instanceof tf.Tensor ? `shape [${ids.shape}]` : String(ids)}`);
  }
  for (const key of ['attention_mask', 'token_type_ids'] as const) {
    const t = input[key];
    if (t !== undefined && (!(t instanceof tf.Tensor) || t.shape.join() !== ids.shape.join())) {
      throw new Error(`bert: ${key} must have the shape of input_ids [${ids.shape}]`);
    }
  }
  return { input_ids: ids, attention_mask: input.attention_mask, token_type_ids: input.token_type_ids };
}

/** A fresh BERT with BERT's initialisation (N(0, 0.02) weights, zero biases, unit LayerNorms); same seed, same weights. */
export function createBert(arch: BertArch, options: { seed?: number } = {}): BertModel {
  return new BertModel(structuredClone(validateBertArch(arch)), options.seed ?? 0);
}
