import * as tf from '@tensorflow/tfjs';
import {
  booleanOption,
  connectionSensitivityScores,
  defineScoreMethod,
  disposeBatch,
  numberOption,
  reinitializeModel,
  type Batch,
  type BudgetedTrainer,
  type OptionsOf,
  type SCORE_METHOD_OPTIONS,
  type Scores,
} from '@prunebench/pruning';
import type { Model } from '@prunebench/models';

const SNIP_OPTIONS = {
  batches: numberOption({ default: 1, min: 1, integer: true, doc: 'Mini-batches whose gradients are summed for the scores (Lee et al. 2019 use one).' }),
  batchSize: numberOption({ default: 128, min: 1, integer: true, doc: 'Examples per scoring batch (one mini-batch of the usual training size; 128 on CIFAR-10).' }),
  atInit: booleanOption({ default: false, doc: '`true`: re-initialise the model first (prune at initialisation, as in the paper); `false`: score the starting checkpoint.' }),
};

export type SnipOptions = OptionsOf<typeof SNIP_OPTIONS & typeof SCORE_METHOD_OPTIONS>;

/**
 * SNIP: connection sensitivity |∂L/∂c| = |g ⊙ w| on a few training batches (their backward passes are charged),
 * masks in one shot by default, then training within the budget.
 */
export const snipMethod = defineScoreMethod({
  name: 'snip',
  description: 'SNIP: single-shot pruning by connection sensitivity |g ⊙ w| (Lee et al. 2019)',
  options: SNIP_OPTIONS,
  scoring: { examples: (options) => options.batches * options.batchSize, from: 'options batches × batchSize' },
  prepare: ({ model, options, rng }) => {
    if (options.atInit) reinitializeModel(model, rng.fork('snip-init'));
  },
  score: ({ model, options, trainer, rng }, prunable, step) => {
    const batches = trainer.sampleBatches(options.batches, options.batchSize, rng.fork(step.index === 0 ? 'snip-batches' : `snip-batches-${step.index + 1}`));
    return snipScores(model, prunable, trainer, batches);
  },
  details: (options) => ({ atInit: options.atInit }),
});

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
    for (const batch of batches) disposeBatch(batch);
  }
}
