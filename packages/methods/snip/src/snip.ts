import * as tf from '@tensorflow/tfjs';
import {
  applyMasks,
  booleanOption,
  connectionSensitivityScores,
  disposeScores,
  globalMasks,
  keepCountForTarget,
  layerDensities,
  numberOption,
  parseMethodOptions,
  reinitializeModel,
  trainUnlessEmpty,
  type Batch,
  type BudgetedTrainer,
  type MethodContext,
  type MethodResult,
  type PruningMethod,
  type Scores,
} from '@prunebench/pruning';
import type { Model } from '@prunebench/models';

export interface SnipOptions extends Record<string, unknown> {
  /** Mini-batches whose gradients are summed for the scores (Lee et al. 2019 use one). */
  batches: number;
  /** Examples per scoring batch (one mini-batch of the usual training size; 128 on CIFAR-10). */
  batchSize: number;
  /** true: re-initialise the model first (prune at initialisation, as in the paper); false: score the starting checkpoint. */
  atInit: boolean;
  /** Spend the remaining budget training the pruned network. */
  finetune: boolean;
}

const SNIP_DEFAULTS: SnipOptions = { batches: 1, batchSize: 128, atInit: false, finetune: true };

/**
 * SNIP: connection sensitivity |∂L/∂c| = |g ⊙ w| on a few training batches (their backward passes are
 * charged), one global threshold, masks in one shot, then training within the budget.
 */
export const snipMethod: PruningMethod<SnipOptions> = {
  name: 'snip',
  description: 'SNIP: single-shot pruning by connection sensitivity |g ⊙ w| (Lee et al. 2019)',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  defaults: SNIP_DEFAULTS,
  parseOptions(options) {
    return parseMethodOptions('snip', SNIP_DEFAULTS, options, {
      batches: numberOption({ min: 1, integer: true }),
      batchSize: numberOption({ min: 1, integer: true }),
      atInit: booleanOption(),
      finetune: booleanOption(),
    });
  },
  async run(context: MethodContext<SnipOptions>): Promise<MethodResult> {
    const { model, options, trainer, prunable, rng } = context;
    const keepCount = keepCountForTarget(model, prunable, context.target);
    const scoringExamples = options.batches * options.batchSize;
    if (scoringExamples > trainer.remainingExamples()) {
      throw new Error(
        `snip: options batches × batchSize = ${scoringExamples} examples exceed the remaining budget (${trainer.remainingExamples()})`,
      );
    }
    if (options.atInit) reinitializeModel(model, rng.fork('snip-init'));
    const batches = trainer.sampleBatches(options.batches, options.batchSize, rng.fork('snip-batches'));
    const scores = await snipScores(model, prunable, trainer, batches);
    const masks = await globalMasks(scores, keepCount);
    disposeScores(scores);
    applyMasks(model, masks);
    context.log(`snip: keep ${keepCount} prunable weights from ${scoringExamples} scoring examples`);
    if (options.finetune) {
      await trainUnlessEmpty(trainer, model, { examples: trainer.remainingExamples(), masks, label: 'snip-train' });
    }
    return { model, masks, details: { keepCount, scoringExamples, atInit: options.atInit, layerDensity: await layerDensities(masks) } };
  },
};

/** |Σ_b g_b ⊙ w| over the given batches (each charged by the trainer); disposes the batches. */
export async function snipScores(model: Model, prunable: readonly string[], trainer: BudgetedTrainer, batches: Batch[]): Promise<Scores> {
  const summed = new Map<string, tf.Tensor>();
  try {
    for (const batch of batches) {
      const { grads } = await trainer.gradients(model, batch);
      for (const [name, grad] of grads) {
        if (prunable.includes(name)) {
          const previous = summed.get(name);
          summed.set(name, previous ? tf.add(previous, grad) : grad.clone());
          previous?.dispose();
        }
        grad.dispose();
      }
    }
    return connectionSensitivityScores(model, prunable, summed);
  } finally {
    for (const g of summed.values()) g.dispose();
    for (const batch of batches) {
      if (batch.inputs instanceof tf.Tensor) batch.inputs.dispose();
      else for (const t of Object.values(batch.inputs)) t.dispose();
      batch.labels.dispose();
    }
  }
}
