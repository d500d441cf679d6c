import * as tf from '@tensorflow/tfjs';
import {
  RESNET_CIFAR_REFERENCE_INPUT,
  ResNetCifarModel,
  createResNetCifar,
  resolveBlocks,
  traceResNetCifar,
  validateResNetCifarArch,
  type ResNetCifarArch,
  type ResolvedBlock,
} from './resnet-cifar.js';
import { checkSurgeryPlan } from './structure-plan.js';
import { StructureError, type ActivationCapture, type ChannelGroup, type ModelStructure, type RemovableBlock, type SurgeryPlan } from './structure.js';
import type { LayerSpec, Model, ModelFamily } from './types.js';

/**
 * Structured pruning of CIFAR ResNets (see structure.ts for the contract).
 *
 * Groups: the mid channels of each live block, id `layerS.B.conv1` — cutting filter i removes output channel i of
 * `conv1`, channel i of `bn1` (weight, bias, running statistics) and input channel i of `conv2`. Nothing else reads
 * those channels, so every block's mid channels are independent of every other group.
 *
 * Not offered, because they are coupled: the block-output channels (`conv2`/`bn2` outputs) are added to the
 * shortcut, and through the identity shortcuts every block of a stage adds into the same channels, which the stem
 * (`conv1`/`bn1`, stage 1) or the option-A padding of the stage's first block (stages 2, 3: the input channels
 * sit at a fixed offset between zero planes) also feed; cutting channel c of one block would need cutting c in
 * every block of the stage, the stage's input (the stem or the previous stage, shifting the padding offset) and
 * the rows of `linear` (last stage). That is a different, stage-wide group, left out here.
 *
 * Blocks: every live residual block, id `layerS.B`; dropping it leaves its shortcut (identity, or subsample + zero
 * pad for a stride-2 block), recorded in the arch as `{ removed: true, mid: 0 }` so later names do not move.
 *
 * MACs per unit / block are counted at the reference input 32×32 (conv MACs, as metrics' countMacs).
 */

function asResNet(model: Model, what: string): ResNetCifarModel {
  if (!(model instanceof ResNetCifarModel)) throw new StructureError(`resnet-cifar structure: ${what} needs a resnet-cifar model, got family "${model.arch.family}"`);
  return model;
}

/** Live blocks with the spatial size of their mid feature map at the reference input. */
function liveBlocks(arch: ResNetCifarArch): { block: ResolvedBlock; spatial: number }[] {
  const out: { block: ResolvedBlock; spatial: number }[] = [];
  let [h, w] = RESNET_CIFAR_REFERENCE_INPUT;
  for (const block of resolveBlocks(arch)) {
    h = Math.ceil(h / block.stride);
    w = Math.ceil(w / block.stride);
    if (!block.removed) out.push({ block, spatial: h * w });
  }
  return out;
}

const groupId = (prefix: string) => `${prefix}.conv1`;

function headlineMacs(layers: LayerSpec[]): number {
  let macs = 0;
  for (const l of layers) {
    if (l.op === 'conv2d') {
      const [oh, ow, oc] = l.outShape;
      macs += (oh * ow * oc * l.kernel![0] * l.kernel![1] * l.inShape[2]) / (l.groups ?? 1);
    } else if (l.op === 'linear') {
      macs += l.inShape[0] * l.outShape[0];
    }
  }
  return macs;
}

export const resnetCifarStructure: ModelStructure<ResNetCifarArch> = {
  channelGroups(model): ChannelGroup[] {
    return liveBlocks(validateResNetCifarArch(model.arch)).map(({ block, spatial }) => ({
      id: groupId(block.prefix),
      kind: 'filters',
      size: block.mid,
      minSize: 1,
      // conv1 filter (9·in per output pixel) + conv2 input channel (9·out per output pixel)
      macsPerUnit: spatial * 9 * (block.in + block.out),
      // conv1 filter, bn1 weight + bias, conv2 input slice
      paramsPerUnit: 9 * block.in + 2 + 9 * block.out,
    }));
  },

  totalMacs(model): number {
    return headlineMacs(traceResNetCifar(validateResNetCifarArch(model.arch), [...RESNET_CIFAR_REFERENCE_INPUT]));
  },

  removableBlocks(model): RemovableBlock[] {
    return liveBlocks(validateResNetCifarArch(model.arch)).map(({ block, spatial }) => ({
      id: block.prefix,
      kind: 'residual-block',
      macs: spatial * 9 * block.mid * (block.in + block.out),
      params: 9 * block.mid * (block.in + block.out) + 2 * block.mid + 2 * block.out,
    }));
  },

  forwardWithActivations(model, input, groupIds): ActivationCapture {
    const resnet = asResNet(model, 'forwardWithActivations');
    if (!(input instanceof tf.Tensor)) throw new Error('resnet-cifar: input must be an image tensor [batch, height, width, 3]');
    const known = new Set(liveBlocks(resnet.arch).map(({ block }) => groupId(block.prefix)));
    const prefixes = new Map<string, string>();
    for (const id of groupIds) {
      if (!known.has(id)) throw new StructureError(`resnet-cifar: unknown channel group "${id}" (groups are the live blocks' conv1, e.g. layer1.0.conv1)`);
      prefixes.set(id, id.slice(0, -'.conv1'.length));
    }
    const { logits, mids, features } = resnet.forwardCapturing(input, new Set(prefixes.values()));
    const activations = new Map<string, tf.Tensor>();
    for (const [id, prefix] of prefixes) {
      const nhwc = mids.get(prefix)!;
      activations.set(id, tf.transpose(nhwc, [0, 3, 1, 2])); // [batch, filters, h, w]
    }
    tf.dispose([...mids.values()]);
    return { output: logits, activations, features };
  },

  applySurgery(model, plan: SurgeryPlan): ResNetCifarModel {
    const source = asResNet(model, 'applySurgery');
    const arch = validateResNetCifarArch(source.arch);
    const groups = resnetCifarStructure.channelGroups(source);
    const blocks = resnetCifarStructure.removableBlocks(source);
    const { keep, removeBlocks } = checkSurgeryPlan(groups, blocks, plan, (id) => id.slice(0, -'.conv1'.length));

    const next: ResNetCifarArch = structuredClone(arch);
    const resolved = resolveBlocks(arch);
    let i = 0;
    for (const stage of next.stages) {
      for (const block of stage.blocks) {
        const { prefix } = resolved[i++];
        if (removeBlocks.has(prefix)) {
          block.removed = true;
          block.mid = 0;
        } else if (keep.has(groupId(prefix))) {
          block.mid = keep.get(groupId(prefix))!.length;
        }
      }
    }
    const result = createResNetCifar(next);
    try {
      const copy = (target: Map<string, tf.Variable>, from: Map<string, tf.Variable>) => {
        for (const [name, variable] of target) {
          const value = from.get(name);
          if (!value) throw new Error(`resnet-cifar surgery: no source for "${name}"`); // cannot happen: same names minus dropped blocks
          tf.tidy(() => variable.assign(cutTensor(name, value, keep)));
        }
      };
      copy(result.params, source.params);
      copy(result.buffers, source.buffers);
    } catch (error) {
      result.dispose();
      throw error;
    }
    return result;
  },
};

/** The surviving slice of a parameter or buffer: conv1 output channels, bn1 channels, conv2 input channels. */
function cutTensor(name: string, value: tf.Tensor, keep: Map<string, number[]>): tf.Tensor {
  const match = /^(layer\d+\.\d+)\.(conv1\.weight|bn1\.\w+|conv2\.weight)$/.exec(name);
  const indices = match ? keep.get(groupId(match[1])) : undefined;
  if (!match || !indices) return value.clone();
  const axis = match[2] === 'conv1.weight' ? 3 : match[2] === 'conv2.weight' ? 2 : 0; // HWIO: out = 3, in = 2
  return tf.gather(value, tf.tensor1d(indices, 'int32'), axis);
}

export const resnetCifarFamily: ModelFamily<ResNetCifarArch> = {
  family: 'resnet-cifar',
  traceLayers: traceResNetCifar,
  structure: resnetCifarStructure,
  create: (arch, options) => createResNetCifar(arch, options),
};
