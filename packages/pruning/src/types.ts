import type * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '@prunebench/engine';
import type { Model } from '@prunebench/models';

/**
 * The contract between the harness and a pruning method (ShrinkBench's split): a method decides what
 * to prune and may train, but only through the BudgetedTrainer it is handed; the harness owns data,
 * fine-tuning recipe, budget and metrics, so every method gets the same treatment.
 */

/** 0/1 float32 tensors by parameter name, the same shape as the parameter. Missing name = dense. */
export type Masks = Map<string, tf.Tensor>;

/**
 * What to reach: a compression ratio, a sparsity, a FLOP reduction or an N:M pattern. Compression follows ShrinkBench: total
 * parameters of the WHOLE model / nonzero parameters, where non-prunable parameters (biases, norm layers) count
 * as nonzero. Sparsity is the fraction of the prunable weights set to zero. See `keepCountForTarget` (target.ts)
 * for how each becomes a count of kept weights, per layer and in all.
 */
export type PruningTarget =
  | { kind: 'compression'; ratio: number }
  | { kind: 'sparsity'; fraction: number }
  | { kind: 'flops-reduction'; fraction: number }
  /** N:M semi-structured: at most n nonzero in every m consecutive weights along the input dimension (nm.ts). */
  | { kind: 'n-of-m'; n: number; m: number };

export type { Batch } from './batch.js';
import type { Batch } from './batch.js';
import type { OptionSchema } from './options.js';

export class BudgetExceededError extends Error {
  constructor(readonly requested: number, readonly remaining: number, readonly total: number) {
    super(`training budget exceeded: requested ${requested} examples, ${remaining} of ${total} remain`);
    this.name = 'BudgetExceededError';
  }
}

export interface TrainOptions {
  /** Examples to train on (forward + backward): a positive integer (0 is refused; `trainUnlessEmpty` skips empty calls). */
  examples: number;
  /** Masks applied before the first step and kept through training: pruned weights are exactly +0 after every step. */
  masks?: Masks;
  /** Learning-rate multiplier on the task's recipe (e.g. LTH rounds, short candidate fine-tuning); positive, default 1. */
  lrScale?: number;
  /** A short label for logs and the per-epoch record (e.g. `lth-round-3`). */
  label?: string;
  /**
   * Dynamic sparsity (RigL, SET): every `every` examples the hook may hand new masks, trained with from the next step
   * on (needs `masks`). See MaskUpdateHook for what the trainer does with them; `TrainSummary.masks` holds the last.
   */
  maskUpdate?: MaskUpdateHook;
}

/** What a mask-update hook is told: the k-th update (1-based), after k · every examples of the call. */
export interface MaskUpdateEvent {
  index: number;
  /** Examples of this call trained when the hook runs (k · every, or the first step's end past it). */
  examples: number;
  /** The call's `examples`. */
  totalExamples: number;
  model: Model;
  /** The masks now (the trainer's: read them, never dispose or keep them). */
  masks: Masks;
}

/**
 * A call-back inside one `train` call, so the optimizer, the learning-rate schedule and the data order run on across
 * mask changes. The trainer calls `update` once for every k ≥ 1 with k · every < examples, after the first step at
 * which k · every examples are done (in k order, before any checkpoint of that step). New masks (same names and shapes;
 * the trainer takes them and disposes the ones they replace) apply at once: weights they prune are set to +0, and the
 * optimizer's state (momentum, Adam moments) is zeroed wherever the mask changed, so a regrown weight starts at 0 with
 * no history (Evci et al. 2020). The hook may charge the budget through the trainer (`gradients`): it declares that up
 * front (`reservedExamples`), checked with `examples` before any work. The hook must be deterministic (a function of
 * the model, the masks and k): on resume the trainer restores the masks of its checkpoint and calls only later updates.
 */
export interface MaskUpdateHook {
  /** Examples between updates: a positive integer. */
  every: number;
  /** Examples the hook will charge over the whole call (e.g. RigL's dense gradient reads); default 0. */
  reservedExamples?: number;
  update(event: MaskUpdateEvent): Promise<Masks | undefined>;
}

/** One mask update of a train call, as the trainer saw it. */
export interface MaskUpdateRecord {
  index: number;
  examples: number;
  /** Weights switched on (0 → 1) and off (1 → 0); 0 and 0 when the hook kept the masks. */
  grown: number;
  dropped: number;
}

export interface TrainSummary {
  steps: number;
  examples: number;
  finalLoss: number;
  losses: number[]; // one mean per epoch-or-chunk, for the per-epoch log
  /** Of `steps`, how many ran on the model's compiled training step (issue 16); absent where the trainer has none. */
  compiledSteps?: number;
  /** With `maskUpdate`: the masks at the end of the call (the caller owns and disposes them) and every update. */
  masks?: Masks;
  maskUpdates?: MaskUpdateRecord[];
}

/**
 * The only way a method may train or compute gradients. Every backward pass is charged. One contract for every
 * implementation (the harness's and the test trainers'), checked by `describeBudgetedTrainerContract`
 * (`@prunebench/pruning/testing`):
 * - Budget: `usedExamples() + remainingExamples() === totalExamples`. Work is charged before it is done; a request
 *   larger than what remains throws BudgetExceededError before any work, charging nothing and changing no weight.
 * - The trainer never masks by itself: masks act only where `train` is given them.
 */
export interface BudgetedTrainer {
  /** Total examples (forward + backward passes) the method may use after its starting checkpoint. */
  readonly totalExamples: number;
  usedExamples(): number;
  remainingExamples(): number;
  /**
   * Fine-tune with the task's recipe (optimizer, lr schedule, weight decay, augmentation), with fresh optimizer state
   * per call. Charges exactly `options.examples` (plus what a `maskUpdate` hook charges through `gradients`, checked
   * with them up front against its `reservedExamples`). `examples` must be a positive integer and `lrScale` positive:
   * anything else throws an Error before any work (methods skip empty calls with `trainUnlessEmpty`). With masks,
   * pruned weights are exactly +0 from before the first step to the end.
   */
  train(model: Model, options: TrainOptions): Promise<TrainSummary>;
  /**
   * Loss and the dense gradient of every parameter of the model at its current weights for one batch (never masked:
   * a method masks what it needs); charges batch.size examples. Changes no parameter (a training-mode forward may
   * update batch-norm running statistics, as any training step does). The caller disposes the gradients.
   */
  gradients(model: Model, batch: Batch): Promise<{ loss: number; grads: Map<string, tf.Tensor> }>;
  /** Training batches for scoring (SNIP, HRank, CKA probes), drawn with the given generator: the same batches for the same seed. Not charged. */
  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[];
  /**
   * Accuracy-like score in [0, 1] of the model as it is, on the validation split carved from train (never the test
   * split). Not charged; changes no parameter or buffer.
   */
  validate(model: Model): Promise<number>;
}

export interface MethodContext<O> {
  model: Model;
  options: O;
  target: PruningTarget;
  trainer: BudgetedTrainer;
  rng: SeededRng;
  /** Which parameters may be pruned (the task's rule, e.g. conv + linear, first conv and classifier optional). */
  prunable: string[];
  log: (message: string) => void;
}

export interface MethodResult {
  /** The final model: the input model (unstructured) or a smaller one after surgery (structured). */
  model: Model;
  /** Final masks for unstructured methods (the harness checks them and keeps them for reporting). */
  masks?: Masks;
  /** Anything worth recording (rounds, chosen candidates, per-layer ratios). */
  details?: Record<string, unknown>;
}

export interface PruningMethod<O extends Record<string, unknown> = Record<string, unknown>> {
  /** Registry name, e.g. `magnitude-global`, `lth`, `snip`. */
  readonly name: string;
  readonly description: string;
  readonly structured: boolean;
  /** Targets this method accepts. */
  readonly targetKinds: ReadonlyArray<PruningTarget['kind']>;
  /** One declaration per option (type, default, range, doc): the source of `defaults`, `parseOptions` and the docs. */
  readonly options: OptionSchema;
  /** Defaults from the method's paper. */
  readonly defaults: O;
  /** Merge user options over the defaults; throw an Error naming the bad field. */
  parseOptions(options: Record<string, unknown> | undefined): O;
  run(context: MethodContext<O>): Promise<MethodResult>;
}
