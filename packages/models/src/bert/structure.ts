import * as tf from '@tensorflow/tfjs';
import { StructureError, type ChannelGroup, type ModelStructure, type RemovableBlock, type SurgeryPlan } from '../structure.js';
import { checkSurgeryPlan } from '../structure-plan.js';
import type { Model } from '../types.js';
import { bertLayerPrefix, validateBertArch, type BertArch, type BertLayerSpec } from './arch.js';
import { BertModel, bertLayerParamNames } from './model.js';
import { traceBert } from './trace.js';

/**
 * Sequence length at which the structure prices heads, neurons and layers in MACs when the arch does not say
 * (`arch.seqLength`, which the GLUE tasks set to theirs; capped at maxPosition): the interface has no input shape, and attention costs grow
 * with seq². 128 is the longest sequence of the GLUE tasks here (MRPC, RTE).
 */
export const BERT_STRUCTURE_SEQ_LENGTH = 128;

const seqOf = (arch: BertArch) => arch.seqLength ?? Math.min(BERT_STRUCTURE_SEQ_LENGTH, arch.maxPosition);

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

export const bertStructure: ModelStructure<BertArch> = {
  channelGroups(model) {
    const { arch } = asBert(model);
    const seq = seqOf(arch);
    return arch.layers.flatMap((layer, i): ChannelGroup[] => [
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
    const { arch } = asBert(model);
    return traceBert(arch, [seqOf(arch)]).reduce((sum, layer) => {
      if (layer.op === 'linear') {
        const tokens = layer.outShape.length === 2 ? layer.outShape[0] : 1;
        return sum + tokens * layer.inShape[layer.inShape.length - 1] * layer.outShape[layer.outShape.length - 1];
      }
      if (layer.op === 'matmul') return sum + layer.matmulShape!.reduce((a, b) => a * b, 1) * (layer.repeat ?? 1);
      return sum;
    }, 0);
  },

  forwardWithActivations(model, input, groupIds) {
    const bert = asBert(model);
    const known = new Set(bert.arch.layers.flatMap((_, i) => [attentionId(i), intermediateId(i)]));
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
        for (const name of bert.params.keys()) {
          if (!name.startsWith('bert.encoder.layer.')) copy(name, name);
        }
        next.kept.forEach(({ source, heads, neurons }, to) => {
          const from = bertLayerParamNames(source);
          const into = bertLayerParamNames(to);
          const headDim = bert.arch.layers[source].headDim;
          const columns = heads.flatMap((head) => Array.from({ length: headDim }, (_, j) => head * headDim + j));
          for (const part of ['query', 'key', 'value'] as const) {
            copy(`${from[part]}.weight`, `${into[part]}.weight`, { axis: 1, indices: columns });
            copy(`${from[part]}.bias`, `${into[part]}.bias`, { axis: 0, indices: columns });
          }
          copy(`${from.attentionOut}.weight`, `${into.attentionOut}.weight`, { axis: 0, indices: columns });
          copy(`${from.attentionOut}.bias`, `${into.attentionOut}.bias`);
          copy(`${from.intermediate}.weight`, `${into.intermediate}.weight`, { axis: 1, indices: neurons });
          copy(`${from.intermediate}.bias`, `${into.intermediate}.bias`, { axis: 0, indices: neurons });
          copy(`${from.output}.weight`, `${into.output}.weight`, { axis: 0, indices: neurons });
          copy(`${from.output}.bias`, `${into.output}.bias`);
          for (const norm of ['attentionNorm', 'outputNorm'] as const) {
            copy(`${from[norm]}.weight`, `${into[norm]}.weight`);
            copy(`${from[norm]}.bias`, `${into[norm]}.bias`);
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

/** The arch after `plan`, and which heads / neurons of which source layer each remaining layer keeps. */
function plannedArch(model: BertModel, plan: SurgeryPlan): { arch: BertArch; kept: KeptLayer[] } {
  const arch = validateBertArch(model.arch);
  const { keep, removeBlocks } = checkSurgeryPlan(
    bertStructure.channelGroups(model), bertStructure.removableBlocks(model), plan,
    (groupId) => groupId.replace(/\.(attention|intermediate)$/, ''),
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
  return { arch: { ...structuredClone(arch), layers }, kept };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
