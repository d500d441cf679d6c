import * as tf from '@tensorflow/tfjs';
import {
  RESNET_CIFAR_REFERENCE_INPUT,
  ResNetCifarModel,
  createResNetCifar,
  finalWidth,
  resolveBlocks,
  shortcutMapOf,
  shortcutSources,
  traceResNetCifar,
  validateResNetCifarArch,
  type ResNetCifarArch,
  type ResolvedBlock,
} from './resnet-cifar.js';
import { checkSurgeryPlan } from './structure-plan.js';
import { StructureError, type ActivationCapture, type ChannelGroup, type ChannelGroupOptions, type ModelStructure, type RemovableBlock, type SurgeryPlan } from './structure.js';
import type { LayerSpec, Model, ModelFamily } from './types.js';

/**
 * Structured pruning of CIFAR ResNets (see structure.ts for the contract).
 *
 * Groups: the mid channels of each live block, id `layerS.B.conv1` — cutting filter i removes output channel i of
 * `conv1`, channel i of `bn1` (weight, bias, running statistics) and input channel i of `conv2`. Nothing else reads
 * those channels, so every block's mid channels are independent of every other group.
 *
 * Coupled groups (only with `channelGroups(model, { coupled: true })`, kind 'coupled-channels'): the block-output
 * channels are added to the shortcut, and through the identity shortcuts every block of a stage adds into the same
 * channels — one residual *stream* per stage, id `stageS` (16/32/64 channels in the reference). Cutting stream
 * channel c removes, together: output channel c of whatever produces the stream (the stem `conv1`/`bn1` for stage 1;
 * for a later stage the option-A shortcut of its first block, whose channel map loses the entry landing in c, and
 * that block's `conv2`/`bn2` output), `conv2`/`bn2` output c of every block of the stage, input channel c of every
 * identity block's `conv1`, and the reader of the stream: the next stage's first block (its `conv1` input channel c
 * and its shortcut's input channel c) or the rows of `linear`. The option-A padding is generalised to a channel map
 * (`ResNetCifarBlock.shortcut`: input channel → output channel, −1 dropped), which surgery writes whenever the kept
 * channels of two stages no longer sit at the reference offset ⌊(out − in)/2⌋; an uncut model keeps no map, so its
 * arch is unchanged. (A stream starting inside a stage — a widening stride-1 block in a custom arch — is id
 * `layerS.B.out`; a stem that feeds an option-A first block is id `stem`.)
 *
 * Blocks: every live residual block, id `layerS.B`; dropping it leaves its shortcut (identity, or subsample + zero
 * pad for a stride-2 block), recorded in the arch as `{ removed: true, mid: 0 }` so later names do not move.
 *
 * MACs per unit / block are counted at the reference input 32×32 (conv MACs, as metrics' countMacs). A stream unit
 * and a mid unit of a block in that stream share the weights between them (conv1's [in, mid] and conv2's [mid, out]
 * entries), so when both are cut the saving is less than the sum of their costs; `planSize` gives the exact size.
 */

function asResNet(model: Model, what: string): ResNetCifarModel {
  if (!(model instanceof ResNetCifarModel)) throw new StructureError(`resnet-cifar structure: ${what} needs a resnet-cifar model, got family "${model.arch.family}"`);
  return model;
}

/** Every block with the spatial size of its output (= its mid) feature map at the reference input. */
function spatialBlocks(arch: ResNetCifarArch): { block: ResolvedBlock; spatial: number }[] {
  const out: { block: ResolvedBlock; spatial: number }[] = [];
  let [h, w] = RESNET_CIFAR_REFERENCE_INPUT;
  for (const block of resolveBlocks(arch)) {
    h = Math.ceil(h / block.stride);
    w = Math.ceil(w / block.stride);
    out.push({ block, spatial: h * w });
  }
  return out;
}

/** Live blocks with the spatial size of their mid feature map at the reference input. */
function liveBlocks(arch: ResNetCifarArch): { block: ResolvedBlock; spatial: number }[] {
  return spatialBlocks(arch).filter(({ block }) => !block.removed);
}

const groupId = (prefix: string) => `${prefix}.conv1`;

/** One residual stream: the channels written by its producer and added into by every block until the next option-A block. */
interface Stream {
  id: string;
  /** Index (in resolveBlocks order) of the option-A block that produces it; null: the stem. */
  start: number | null;
  /** Blocks whose output is this stream (the start block first, when there is one). */
  blocks: number[];
  /** The option-A block that reads it; null: `linear`. */
  consumer: number | null;
  width: number;
}

function streamsOf(arch: ResNetCifarArch): Stream[] {
  const resolved = resolveBlocks(arch);
  const streams: Stream[] = [];
  const stageOf = (prefix: string) => /^layer(\d+)\.(\d+)$/.exec(prefix)!;
  let current: Stream = { id: 'stem', start: null, blocks: [], consumer: null, width: arch.stem };
  streams.push(current);
  resolved.forEach((block, i) => {
    if (block.optionA) {
      current.consumer = i;
      const [, stage, index] = stageOf(block.prefix);
      current = { id: index === '0' ? `stage${stage}` : `${block.prefix}.out`, start: i, blocks: [i], consumer: null, width: block.out };
      streams.push(current);
    } else {
      if (current.start === null && current.blocks.length === 0) current.id = `stage${stageOf(block.prefix)[1]}`;
      current.blocks.push(i);
    }
  });
  return streams;
}

function streamGroup(arch: ResNetCifarArch, stream: Stream): ChannelGroup {
  const blocks = spatialBlocks(arch);
  const [h, w] = RESNET_CIFAR_REFERENCE_INPUT;
  let macs = stream.start === null ? h * w * 9 * 3 : 0;
  let params = stream.start === null ? 9 * 3 + 2 : 0;
  for (const i of stream.blocks) {
    const { block, spatial } = blocks[i];
    if (block.removed) continue;
    macs += spatial * 9 * block.mid; // conv2 output channel
    params += 9 * block.mid + 2; // conv2 filter, bn2 weight + bias
    if (i !== stream.start) {
      macs += spatial * 9 * block.mid; // conv1 input channel (stride 1: same spatial size)
      params += 9 * block.mid;
    }
  }
  if (stream.consumer === null) {
    macs += arch.numClasses; // a row of linear
    params += arch.numClasses;
  } else if (!blocks[stream.consumer].block.removed) {
    const { block, spatial } = blocks[stream.consumer];
    macs += spatial * 9 * block.mid;
    params += 9 * block.mid;
  }
  return { id: stream.id, kind: 'coupled-channels', size: stream.width, minSize: 1, macsPerUnit: macs, paramsPerUnit: params };
}

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

/** Parameters (conv weights, batch-norm scales and shifts, linear) of a model with this arch; running statistics are buffers. */
function archParams(arch: ResNetCifarArch): number {
  let n = 9 * 3 * arch.stem + 2 * arch.stem;
  for (const b of resolveBlocks(arch)) {
    if (!b.removed) n += 9 * b.in * b.mid + 2 * b.mid + 9 * b.mid * b.out + 2 * b.out;
  }
  return n + finalWidth(arch) * arch.numClasses + arch.numClasses;
}

/** Which slice of which axis survives, per parameter / buffer name. */
type Cuts = Map<string, { axis: number; indices: number[] }[]>;

/** The arch after `plan`, and the cuts that copy the surviving weights into it. */
function plannedSurgery(model: Model<ResNetCifarArch>, plan: SurgeryPlan): { arch: ResNetCifarArch; cuts: Cuts } {
  const arch = validateResNetCifarArch(model.arch);
  const groups = resnetCifarStructure.channelGroups(model, { coupled: true });
  const blocks = resnetCifarStructure.removableBlocks(model);
  const { keep, removeBlocks } = checkSurgeryPlan(groups, blocks, plan, (id) => (id.endsWith('.conv1') ? id.slice(0, -'.conv1'.length) : null));

  const resolved = resolveBlocks(arch);
  const streams = streamsOf(arch);
  const next: ResNetCifarArch = structuredClone(arch);
  const flat = next.stages.flatMap((stage) => stage.blocks);
  const cuts: Cuts = new Map();
  const cut = (name: string, axis: number, indices: number[] | undefined) => {
    if (!indices) return;
    if (!cuts.has(name)) cuts.set(name, []);
    cuts.get(name)!.push({ axis, indices });
  };
  const bnCut = (prefix: string, indices: number[] | undefined) => {
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) cut(`${prefix}.${p}`, 0, indices);
  };

  resolved.forEach(({ prefix }, i) => {
    if (removeBlocks.has(prefix)) {
      flat[i].removed = true;
      flat[i].mid = 0;
      delete flat[i].shortcut; // rewritten below when the block is option-A
    } else if (keep.has(groupId(prefix))) {
      const k = keep.get(groupId(prefix))!;
      flat[i].mid = k.length;
      cut(`${prefix}.conv1.weight`, 3, k);
      bnCut(`${prefix}.bn1`, k);
      cut(`${prefix}.conv2.weight`, 2, k);
    }
  });

  const outStream = new Map<number, Stream>();
  const inStream = new Map<number, Stream>();
  for (const stream of streams) {
    for (const i of stream.blocks) outStream.set(i, stream);
    for (const i of stream.blocks) if (i !== stream.start) inStream.set(i, stream);
    if (stream.consumer !== null) inStream.set(stream.consumer, stream);
  }
  for (const stream of streams) {
    const k = keep.get(stream.id);
    if (!k) continue;
    if (stream.start === null) {
      next.stem = k.length;
      cut('conv1.weight', 3, k);
      bnCut('bn1', k);
    }
    for (const i of stream.blocks) {
      flat[i].out = k.length;
      if (resolved[i].removed || removeBlocks.has(resolved[i].prefix)) continue;
      cut(`${resolved[i].prefix}.conv2.weight`, 3, k);
      bnCut(`${resolved[i].prefix}.bn2`, k);
      if (i !== stream.start) cut(`${resolved[i].prefix}.conv1.weight`, 2, k);
    }
    if (stream.consumer === null) cut('linear.weight', 0, k);
    else if (!resolved[stream.consumer].removed && !removeBlocks.has(resolved[stream.consumer].prefix)) {
      cut(`${resolved[stream.consumer].prefix}.conv1.weight`, 2, k);
    }
  }

  // Option-A channel maps: the kept inputs of the stream read, landing where the kept outputs of the stream written now sit.
  resolved.forEach((block, i) => {
    if (!block.optionA) return;
    const keepIn = keep.get(inStream.get(i)!.id);
    const keepOut = keep.get(outStream.get(i)!.id);
    if (!keepIn && !keepOut) {
      if (block.shortcut) flat[i].shortcut = [...block.shortcut];
      return;
    }
    let map = shortcutMapOf(block);
    if (keepIn) map = keepIn.map((c) => map[c]);
    if (keepOut) {
      const position = new Map(keepOut.map((o, j) => [o, j]));
      map = map.map((o) => (o < 0 ? -1 : position.get(o) ?? -1));
    }
    const inWidth = keepIn?.length ?? block.in;
    const outWidth = keepOut?.length ?? block.out;
    const isReference = shortcutSources(map, outWidth).padding && (block.stride !== 1 || inWidth !== outWidth);
    if (isReference) delete flat[i].shortcut;
    else flat[i].shortcut = map;
  });
  return { arch: validateResNetCifarArch(next), cuts };
}

export const resnetCifarStructure: ModelStructure<ResNetCifarArch> = {
  channelGroups(model, options?: ChannelGroupOptions): ChannelGroup[] {
    const arch = validateResNetCifarArch(model.arch);
    const filters = liveBlocks(arch).map(({ block, spatial }): ChannelGroup => ({
      id: groupId(block.prefix),
      kind: 'filters',
      size: block.mid,
      minSize: 1,
      // conv1 filter (9·in per output pixel) + conv2 input channel (9·out per output pixel)
      macsPerUnit: spatial * 9 * (block.in + block.out),
      // conv1 filter, bn1 weight + bias, conv2 input slice
      paramsPerUnit: 9 * block.in + 2 + 9 * block.out,
    }));
    if (!options?.coupled) return filters;
    return [...filters, ...streamsOf(arch).map((stream) => streamGroup(arch, stream))];
  },

  totalMacs(model): number {
    return headlineMacs(traceResNetCifar(validateResNetCifarArch(model.arch), [...RESNET_CIFAR_REFERENCE_INPUT]));
  },

  planSize(model, plan) {
    const { arch } = plannedSurgery(model, plan);
    return { macs: headlineMacs(traceResNetCifar(arch, [...RESNET_CIFAR_REFERENCE_INPUT])), params: archParams(arch) };
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
    const resolved = resolveBlocks(resnet.arch);
    // a stream's activation: its state after its last block (what the next stage or the pool reads), or the stem's output
    const streamOutputs = new Map(streamsOf(resnet.arch).map((s) => [s.id, s.blocks.length ? resolved[s.blocks[s.blocks.length - 1]].prefix : 'stem']));
    const prefixes = new Map<string, string>();
    const outputs = new Map<string, string>();
    for (const id of groupIds) {
      if (streamOutputs.has(id)) outputs.set(id, streamOutputs.get(id)!);
      else if (known.has(id)) prefixes.set(id, id.slice(0, -'.conv1'.length));
      else {
        throw new StructureError(
          `resnet-cifar: unknown channel group "${id}" (groups are the live blocks' conv1, e.g. layer1.0.conv1, and the coupled streams ${[...streamOutputs.keys()].join(', ')})`,
        );
      }
    }
    const captured = resnet.forwardCapturing(input, new Set(prefixes.values()), new Set(outputs.values()));
    const activations = new Map<string, tf.Tensor>();
    for (const [id, prefix] of prefixes) activations.set(id, tf.transpose(captured.mids.get(prefix)!, [0, 3, 1, 2])); // [batch, filters, h, w]
    for (const [id, name] of outputs) activations.set(id, tf.transpose(captured.outputs.get(name)!, [0, 3, 1, 2]));
    tf.dispose([...captured.mids.values(), ...captured.outputs.values()]);
    return { output: captured.logits, activations, features: captured.features };
  },

  featuresWithoutEachBlock(model, input, blockIds) {
    const resnet = asResNet(model, 'featuresWithoutEachBlock');
    if (!(input instanceof tf.Tensor)) throw new Error('resnet-cifar: input must be an image tensor [batch, height, width, 3]');
    return resnet.featuresWithoutEachBlock(input, blockIds);
  },

  unitWeights(model, groupIdOf): tf.Tensor2D {
    const resnet = asResNet(model, 'unitWeights');
    const rows = (name: string) => {
      const w = resnet.params.get(name)!; // HWIO: one row per output channel
      return tf.reshape(tf.transpose(w, [3, 0, 1, 2]), [w.shape[3]!, -1]) as tf.Tensor2D;
    };
    const filters = liveBlocks(resnet.arch).find(({ block }) => groupId(block.prefix) === groupIdOf);
    if (filters) return tf.tidy(() => rows(`${filters.block.prefix}.conv1.weight`));
    const stream = streamsOf(resnet.arch).find((s) => s.id === groupIdOf);
    if (!stream) throw new StructureError(`resnet-cifar: unknown channel group "${groupIdOf}"`);
    const resolved = resolveBlocks(resnet.arch);
    return tf.tidy(() => {
      const parts: tf.Tensor2D[] = [];
      if (stream.start === null) parts.push(rows('conv1.weight'));
      for (const i of stream.blocks) if (!resolved[i].removed) parts.push(rows(`${resolved[i].prefix}.conv2.weight`));
      return parts.length ? tf.concat(parts, 1) : tf.zeros([stream.width, 0]);
    });
  },

  applySurgery(model, plan: SurgeryPlan): ResNetCifarModel {
    const source = asResNet(model, 'applySurgery');
    const { arch, cuts } = plannedSurgery(source, plan);
    const result = createResNetCifar(arch);
    try {
      const copy = (target: Map<string, tf.Variable>, from: Map<string, tf.Variable>) => {
        for (const [name, variable] of target) {
          const value = from.get(name);
          if (!value) throw new Error(`resnet-cifar surgery: no source for "${name}"`); // cannot happen: same names minus dropped blocks
          tf.tidy(() => {
            let t: tf.Tensor = value;
            for (const { axis, indices } of cuts.get(name) ?? []) t = tf.gather(t, tf.tensor1d(indices, 'int32'), axis);
            if (t.shape.join() !== variable.shape.join()) throw new Error(`resnet-cifar surgery: "${name}" is [${t.shape}], the new model wants [${variable.shape}]`);
            variable.assign(t === value ? value.clone() : t);
          });
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

export const resnetCifarFamily: ModelFamily<ResNetCifarArch> = {
  family: 'resnet-cifar',
  traceLayers: traceResNetCifar,
  structure: resnetCifarStructure,
  create: (arch, options) => createResNetCifar(arch, options),
};
