import type * as tf from '@tensorflow/tfjs';
import type { ArchSpec, Model } from './types.js';

/**
 * What structured methods (HRank, CKA-hybrid) see of a model: groups of units that surgery can cut, blocks it can
 * drop, activations to score them, and the surgery itself. Each model family implements it (ResNet-CIFAR:
 * filters and residual blocks; BERT: attention heads, FFN neurons and encoder layers), so a method package
 * works on every family without knowing its layers.
 */

/**
 * Units that surgery can cut as one: cutting unit i removes its weights everywhere they are used (a conv filter
 * with its batch-norm channel and the next layer's input channel; a head's query/key/value rows and
 * output-projection columns; an FFN neuron's intermediate row and output column).
 *
 * By default only groups independent of every other group are offered. Asked for with `{ coupled: true }`, a
 * family also offers its **coupled** groups (kind 'coupled-channels', as Torch-Pruning's dependency groups):
 * channels tied together by residual additions, which can only be cut everywhere at once (ResNet-CIFAR: each stage's
 * residual stream, id `stage1` …, with the stem or the option-A shortcut that feeds it; BERT: the hidden size
 * `bert.hidden`, across the embeddings, every layer's outputs and LayerNorms and the pooler's input). A coupled group
 * shares weights with the independent groups that touch it (a conv between a stream and a block's mid channels),
 * so cutting both saves less than the sum of their unit costs; `ModelStructure.planSize` gives the exact size.
 */
export interface ChannelGroup {
  /**
   * Stable id, e.g. `layer1.0.conv1` (its filters), `bert.encoder.layer.0.attention` (heads),
   * `bert.encoder.layer.0.intermediate` (neurons), `stage2` (a ResNet stage's residual stream), `bert.hidden`.
   */
  id: string;
  kind: 'filters' | 'heads' | 'neurons' | 'coupled-channels';
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

/** What `channelGroups` offers. */
export interface ChannelGroupOptions {
  /** Also the coupled groups (kind 'coupled-channels'); default false: only independent groups. */
  coupled?: boolean;
}

export interface ModelStructure<A extends ArchSpec = ArchSpec> {
  /** The groups surgery can cut. `applySurgery` and `forwardWithActivations` accept coupled ids whether or not they were asked for. */
  channelGroups(model: Model<A>, options?: ChannelGroupOptions): ChannelGroup[];
  /**
   * Headline MACs per example of the whole model (conv + linear + matmul, the convention of metrics' countMacs) at
   * the family's reference input (resnet-cifar: 32×32×3): what a FLOP-reduction target is a fraction of, in the
   * same units as `macsPerUnit` and `RemovableBlock.macs`. Optional so families can add it later; structured
   * methods need it for `flops-reduction` targets and say so when it is missing.
   */
  totalMacs?(model: Model<A>): number;
  /**
   * The headline MACs (as totalMacs) and parameters of the model `applySurgery(model, plan)` would give, without
   * building it (the sizes depend only on how many units each group keeps). Exact also where groups share weights.
   */
  planSize?(model: Model<A>, plan: SurgeryPlan): { macs: number; params: number };
  /**
   * The weights that produce each unit of a group, one row per unit `[units, features]` (what FPGM measures distances
   * between): a conv filter's kh·kw·in weights; a stream channel's producing filters (stem, every block's conv2)
   * concatenated; a head's query/key/value columns; a neuron's intermediate column and output row.
   */
  unitWeights?(model: Model<A>, groupId: string): tf.Tensor2D;
  removableBlocks(model: Model<A>): RemovableBlock[];
  /** Inference-mode forward that also returns activations of the named groups (unknown id: an Error naming it). */
  forwardWithActivations(model: Model<A>, input: tf.Tensor | Record<string, tf.Tensor>, groupIds: readonly string[]): ActivationCapture;
  /**
   * For each block id, the `features` of `forwardWithActivations` on the model without that one block (what
   * `applySurgery(model, { removeBlocks: [id] })` would give), the same numbers, computed without building the
   * models and sharing the layers before each block. Optional (a speed-up for scoring block removals, as
   * cka-hybrid does); families without it build each model. The caller disposes the tensors.
   */
  featuresWithoutEachBlock?(model: Model<A>, input: tf.Tensor | Record<string, tf.Tensor>, blockIds: readonly string[]): Map<string, tf.Tensor>;
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
