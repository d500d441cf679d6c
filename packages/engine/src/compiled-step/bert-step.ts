/// <reference types="@webgpu/types" />
/**
 * A compiled training step for BERT sequence classification (@prunebench/models' BertModel) on tfjs's webgpu
 * backend (issue 16, design b), with prunebench's masked AdamW (or SGD) fused in.
 *
 * Built once per network shape (layers with their heads, head size and FFN width, hidden size, tables, pooler,
 * labels) and batch × sequence length: pipelines, activation and gradient buffers, bind groups. A step is one
 * command encoder — the inputs copied into the step's index buffer, one compute pass, the loss copied out — and one
 * submit. Parameters stay the model's tf.Variables, written in place (as CompiledResNetCifarStep). The math is
 * BertModel's forward (no dropout; post-LN layers; GELU in the erf form with tfjs's erf; the attention mask's
 * additive −10000; LayerNorm over `layerNormWidth`), softmax cross-entropy averaged over the batch, and
 * MaskedAdamW's update (decoupled decay on linear weights and embedding tables — ADAMW_DECAYED_KINDS — not on
 * biases or LayerNorms; pruned entries get no gradient or moments and are +0 after every step).
 *
 * The word-embedding gradient is deterministic: a kernel links each token to the next token with the same id
 * (first-token table by atomicMax on integers, next-token by a scan), and the update kernel sums each vocabulary
 * row's gradient along its list in token order — no float atomics, the same bits every run.
 *
 * Dispatches per step: 2 for the embeddings (token lists; gather + LayerNorm), 9 per layer forward (QKV, scores,
 * softmax, context, output + residual, LN, FFN in + GELU, FFN out + residual, LN), 2 for pooler/classifier/loss,
 * 17 per layer backward (LN rows, LN γ/β, FFN-out input grad × GELU′, its weight grad, FFN-in input grad +
 * residual, its weight grad, LN rows, LN γ/β, attention-out input grad, its weight grad, dP, softmax backward,
 * dQ/dK/dV, QKV input grad + residual, Q/K/V weight grads), 3 for the embeddings' backward (LN rows, LN γ/β, the
 * tables). BERT-mini: 4 + 26·4 + 3 = 111.
 */
import * as tf from '@tensorflow/tfjs';
import {
  attentionContext, attentionProbGrad, attentionQkvGrad, attentionScores, bertHeadBackward, bertHeadForward,
  bertHeadLayout, bertIndexLayout, denseForward, denseInputGrad, denseWeightGrad, embeddingForward,
  embeddingTokenLists, embeddingUpdate, layerNormBackward, layerNormForward, layerNormParams, normFloats, qkvForward,
  qkvInputGrad, softmaxBackwardRows, softmaxRows, type BertLayerDims, type BertStepDims, type LayerNormShape,
} from './bert-wgsl.js';
import type { CompiledOptimizer } from './wgsl.js';
import type { CompiledStepSettings, CompiledStepVariables } from './resnet-cifar-step.js';
import { CompiledStepBase, compiled, type StepRef } from './step-base.js';

/** One encoder layer (BertArch's layer spec). */
export interface BertNetLayer {
  heads: number;
  headDim: number;
  intermediate: number;
}

/** The network, from a BertArch: `{ ...arch, pooler: bertPoolerWidth(arch), layerNormWidth: arch.layerNormWidth ?? arch.hidden }`. */
export interface BertNet {
  vocabSize: number;
  hidden: number;
  maxPosition: number;
  typeVocabSize: number;
  layerNormEps: number;
  layerNormWidth: number;
  numLabels: number;
  pooler: number;
  layers: readonly BertNetLayer[];
}

export interface BertStepShape {
  batch: number;
  seq: number;
}

export interface CompileBertOptions {
  /** The optimizer fused into the update kernels (default 'adamw', BERT's). */
  optimizer?: CompiledOptimizer;
  /** Another compiled step of the same network (another batch shape) whose optimizer state this one uses. It must outlive this one. */
  shareStateWith?: CompiledBertStep;
}

/** Hugging Face parameter names of encoder layer i (BertModel's `bertLayerParamNames`). */
function layerNames(i: number) {
  const p = `bert.encoder.layer.${i}`;
  return {
    query: `${p}.attention.self.query`, key: `${p}.attention.self.key`, value: `${p}.attention.self.value`,
    attentionOut: `${p}.attention.output.dense`, attentionNorm: `${p}.attention.output.LayerNorm`,
    intermediate: `${p}.intermediate.dense`, output: `${p}.output.dense`, outputNorm: `${p}.output.LayerNorm`,
  };
}

/** Returns the compiled step for this network and shape, or throws where a parameter is missing or misshapen. */
export async function compileBertStep(net: BertNet, variables: CompiledStepVariables, shape: BertStepShape, options: CompileBertOptions = {}): Promise<CompiledBertStep> {
  return compiled(new CompiledBertStep(net, variables, shape, options));
}

export class CompiledBertStep extends CompiledStepBase {
  private readonly index: GPUBuffer;
  private readonly headScratch: GPUBuffer;
  private readonly meanLossOffset: number;
  private readonly layout: ReturnType<typeof bertIndexLayout>;
  /** Whether the last step had an attention mask / token types (else the buffers hold ones / zeros already). */
  private lastHad = { mask: null as boolean | null, types: null as boolean | null, maskIsFloat: -1 };

  constructor(readonly net: BertNet, variables: CompiledStepVariables, readonly shape: BertStepShape, options: CompileBertOptions = {}) {
    super(variables, options.optimizer ?? 'adamw');
    const { batch, seq } = shape;
    for (const [k, v] of Object.entries(shape)) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`compiled BERT step: shape.${k} must be a positive integer, got ${v}`);
    }
    if (seq > net.maxPosition) throw new Error(`compiled BERT step: sequence length ${seq} exceeds maxPosition ${net.maxPosition}`);
    if (net.layerNormWidth < net.hidden) throw new Error(`compiled BERT step: layerNormWidth (${net.layerNormWidth}) must be at least hidden (${net.hidden})`);
    const dims: BertStepDims = { batch, seq, hidden: net.hidden };
    this.layout = bertIndexLayout(dims, net.vocabSize);
    this.index = this.buffer(this.layout.size * 4);
    const head = bertHeadLayout(dims, { pooler: net.pooler, labels: net.numLabels });
    this.headScratch = this.buffer(head.size * 4);
    this.meanLossOffset = head.meanLoss;
    this.plan(dims);
    this.allocateState(options.shareStateWith);
  }

  private plan(dims: BertStepDims): void {
    const { net } = this;
    const { batch, seq, hidden: H } = dims;
    const T = batch * seq;
    const ln: LayerNormShape = { rows: T, hidden: H, normWidth: net.layerNormWidth, eps: net.layerNormEps };
    const own = (buffer: GPUBuffer): StepRef => ({ own: buffer });
    const v = (name: string): StepRef => ({ variable: name });
    const V = (first: string): StepRef => ({ state: 'velocity', name: first });
    const M = (first: string): StepRef => ({ state: 'mask', name: first });
    const hyper: StepRef = { hyper: true };
    const opt = this.optimizer;
    const act = (floats: number) => this.buffer(floats * 4);
    const linear = (prefix: string, inF: number, outF: number) => {
      this.expect(`${prefix}.weight`, [inF, outF]);
      this.expect(`${prefix}.bias`, [outF]);
      const [, biasOffset] = this.stateGroup([`${prefix}.weight`, `${prefix}.bias`]);
      return { w: `${prefix}.weight`, b: `${prefix}.bias`, biasOffset: biasOffset! };
    };
    const norm = (prefix: string) => {
      this.expect(`${prefix}.weight`, [H]);
      this.expect(`${prefix}.bias`, [H]);
      const [, betaOffset] = this.stateGroup([`${prefix}.weight`, `${prefix}.bias`]);
      return { g: `${prefix}.weight`, b: `${prefix}.bias`, betaOffset: betaOffset! };
    };

    // embeddings
    const e = { vocab: net.vocabSize, maxPosition: net.maxPosition, typeVocab: net.typeVocabSize };
    const word = 'bert.embeddings.word_embeddings.weight', position = 'bert.embeddings.position_embeddings.weight', type = 'bert.embeddings.token_type_embeddings.weight';
    this.expect(word, [e.vocab, H]);
    this.expect(position, [e.maxPosition, H]);
    this.expect(type, [e.typeVocab, H]);
    const [, positionOffset, typeOffset] = this.stateGroup([word, position, type]);
    const embNorm = norm('bert.embeddings.LayerNorm');
    const x0 = act(T * H), norm0 = act(normFloats(ln));
    this.dispatch(embeddingTokenLists(dims, e.vocab), [own(this.index)]);
    this.dispatch(embeddingForward(dims, e, net.layerNormWidth, net.layerNormEps), [
      own(this.index), v(word), v(position), v(type), v(embNorm.g), v(embNorm.b), own(x0), own(norm0),
    ]);

    // encoder forward; per layer what its backward reads
    const maxA = Math.max(1, ...net.layers.map((l) => l.heads * l.headDim));
    const maxF = Math.max(1, ...net.layers.map((l) => l.intermediate));
    const maxP = Math.max(1, ...net.layers.map((l) => batch * l.heads * seq * seq));
    const y = act(T * H);
    interface LayerPlan {
      dims: BertLayerDims; n: ReturnType<typeof layerNames>; input: GPUBuffer; qkv: GPUBuffer; probs: GPUBuffer; ctx: GPUBuffer;
      x1: GPUBuffer; norm1: GPUBuffer; u: GPUBuffer; g: GPUBuffer; norm2: GPUBuffer;
      q: ReturnType<typeof linear>; k: ReturnType<typeof linear>; val: ReturnType<typeof linear>; o: ReturnType<typeof linear>;
      ln1: ReturnType<typeof norm>; f1: ReturnType<typeof linear>; f2: ReturnType<typeof linear>; ln2: ReturnType<typeof norm>;
    }
    const layers: LayerPlan[] = [];
    let x = x0;
    net.layers.forEach((layer, i) => {
      const n = layerNames(i);
      const l: BertLayerDims = { ...dims, heads: layer.heads, headDim: layer.headDim, intermediate: layer.intermediate };
      const A = layer.heads * layer.headDim, F = layer.intermediate;
      const q = linear(n.query, H, A), k = linear(n.key, H, A), val = linear(n.value, H, A), o = linear(n.attentionOut, A, H);
      const ln1 = norm(n.attentionNorm);
      const f1 = linear(n.intermediate, H, F), f2 = linear(n.output, F, H);
      const ln2 = norm(n.outputNorm);
      const plan: LayerPlan = {
        dims: l, n, input: x, qkv: act(T * 3 * A), probs: act(batch * layer.heads * seq * seq), ctx: act(T * A),
        x1: act(T * H), norm1: act(normFloats(ln)), u: act(T * F), g: act(T * F), norm2: act(normFloats(ln)),
        q, k, val, o, ln1, f1, f2, ln2,
      };
      const out = act(T * H);
      this.dispatch(qkvForward(l), [own(x), v(q.w), v(k.w), v(val.w), v(q.b), v(k.b), v(val.b), own(plan.qkv)]);
      this.dispatch(attentionScores(l, e.vocab), [own(plan.qkv), own(this.index), own(plan.probs)]);
      this.dispatch(softmaxRows(batch * layer.heads * seq, seq), [own(plan.probs)]);
      this.dispatch(attentionContext(l), [own(plan.probs), own(plan.qkv), own(plan.ctx)]);
      this.dispatch(denseForward(T, A, H, 'bias+residual'), [own(plan.ctx), v(o.w), v(o.b), own(x), own(y)]);
      this.dispatch(layerNormForward(ln), [own(y), v(ln1.g), v(ln1.b), own(plan.x1), own(plan.norm1)]);
      this.dispatch(denseForward(T, H, F, 'bias+gelu'), [own(plan.x1), v(f1.w), v(f1.b), own(plan.u), own(plan.g)]);
      this.dispatch(denseForward(T, F, H, 'bias+residual'), [own(plan.g), v(f2.w), v(f2.b), own(plan.x1), own(y)]);
      this.dispatch(layerNormForward(ln), [own(y), v(ln2.g), v(ln2.b), own(out), own(plan.norm2)]);
      layers.push(plan);
      x = out;
    });

    // pooler, classifier, loss; the gradient at the last layer's output
    const headShape = { pooler: net.pooler, labels: net.numLabels };
    // one state group for the four, bound once by the head's update kernel
    const pooler = { w: 'bert.pooler.dense.weight', b: 'bert.pooler.dense.bias' }, classifier = { w: 'classifier.weight', b: 'classifier.bias' };
    this.expect(pooler.w, [H, net.pooler]);
    this.expect(pooler.b, [net.pooler]);
    this.expect(classifier.w, [net.pooler, net.numLabels]);
    this.expect(classifier.b, [net.numLabels]);
    const [, poolerBias, classifierWeight, classifierBias] = this.stateGroup([pooler.w, pooler.b, classifier.w, classifier.b]);
    const headOffsets = { poolerBias: poolerBias!, classifierWeight: classifierWeight!, classifierBias: classifierBias! };
    let gx = act(T * H), gnext = act(T * H);
    this.dispatch(bertHeadForward(dims, headShape, e.vocab), [
      own(x), v(pooler.w), v(pooler.b), v(classifier.w), v(classifier.b), own(this.index), own(this.headScratch), own(gx),
    ]);
    this.dispatch(bertHeadBackward(dims, headShape, headOffsets, opt), [
      own(this.headScratch), own(x), v(pooler.w), v(pooler.b), v(classifier.w), v(classifier.b), V(pooler.w), M(pooler.w), hyper,
    ]);

    // encoder backward
    const gy = act(T * H), gx1 = act(T * H), du = act(T * maxF), dctx = act(T * maxA), dprobs = act(maxP), dqkv = act(T * 3 * maxA);
    for (const p of [...layers].reverse()) {
      const { dims: l } = p;
      const A = l.heads * l.headDim, F = l.intermediate;
      this.dispatch(layerNormBackward(ln), [own(gx), own(p.norm2), v(p.ln2.g), own(gy)]);
      this.dispatch(layerNormParams(ln, p.ln2.betaOffset, opt), [own(gx), own(p.norm2), v(p.ln2.g), v(p.ln2.b), V(p.ln2.g), M(p.ln2.g), hyper]);
      this.dispatch(denseInputGrad(T, F, H, 'gelu'), [own(gy), v(p.f2.w), own(p.u), own(du)]);
      this.dispatch(denseWeightGrad(T, F, H, { stride: H, offset: 0 }, p.f2.biasOffset, opt), [own(p.g), own(gy), v(p.f2.w), v(p.f2.b), V(p.f2.w), M(p.f2.w), hyper]);
      this.dispatch(denseInputGrad(T, H, F, 'residual'), [own(du), v(p.f1.w), own(gy), own(gx1)]);
      this.dispatch(denseWeightGrad(T, H, F, { stride: F, offset: 0 }, p.f1.biasOffset, opt), [own(p.x1), own(du), v(p.f1.w), v(p.f1.b), V(p.f1.w), M(p.f1.w), hyper]);
      this.dispatch(layerNormBackward(ln), [own(gx1), own(p.norm1), v(p.ln1.g), own(gy)]);
      this.dispatch(layerNormParams(ln, p.ln1.betaOffset, opt), [own(gx1), own(p.norm1), v(p.ln1.g), v(p.ln1.b), V(p.ln1.g), M(p.ln1.g), hyper]);
      this.dispatch(denseInputGrad(T, A, H, 'plain'), [own(gy), v(p.o.w), own(dctx)]);
      this.dispatch(denseWeightGrad(T, A, H, { stride: H, offset: 0 }, p.o.biasOffset, opt), [own(p.ctx), own(gy), v(p.o.w), v(p.o.b), V(p.o.w), M(p.o.w), hyper]);
      this.dispatch(attentionProbGrad(l), [own(dctx), own(p.qkv), own(dprobs)]);
      this.dispatch(softmaxBackwardRows(batch * l.heads * seq, seq, 1 / Math.sqrt(l.headDim)), [own(p.probs), own(dprobs)]);
      this.dispatch(attentionQkvGrad(l), [own(dprobs), own(p.probs), own(p.qkv), own(dctx), own(dqkv)]);
      this.dispatch(qkvInputGrad(l), [own(dqkv), v(p.q.w), v(p.k.w), v(p.val.w), own(gy), own(gnext)]);
      for (const [part, lin] of [p.q, p.k, p.val].entries()) {
        this.dispatch(denseWeightGrad(T, H, A, { stride: 3 * A, offset: part * A }, lin.biasOffset, opt), [own(p.input), own(dqkv), v(lin.w), v(lin.b), V(lin.w), M(lin.w), hyper]);
      }
      [gx, gnext] = [gnext, gx];
    }

    // embeddings backward
    this.dispatch(layerNormBackward(ln), [own(gx), own(norm0), v(embNorm.g), own(gy)]);
    this.dispatch(layerNormParams(ln, embNorm.betaOffset, opt), [own(gx), own(norm0), v(embNorm.g), v(embNorm.b), V(embNorm.g), M(embNorm.g), hyper]);
    this.dispatch(embeddingUpdate(dims, e, { position: positionOffset!, type: typeOffset! }, opt), [
      own(gy), own(this.index), v(word), v(position), v(type), V(word), M(word), hyper,
    ]);
  }

  /**
   * One training step: `inputs` as BertModel takes them (input_ids int32 [batch, seq], optional attention_mask and
   * token_type_ids of that shape, or input_ids alone), labels int [batch]. Resolves to the batch's mean loss before
   * the update.
   */
  step(inputs: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor, settings: CompiledStepSettings): Promise<number> {
    if (this.disposed) throw new Error('compiled BERT step: used after dispose()');
    const t0 = performance.now();
    const named = inputs instanceof tf.Tensor ? { input_ids: inputs } : inputs;
    const { batch, seq } = this.shape;
    const ids = named.input_ids;
    const shapeOk = (t: tf.Tensor | undefined) => t === undefined || (t instanceof tf.Tensor && t.shape.join() === [batch, seq].join());
    if (!(ids instanceof tf.Tensor) || !shapeOk(ids)) {
      throw new Error(`compiled BERT step: input_ids must be a tensor [${batch}, ${seq}], got ${ids instanceof tf.Tensor ? `[${ids.shape}]` : String(ids)}`);
    }
    for (const key of ['attention_mask', 'token_type_ids'] as const) {
      if (!shapeOk(named[key])) throw new Error(`compiled BERT step: ${key} must have the shape of input_ids [${batch}, ${seq}]`);
    }
    if (labels.shape.join() !== String(batch)) throw new Error(`compiled BERT step: labels must be [${batch}], got [${labels.shape}]`);
    const temporaries: tf.Tensor[] = [];
    const as = (t: tf.Tensor, dtype: 'int32' | 'float32') => {
      if (t.dtype === dtype) return t;
      const cast = tf.cast(t, dtype);
      temporaries.push(cast);
      return cast;
    };
    const T = batch * seq, L = this.layout;
    const idsData = this.inputBuffer(as(ids, 'int32'));
    const labelData = this.inputBuffer(as(labels, 'int32'));
    // the mask's words as they are (float32 or int32 bits, said in the maskIsFloat word); ones when there is none
    const maskData = named.attention_mask ? this.inputData(named.attention_mask) : null;
    const maskIsFloat = maskData?.dtype === 'float32' ? 1 : 0;
    if (maskData && maskData.dtype !== 'float32' && maskData.dtype !== 'int32' && maskData.dtype !== 'bool') {
      throw new Error(`compiled BERT step: attention_mask must be float32, int32 or bool, got ${maskData.dtype}`);
    }
    if (!maskData && this.lastHad.mask !== false) this.device.queue.writeBuffer(this.index, L.mask * 4, new Int32Array(T).fill(1));
    this.lastHad.mask = maskData !== null;
    if (maskIsFloat !== this.lastHad.maskIsFloat) this.device.queue.writeBuffer(this.index, L.maskIsFloat * 4, Uint32Array.of(maskIsFloat));
    this.lastHad.maskIsFloat = maskIsFloat;
    const mask = maskData?.resource ?? null;
    const types = named.token_type_ids ? this.inputBuffer(as(named.token_type_ids, 'int32')) : null;
    const hadTypes = this.lastHad.types;
    this.lastHad.types = types !== null;
    try {
      return this.run(settings, (encoder) => {
        encoder.copyBufferToBuffer(idsData, 0, this.index, L.ids * 4, T * 4);
        encoder.copyBufferToBuffer(labelData, 0, this.index, L.labels * 4, batch * 4);
        if (types) encoder.copyBufferToBuffer(types, 0, this.index, L.types * 4, T * 4);
        else if (hadTypes !== false) encoder.clearBuffer(this.index, L.types * 4, T * 4);
        if (mask) encoder.copyBufferToBuffer(mask, 0, this.index, L.mask * 4, T * 4);
        encoder.clearBuffer(this.index, L.first * 4, this.net.vocabSize * 4);
        return temporaries;
      }, { buffer: this.headScratch, offset: this.meanLossOffset }, t0);
    } catch (error) {
      tf.dispose(temporaries);
      throw error;
    }
  }
}
