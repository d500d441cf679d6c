import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '@prunebench/engine';
import type { Model } from '@prunebench/models';
import { getParam } from './masks.js';

/** Importance scores by parameter name, the same shape as the parameter; higher = more important. */
export type Scores = Map<string, tf.Tensor>;

/** |w| for each named parameter (Han et al. 2015). */
export function magnitudeScores(model: Model, names: readonly string[]): Scores {
  const scores: Scores = new Map();
  for (const name of names) scores.set(name, tf.abs(getParam(model, name)));
  return scores;
}

/** Uniform random scores in [0, 1) drawn from `rng` in name order: the control every table needs. */
export function randomScores(model: Model, names: readonly string[], rng: SeededRng): Scores {
  const scores: Scores = new Map();
  for (const name of names) {
    const param = getParam(model, name);
    scores.set(name, tf.tensor(rng.uniformArray(param.size, 0, 1), param.shape, 'float32'));
  }
  return scores;
}

/**
 * SNIP's connection sensitivity |g ⊙ w| (Lee et al. 2019), given the loss gradients of the named parameters.
 * The paper normalises by the sum over all weights; that does not change the ranking, so it is left out.
 */
export function connectionSensitivityScores(
  model: Model,
  names: readonly string[],
  gradients: Map<string, tf.Tensor>,
): Scores {
  const scores: Scores = new Map();
  for (const name of names) {
    const param = getParam(model, name);
    const grad = gradients.get(name);
    if (!grad) throw new Error(`no gradient for parameter "${name}"`);
    scores.set(name, tf.tidy(() => tf.abs(tf.mul(grad, param))));
  }
  return scores;
}

export function disposeScores(scores: Scores): void {
  for (const s of scores.values()) s.dispose();
}
