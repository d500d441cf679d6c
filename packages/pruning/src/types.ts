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
 * What to reach: a compression ratio, a sparsity or a FLOP reduction. Compression follows ShrinkBench: total
 * parameters of the WHOLE model / nonzero parameters, where non-prunable parameters (biases, norm layers) count
 * as nonzero. Sparsity is the fraction of the prunable weights set to zero. See `keepCountForTarget` (target.ts)
 * for how each becomes a count of kept weights, per layer and in all.
 */
export type PruningTarget =
  | { kind: 'compression'; ratio: number }
  | { kind: 'sparsity'; fraction: number }
  | { kind: 'flops-reduction'; fraction: number };

export type { Batch } from './batch.js';
import type { Batch } from './batch.js';

export class BudgetExceededError extends Error {
  constructor(readonly requested: number, readonly remaining: number, readonly total: number) {
    super(`training budget exceeded: requested ${requested} examples, ${remaining} of ${total} remain`);
    this.name = 'BudgetExceededError';
  }
}

export interface TrainOptions {
  /** Examples to train on (forward + backward). Charged to the budget before training starts. */
  examples: number;
  /** Masks kept applied through training: pruned weights stay exactly zero after every step. */
  masks?: Masks;
  /** Learning-rate multiplier on the task's recipe (e.g. LTH rounds, short candidate fine-tuning). */
  lrScale?: number;
  /**
   * Gradient evaluations per optimizer step (SAM-style methods need 2). The budget is charged
   * examples × gradientEvaluationsPerStep.
   */
  gradientEvaluationsPerStep?: number;
  /** A short label for logs and the per-epoch record (e.g. `lth-round-3`). */
  label?: string;
}

export interface TrainSummary {
  steps: number;
  examples: number;
  finalLoss: number;
  losses: number[]; // one mean per epoch-or-chunk, for the per-epoch log
}

/** The only way a method may train or compute gradients. Every backward pass is charged. */
export interface BudgetedTrainer {
  /** Total examples (forward + backward passes) the method may use after its starting checkpoint. */
  readonly totalExamples: number;
  usedExamples(): number;
  remainingExamples(): number;
  /** Fine-tune with the task's recipe (optimizer, lr schedule, weight decay, augmentation). */
  train(model: Model, options: TrainOptions): Promise<TrainSummary>;
  /** Loss and gradients for one batch; charges batch.size examples. */
  gradients(model: Model, batch: Batch, masks?: Masks): Promise<{ loss: number; grads: Map<string, tf.Tensor> }>;
  /** Training batches for scoring (SNIP, HRank, CKA probes), drawn with the given generator. Not charged by itself. */
  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[];
  /** Accuracy-like score on the validation split carved from train (never the test split). Not charged. */
  validate(model: Model, masks?: Masks): Promise<number>;
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
  /** Defaults from the method's paper. */
  readonly defaults: O;
  /** Merge user options over the defaults; throw an Error naming the bad field. */
  parseOptions(options: Record<string, unknown> | undefined): O;
  run(context: MethodContext<O>): Promise<MethodResult>;
}
