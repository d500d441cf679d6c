/**
 * ONNX export of the BERT family (sequence classification).
 *
 * Graph contract (Hugging Face's convention, so the file runs like an exported `BertForSequenceClassification`):
 *   inputs  `input_ids`, `attention_mask`, `token_type_ids`: int64 [N, S] (ORT's Gather takes int32 or int64
 *           indices; int64 is what Hugging Face exports and tokenizers emit). N and S are symbolic (`N`, `S`), or N
 *           is fixed by `batch`; S ≤ maxPosition.
 *   output  `logits` float32 [N, numLabels].
 * Opset ≥ 17 (LayerNormalization); GELU is written in its erf form (Erf, Mul, Add) so it runs on every opset.
 * Sizes come from the arch, per layer, so a structurally pruned model exports physically smaller; masked weights
 * (unstructured) export dense with zeros.
 */
import type { Model } from '../types.js';
import { validateBertArch, type BertArch } from '../bert/arch.js';
import { BERT_MASK_PENALTY, bertLayerParamNames } from '../bert/model.js';
import { registerOnnxExporter, type ResolvedOnnxExportOptions } from './export.js';
import { OnnxGraphBuilder, floatAttr, intAttr, intsAttr, stringAttr } from './graph-builder.js';
import { OnnxDataType, encodeModel, irVersionForOpset } from './onnx-proto.js';
import { expectShape, readParamValues } from './tensor-data.js';

const CONTEXT = 'exportOnnx(bert)';

class BertGraph {
  readonly g = new OnnxGraphBuilder('bert');
  private constants = 0;
  constructor(private readonly model: Model, private readonly opts: ResolvedOnnxExportOptions) {}

  private param(name: string, shape: number[]): string {
    const values = readParamValues(this.opts.values, name, CONTEXT);
    expectShape(values, shape, CONTEXT);
    return this.g.addFloat(name, values.shape, values.data);
  }

  private scalar(value: number): string {
    return this.g.addFloat(`const_${this.constants++}`, [], Float32Array.of(value));
  }

  private ints(values: number[]): string {
    return this.g.addInt64(`const_${this.constants++}`, values);
  }

  /** x @ W + b with W internal [in, out] (MatMul broadcasts over the leading [N, S] axes). */
  linear(x: string, prefix: string, inFeatures: number, outFeatures: number): string {
    const w = this.param(`${prefix}.weight`, [inFeatures, outFeatures]);
    const b = this.param(`${prefix}.bias`, [outFeatures]);
    return this.g.node('Add', `${prefix}.add_bias`, [this.g.node('MatMul', prefix, [x, w]), b]);
  }

  layerNorm(x: string, prefix: string, hidden: number, eps: number, width = hidden): string {
    if (width === hidden) {
      const scale = this.param(`${prefix}.weight`, [hidden]);
      const shift = this.param(`${prefix}.bias`, [hidden]);
      return this.g.node('LayerNormalization', prefix, [x, scale, shift], [intAttr('axis', -1), floatAttr('epsilon', eps)]);
    }
    // BertArch.layerNormWidth: a LayerNorm over the input padded with width − hidden zero channels, sliced back
    const scale = this.g.addFloat(`${prefix}.weight.padded`, [width], padded(readParamValues(this.opts.values, `${prefix}.weight`, CONTEXT).data, width));
    const shift = this.g.addFloat(`${prefix}.bias.padded`, [width], padded(readParamValues(this.opts.values, `${prefix}.bias`, CONTEXT).data, width));
    const pads = this.ints([0, 0, 0, 0, 0, width - hidden]);
    const wide = this.g.node('Pad', `${prefix}.pad`, [x, pads], [stringAttr('mode', 'constant')]);
    const normed = this.g.node('LayerNormalization', prefix, [wide, scale, shift], [intAttr('axis', -1), floatAttr('epsilon', eps)]);
    return this.g.node('Slice', `${prefix}.slice`, [normed, this.ints([0]), this.ints([hidden]), this.ints([2])]);
  }

  build(arch: BertArch): Uint8Array {
    const { opset, batch } = this.opts;
    if (opset < 17) throw new Error(`${CONTEXT}: needs opset >= 17 (LayerNormalization), got ${opset}`);
    const h = arch.hidden;
    const g = this.g;
    const words = g.node('Gather', 'bert.embeddings.word_embeddings', [this.param('bert.embeddings.word_embeddings.weight', [arch.vocabSize, h]), 'input_ids']);
    const types = g.node('Gather', 'bert.embeddings.token_type_embeddings', [
      this.param('bert.embeddings.token_type_embeddings.weight', [arch.typeVocabSize, h]), 'token_type_ids',
    ]);
    // positions 0..S-1: the first S rows of the position table
    const seqLength = g.node('Shape', 'bert.embeddings.seq_length', ['input_ids'], [intAttr('start', 1), intAttr('end', 2)]);
    const positions = g.node('Slice', 'bert.embeddings.position_embeddings', [
      this.param('bert.embeddings.position_embeddings.weight', [arch.maxPosition, h]), this.ints([0]), seqLength, this.ints([0]),
    ]);
    const summed = g.node('Add', 'bert.embeddings.add_position', [g.node('Add', 'bert.embeddings.add_type', [words, types]), positions]);
    let x = this.layerNorm(summed, 'bert.embeddings.LayerNorm', h, arch.layerNormEps, arch.layerNormWidth);

    // (1 − mask) · penalty, [N, 1, 1, S], added to every head's scores
    const maskFloat = g.node('Cast', 'bert.mask.cast', ['attention_mask'], [intAttr('to', OnnxDataType.FLOAT)]);
    const inverted = g.node('Sub', 'bert.mask.invert', [this.scalar(1), maskFloat]);
    const penalty = g.node('Unsqueeze', 'bert.mask.unsqueeze', [g.node('Mul', 'bert.mask.penalty', [inverted, this.scalar(BERT_MASK_PENALTY)]), this.ints([1, 2])]);

    arch.layers.forEach((layer, i) => {
      const n = bertLayerParamNames(i);
      const { heads, headDim } = layer;
      const width = heads * headDim;
      const headShape = this.ints([0, 0, heads, headDim]);
      const split = (t: string, name: string, perm: number[]) =>
        g.node('Transpose', `${name}.transpose`, [g.node('Reshape', `${name}.reshape`, [t, headShape])], [intsAttr('perm', perm)]);
      const q = split(this.linear(x, n.query, h, width), n.query, [0, 2, 1, 3]);
      const kT = split(this.linear(x, n.key, h, width), n.key, [0, 2, 3, 1]);
      const v = split(this.linear(x, n.value, h, width), n.value, [0, 2, 1, 3]);
      const prefix = `bert.encoder.layer.${i}.attention.self`;
      const scores = g.node('Mul', `${prefix}.scale`, [g.node('MatMul', `${prefix}.scores`, [q, kT]), this.scalar(1 / Math.sqrt(headDim))]);
      const probs = g.node('Softmax', `${prefix}.softmax`, [g.node('Add', `${prefix}.mask`, [scores, penalty])], [intAttr('axis', -1)]);
      const context = g.node('MatMul', `${prefix}.context`, [probs, v]);
      const merged = g.node('Reshape', `${prefix}.merge`, [
        g.node('Transpose', `${prefix}.context.transpose`, [context], [intsAttr('perm', [0, 2, 1, 3])]), this.ints([0, 0, width]),
      ]);
      const attention = g.node('Add', `${n.attentionOut}.residual`, [this.linear(merged, n.attentionOut, width, h), x]);
      x = this.layerNorm(attention, n.attentionNorm, h, arch.layerNormEps, arch.layerNormWidth);
      const inner = this.linear(x, n.intermediate, h, layer.intermediate);
      // GELU, erf form: 0.5 · x · (1 + erf(x / √2))
      const erf = g.node('Erf', `${n.intermediate}.gelu.erf`, [g.node('Mul', `${n.intermediate}.gelu.scale`, [inner, this.scalar(Math.SQRT1_2)])]);
      const gelu = g.node('Mul', `${n.intermediate}.gelu`, [
        g.node('Mul', `${n.intermediate}.gelu.half`, [inner, this.scalar(0.5)]), g.node('Add', `${n.intermediate}.gelu.one_plus`, [erf, this.scalar(1)]),
      ]);
      const ffn = g.node('Add', `${n.output}.residual`, [this.linear(gelu, n.output, layer.intermediate, h), x]);
      x = this.layerNorm(ffn, n.outputNorm, h, arch.layerNormEps, arch.layerNormWidth);
    });

    const cls = g.node('Gather', 'bert.pooler.cls', [x, this.ints([0])], [intAttr('axis', 1)]);
    const clsFlat = g.node('Reshape', 'bert.pooler.flatten', [cls, this.ints([-1, h])]);
    const poolerWidth = arch.pooler ?? h;
    const pooled = g.node('Tanh', 'bert.pooler.tanh', [this.linear(clsFlat, 'bert.pooler.dense', h, poolerWidth)]);
    const logits = this.linear(pooled, 'classifier', poolerWidth, arch.numLabels);
    g.node('Identity', 'logits', [logits], [], 'logits');

    const nDim = batch === 'dynamic' ? 'N' : batch;
    const graph = g.build(
      ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, elemType: OnnxDataType.INT64, shape: [nDim, 'S'] })),
      [{ name: 'logits', elemType: OnnxDataType.FLOAT, shape: [nDim, arch.numLabels] }],
    );
    return encodeModel({
      irVersion: irVersionForOpset(opset),
      opsetVersion: opset,
      producerName: 'prunebench',
      docString: 'BERT for sequence classification. inputs: input_ids, attention_mask, token_type_ids int64 [N,S]; output: logits [N,labels].',
      graph,
    });
  }
}

export function exportBertOnnx(model: Model, opts: ResolvedOnnxExportOptions): Uint8Array {
  let arch: BertArch;
  try {
    arch = validateBertArch(model.arch);
  } catch (err) {
    throw new Error(`${CONTEXT}: ${(err as Error).message}`);
  }
  return new BertGraph(model, opts).build(arch);
}

registerOnnxExporter('bert', exportBertOnnx);

/** `values` followed by zeros up to `width`. */
function padded(values: Float32Array, width: number): Float32Array {
  const out = new Float32Array(width);
  out.set(values);
  return out;
}
