import type * as tf from '@tensorflow/tfjs';
import type { ArchSpec, Model } from './types.js';

/**
 * What structured methods (HRank, CKA-hybrid) see of a model: groups of units that surgery can cut, blocks it can
 * drop, activations to score them, and the surgery itself. Each model family implements it (ResNet-CIFAR:
 * filters and residual blocks; BERT: attention heads, FFN neurons and encoder layers), so a method package
 * works on every family without knowing its layers.
 */

/**
 * Units that can be removed independently of every other group: cutting unit i removes its weights
 * everywhere they are used (a conv filter with its batch-norm channel and the next layer's input channel;
 * a head's query/key/value rows and output-projection columns; an FFN neuron's intermediate row and output column).
 * Channels coupled by residual additions are not offered as a group (they cannot be cut alone).
 */
export interface ChannelGroup {
  /** Stable id, e.g. `layer1.0.conv1` (its filters), `bert.encoder.layer.0.attention` (heads), `bert.encoder.layer.0.intermediate` (neurons). */
  id: string;
  kind: 'filters' | 'heads' | 'neurons';
  /** Units the group has now. */
  size: number;
  /** Fewest units surgery leaves (usually 1). */
  minSize: number;
  /** Multiply-accumulates per example that one unit of this group costs (both sides of it), for FLOP targets. */
  macsPerUnit: number;
  /** Parameters one unit of this group owns (both sides, norms included). */
  paramsPerUnit: number;
}

/** A whole block surgery can drop (a residual block becomes its shortcut; an encoder layer the identity). */
export interface RemovableBlock {
  /** e.g. `layer2.3`, `bert.encoder.layer.1`. */
  id: string;
  kind: 'residual-block' | 'encoder-layer';
  /** MACs per example the block costs now (what dropping it saves). */
  macs: number;
  params: number;
}

/** What to cut. Unnamed groups and blocks stay as they are. */
export interface SurgeryPlan {
  /** Group id → indices of the units to KEEP (ascending, unique, within [0, size)). */
  keep?: Record<string, number[]>;
  /** Block ids to drop. */
  removeBlocks?: string[];
}

export interface ActivationCapture {
  /** The model's output (logits), as `model.forward(input, { training: false })`. */
  output: tf.Tensor;
  /**
   * Per requested group, its units' activations laid out `[batch, units, a, b]`: one a×b matrix per example and
   * unit (conv filters: the h×w feature map after the nonlinearity; heads: the seq×headDim context; FFN neurons:
   * seq×1 after GELU).
   */
  activations: Map<string, tf.Tensor>;
  /** The representation fed to the classifier, `[batch, features]` (pooled features / pooled [CLS]), for CKA. */
  features: tf.Tensor;
}

export interface ModelStructure<A extends ArchSpec = ArchSpec> {
  channelGroups(model: Model<A>): ChannelGroup[];
  /**
   * Headline MACs per example of the whole model (conv + linear + matmul, the convention of metrics' countMacs) at
   * the family's reference input (resnet-cifar: 32×32×3): what a FLOP-reduction target is a fraction of, in the
   * same units as `macsPerUnit` and `RemovableBlock.macs`. Optional so families can add it later; structured
   * methods need it for `flops-reduction` targets and say so when it is missing.
   */
  totalMacs?(model: Model<A>): number;
  removableBlocks(model: Model<A>): RemovableBlock[];
  /** Inference-mode forward that also returns activations of the named groups (unknown id: an Error naming it). */
  forwardWithActivations(model: Model<A>, input: tf.Tensor | Record<string, tf.Tensor>, groupIds: readonly string[]): ActivationCapture;
  /**
   * A NEW model with the plan applied and the surviving weights copied (the input model is untouched). Throws a
   * StructureError naming the group or block when the plan is invalid (unknown id, index out of range, below
   * minSize, a block that cannot be dropped).
   */
  applySurgery(model: Model<A>, plan: SurgeryPlan): Model<A>;
}

export class StructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StructureError';
  }
}
