import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import {
  CALIBRATION_OPTIONS,
  calibrateLayers,
  calibrationBatches,
  defineScoreMethod,
  disposeBatches,
  getParam,
  reportedLayers,
  type OptionsOf,
  type SCORE_METHOD_OPTIONS,
  type Scores,
} from '@prunebench/pruning';

export type WandaOptions = OptionsOf<typeof CALIBRATION_OPTIONS & typeof SCORE_METHOD_OPTIONS>;

/**
 * Wanda (Sun, Liu, Bair, Kolter 2023): score |W_ij| · ‖X_j‖₂, the weight times the L2 norm of its input feature over
 * calibration activations, compared among the inputs of each output (allocation `per-output`), no weight update and
 * no fine-tuning by default. Convolutions use their im2col view: feature j is one (kernel position, input channel).
 * With equal input norms the score is |W|, so Wanda is then magnitude pruning per output.
 */
export const wandaMethod = defineScoreMethod({
  name: 'wanda',
  description: 'Wanda (Sun et al. 2023): |W| × ‖X‖₂ per input feature from calibration activations, compared per output, no retraining',
  options: CALIBRATION_OPTIONS,
  sharedDefaults: { allocation: 'per-output', finetune: false },
  score: async ({ model, options, trainer, rng, log }, prunable): Promise<Scores> => {
    const batches = calibrationBatches(trainer, rng, options.calibrationExamples, options.calibrationBatchSize);
    try {
      const calibrated = reportedLayers(model, batches[0], prunable);
      const uncalibrated = prunable.filter((name) => !calibrated.includes(name));
      if (uncalibrated.length) log(`wanda: no activations for ${uncalibrated.join(', ')} (not multiplied by an input): scored by |W|`);
      const stats = await calibrateLayers(model, batches, calibrated, 'squared-norms');
      return wandaScores(model, prunable, new Map([...stats].map(([name, s]) => [name, s.squaredNorms])));
    } finally {
      disposeBatches(batches);
    }
  },
  details: (options) => ({ calibrationExamples: options.calibrationExamples, forwardOnlyExamples: options.calibrationExamples }),
});

/**
 * |W| · ‖X_j‖₂ for every prunable weight, from each layer's per-input-feature squared norms (reduction view). A layer
 * without norms (no activations: embedding tables) is scored by |W|.
 */
export function wandaScores(model: Model, prunable: readonly string[], squaredNorms: ReadonlyMap<string, ArrayLike<number>>): Scores {
  const scores: Scores = new Map();
  for (const name of prunable) {
    const weight = getParam(model, name);
    const norms = squaredNorms.get(name);
    const inputs = weight.size / weight.shape[weight.rank - 1];
    if (!norms) {
      scores.set(name, tf.abs(weight));
      continue;
    }
    if (norms.length !== inputs) throw new Error(`wanda: ${norms.length} input norms for "${name}", which has ${inputs} inputs`);
    const column = tf.tensor(Float32Array.from(norms, Math.sqrt), [...weight.shape.slice(0, -1), 1]);
    scores.set(name, tf.tidy(() => tf.mul(tf.abs(weight), column)));
    column.dispose();
  }
  return scores;
}
