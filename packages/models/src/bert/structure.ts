import * as tf from '@tensorflow/tfjs';
import { StructureError, type ChannelGroup, type ChannelGroupOptions, type ModelStructure, type RemovableBlock, type SurgeryPlan } from '../structure.js';
import { checkSurgeryPlan } from '../structure-plan.js';
import type { Model } from '../types.js';
import { bertLayerPrefix, bertPoolerWidth, validateBertArch, type BertArch, type BertLayerSpec } from './arch.js';
import { BertModel, bertLayerParamNames } from './model.js';
import { traceBert } from './trace.js';

/**
 * Sequence length at which the structure prices heads, neurons and layers in MACs when the arch does not say
 * (`arch.seqLength`, which the GLUE tasks set to theirs; capped at maxPosition): the interface has no input shape, and attention costs grow
 * with seq². 128 is the longest sequence of the GLUE tasks here (MRPC, RTE).
 */
export const BERT_STRUCTURE_SEQ_LENGTH = 128;

const seqOf = (arch: BertArch) => arch.seqLength ?? Math.min(BERT_STRUCTURE_SEQ_LENGTH, arch.maxPosition);

/**
 * The coupled group (only with `channelGroups(model, { coupled: true })`): the hidden size. Every residual addition
 * adds into the same `hidden` channels, so channel c goes everywhere at once: column c of the three embedding tables
 * and of the embeddings LayerNorm; in every layer row c of query/key/value and of `intermediate.dense`, column c
 * (and bias c) of `attention.output.dense` and `output.dense`, channel c of both LayerNorms; row c of the pooler (its
 * output width stays, recorded as `arch.pooler`). The LayerNorms keep normalising over the original width
 * (`arch.layerNormWidth`: the cut channels count as zeros), so cutting channels that carry zero is exact.
 */
export const BERT_HIDDEN_GROUP = 'bert.hidden';

const attentionId = (i: number) => `${bertLayerPrefix(i)}.attention`;
const intermediateId = (i: number) => `${bertLayerPrefix(i)}.intermediate`;

function headMacs(hidden: number, headDim: number, seq: number): number {
  // query, key, value rows and the output projection's columns, plus the head's two attention matmuls
  return 4 * seq * hidden * headDim + 2 * seq * seq * headDim;
}

function layerMacs(hidden: number, layer: BertLayerSpec, seq: number): number {
  return layer.heads * headMacs(hidden, layer.headDim, seq) + 2 * seq * hidden * layer.intermediate;
}

function layerParams(hidden: number, layer: BertLayerSpec): number {
  const width = layer.heads * layer.headDim;
  return 3 * (hidden * width + width) + (width * hidden + hidden) + (hidden * layer.intermediate + layer.intermediate)
    + (layer.intermediate * hidden + hidden) + 4 * hidden;
}

function asBert(model: Model): BertModel {
  if (!(model instanceof BertModel)) throw new StructureError(`bert structure: expected a BertModel, got family ${JSON.stringify(model.arch?.family)}`);
  return model;
}

function hiddenGroup(arch: BertArch): ChannelGroup {
  const seq = seqOf(arch);
  let macs = bertPoolerWidth(arch); // a row of the pooler (one token)
  let params = arch.vocabSize + arch.maxPosition + arch.typeVocabSize + 2 + bertPoolerWidth(arch);
  for (const layer of arch.layers) {
    const width = layer.heads * layer.headDim;
    macs += seq * (4 * width + 2 * layer.intermediate); // q, k, v rows; attention-output column; intermediate row; output column
    params += 4 * width + 2 * layer.intermediate + 2 + 4; // the same weights, two output biases, two LayerNorms
  }
  return { id: BERT_HIDDEN_GROUP, kind: 'coupled-channels', size: arch.hidden, minSize: 1, macsPerUnit: macs, paramsPerUnit: params };
}

/** Headline MACs of a BERT with this arch at `seqOf(arch)` tokens. */
function archMacs(arch: BertArch): number {
  return traceBert(arch, [seqOf(arch)]).reduce((sum, layer) => {
    if (layer.op === 'linear') {
      const tokens = layer.outShape.length === 2 ? layer.outShape[0] : 1;
      return sum + tokens * layer.inShape[layer.inShape.length - 1] * layer.outShape[layer.outShape.length - 1];
    }
    if (layer.op === 'matmul') return sum + layer.matmulShape!.reduce((a, b) => a * b, 1) * (layer.repeat ?? 1);
    return sum;
  }, 0);
}

/** Parameters of a BERT with this arch. */
function archParams(arch: BertArch): number {
  const h = arch.hidden;
  const pooler = bertPoolerWidth(arch);
  return (arch.vocabSize + arch.maxPosition + arch.typeVocabSize) * h + 2 * h
    + arch.layers.reduce((n, layer) => n + layerParams(h, layer), 0)
    + (h * pooler + pooler) + (pooler * arch.numLabels + arch.numLabels);
}

export const bertStructure: ModelStructure<BertArch> = {
  channelGroups(model, options?: ChannelGroupOptions) {
    const { arch } = asBert(model);
    const seq = seqOf(arch);
    const groups = arch.layers.flatMap((layer, i): ChannelGroup[] => [
      {
        id: attentionId(i), kind: 'heads', size: layer.heads, minSize: 1,
        macsPerUnit: headMacs(arch.hidden, layer.headDim, seq),
        paramsPerUnit: 4 * arch.hidden * layer.headDim + 3 * layer.headDim,
      },
      {
        id: intermediateId(i), kind: 'neurons', size: layer.intermediate, minSize: 1,
        macsPerUnit: 2 * seq * arch.hidden, paramsPerUnit: 2 * arch.hidden + 1,
      },
    ]);
    return options?.coupled ? [...groups, hiddenGroup(arch)] : groups;
  },

  planSize(model, plan) {
    const { arch } = plannedArch(asBert(model), plan);
    return { macs: archMacs(arch), params: archParams(arch) };
  },

  unitWeights(model, groupId) {
    const bert = asBert(model);
    const p = (name: string) => bert.params.get(name)! as tf.Tensor2D;
    return tf.tidy(() => {
      if (groupId === BERT_HIDDEN_GROUP) {
        // what writes into the residual stream: every layer's attention-output and FFN-output columns
        return tf.concat(bert.arch.layers.flatMap((_, i) => {
          const n = bertLayerParamNames(i);
          return [tf.transpose(p(`${n.attentionOut}.weight`)), tf.transpose(p(`${n.output}.weight`))];
        }), 1) as tf.Tensor2D;
      }
      const index = bert.arch.layers.findIndex((_, i) => attentionId(i) === groupId || intermediateId(i) === groupId);
      if (index < 0) throw new StructureError(`bert: unknown channel group "${groupId}"`);
      const n = bertLayerParamNames(index);
      const layer = bert.arch.layers[index];
      if (groupId === attentionId(index)) {
        // head h: its headDim columns of query, key and value, [hidden, headDim] each, flattened and concatenated
        const perHead = (name: string) => tf.reshape(tf.transpose(tf.reshape(p(`${name}.weight`), [bert.arch.hidden, layer.heads, layer.headDim]), [1, 0, 2]), [layer.heads, -1]);
        return tf.concat([perHead(n.query), perHead(n.key), perHead(n.value)], 1) as tf.Tensor2D;
      }
      // neuron j: its intermediate column and its output row
      return tf.concat([tf.transpose(p(`${n.intermediate}.weight`)), p(`${n.output}.weight`)], 1) as tf.Tensor2D;
    });
  },

  removableBlocks(model) {
    const { arch } = asBert(model);
    return arch.layers.map((layer, i): RemovableBlock => ({
      id: bertLayerPrefix(i), kind: 'encoder-layer',
      macs: layerMacs(arch.hidden, layer, seqOf(arch)), params: layerParams(arch.hidden, layer),
    }));
  },

  /** Headline MACs (linear + attention matmuls, the convention of metrics' countMacs) per example at `seqOf(arch)` tokens. */
  totalMacs(model) {
    return archMacs(asBert(model).arch);
  },

  forwardWithActivations(model, input, groupIds) {
    const bert = asBert(model);
    const known = new Set([...bert.arch.layers.flatMap((_, i) => [attentionId(i), intermediateId(i)]), BERT_HIDDEN_GROUP]);
    for (const id of groupIds) if (!known.has(id)) throw new StructureError(`bert: unknown channel group "${id}"`);
    const { logits, features, activations } = bert.run(input, false, groupIds);
    return { output: logits, features, activations };
  },

  applySurgery(model, plan) {
    const bert = asBert(model);
    const next = plannedArch(bert, plan);
    const target = new BertModel(next.arch, 0);
    try {
      tf.tidy(() => {
        const copy = (from: string, to: string, select?: { axis: number; indices: number[] }) => {
          const source = bert.params.get(from);
          const dest = target.params.get(to);
          if (!source || !dest) throw new StructureError(`bert surgery: parameter ${from} → ${to} is missing`);
          const value = select ? tf.gather(source, tf.tensor1d(select.indices, 'int32'), select.axis) : source;
          if (value.shape.join() !== dest.shape.join()) {
            throw new StructureError(`bert surgery: ${from} gives [${value.shape}], ${to} needs [${dest.shape}]`);
          }
          dest.assign(value);
        };
        const hidden = next.hidden; // kept hidden channels, or undefined: all
        const cut = hidden ? (axis: number) => ({ axis, indices: hidden }) : () => undefined;
        for (const name of bert.params.keys()) {
          if (name.startsWith('bert.encoder.layer.')) continue;
          if (name.startsWith('bert.embeddings.')) copy(name, name, cut(name.endsWith('LayerNorm.weight') || name.endsWith('LayerNorm.bias') ? 0 : 1));
          else if (name === 'bert.pooler.dense.weight') copy(name, name, cut(0));
          else copy(name, name);
        }
        next.kept.forEach(({ source, heads, neurons }, to) => {
          const from = bertLayerParamNames(source);
          const into = bertLayerParamNames(to);
          const headDim = bert.arch.layers[source].headDim;
          const columns = heads.flatMap((head) => Array.from({ length: headDim }, (_, j) => head * headDim + j));
          // rows (axis 0) or columns (axis 1) of the hidden size, then of the unit group
          const both = (name: string, to: string, hiddenAxis: number | null, unitAxis: number | null, units: number[]) => {
            const rows = hidden && hiddenAxis !== null ? { axis: hiddenAxis, indices: hidden } : undefined;
            const source = bert.params.get(name);
            if (!source) throw new StructureError(`bert surgery: parameter ${name} is missing`);
            const first = rows ? tf.gather(source, tf.tensor1d(rows.indices, 'int32'), rows.axis) : source;
            const value = unitAxis !== null ? tf.gather(first, tf.tensor1d(units, 'int32'), unitAxis) : first;
            const dest = target.params.get(to)!;
            if (value.shape.join() !== dest.shape.join()) throw new StructureError(`bert surgery: ${name} gives [${value.shape}], ${to} needs [${dest.shape}]`);
            dest.assign(value);
          };
          for (const part of ['query', 'key', 'value'] as const) {
            both(`${from[part]}.weight`, `${into[part]}.weight`, 0, 1, columns);
            both(`${from[part]}.bias`, `${into[part]}.bias`, null, 0, columns);
          }
          both(`${from.attentionOut}.weight`, `${into.attentionOut}.weight`, 1, 0, columns);
          both(`${from.attentionOut}.bias`, `${into.attentionOut}.bias`, 0, null, []);
          both(`${from.intermediate}.weight`, `${into.intermediate}.weight`, 0, 1, neurons);
          both(`${from.intermediate}.bias`, `${into.intermediate}.bias`, null, 0, neurons);
          both(`${from.output}.weight`, `${into.output}.weight`, 1, 0, neurons);
          both(`${from.output}.bias`, `${into.output}.bias`, 0, null, []);
          for (const norm of ['attentionNorm', 'outputNorm'] as const) {
            both(`${from[norm]}.weight`, `${into[norm]}.weight`, 0, null, []);
            both(`${from[norm]}.bias`, `${into[norm]}.bias`, 0, null, []);
          }
        });
      });
    } catch (error) {
      target.dispose();
      throw error;
    }
    return target;
  },
};

interface KeptLayer {
  /** Index of the layer in the input model. */
  source: number;
  heads: number[];
  neurons: number[];
}

/** The arch after `plan`, which heads / neurons of which source layer each remaining layer keeps, and the kept hidden channels. */
function plannedArch(model: BertModel, plan: SurgeryPlan): { arch: BertArch; kept: KeptLayer[]; hidden?: number[] } {
  const arch = validateBertArch(model.arch);
  const { keep, removeBlocks } = checkSurgeryPlan(
    bertStructure.channelGroups(model, { coupled: true }), bertStructure.removableBlocks(model), plan,
    (groupId) => (groupId === BERT_HIDDEN_GROUP ? null : groupId.replace(/\.(attention|intermediate)$/, '')),
  );
  if (arch.layers.length > 0 && removeBlocks.size === arch.layers.length) {
    throw new StructureError('bert surgery: the plan drops every encoder layer; at least one must remain');
  }
  const kept: KeptLayer[] = [];
  const layers: BertLayerSpec[] = [];
  arch.layers.forEach((layer, i) => {
    if (removeBlocks.has(bertLayerPrefix(i))) return;
    const heads = keep.get(attentionId(i)) ?? range(layer.heads);
    const neurons = keep.get(intermediateId(i)) ?? range(layer.intermediate);
    kept.push({ source: i, heads, neurons });
    layers.push({ heads: heads.length, headDim: layer.headDim, intermediate: neurons.length });
  });
  const hidden = keep.get(BERT_HIDDEN_GROUP);
  const next: BertArch = { ...structuredClone(arch), layers };
  if (hidden) {
    next.pooler = bertPoolerWidth(arch);
    next.layerNormWidth = arch.layerNormWidth ?? arch.hidden;
    next.hidden = hidden.length;
  }
  return { arch: validateBertArch(next), kept, hidden };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
