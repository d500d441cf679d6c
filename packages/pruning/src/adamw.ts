import * as tf from '@tensorflow/tfjs';

/** Parameter kinds AdamW decays (weight matrices, convolutions and tables); biases and norms are not, as in BERT fine-tuning. */
export const ADAMW_DECAYED_KINDS: ReadonlySet<string> = new Set(['linear', 'conv2d', 'embedding']);

/** AdamW's first and second moments by parameter name. */
export interface AdamWMoments {
  m: Map<string, tf.Tensor>;
  v: Map<string, tf.Tensor>;
}

export interface AdamWSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay; applied only where `decayed` is true. */
  weightDecay: number;
  /** 1-based step count, for the bias correction. */
  step: number;
}

/**
 * One AdamW update of one parameter (PyTorch's algorithm): w ← w·(1 − lr·wd); m, v updated with bias
 * correction at `step`; w ← w − lr·m̂/(√v̂ + ε). Returns the new value (the caller masks and assigns it) and keeps
 * the new moments in `moments`. Call inside a tf.tidy.
 */
export function adamWUpdate(
  name: string,
  param: tf.Tensor,
  grad: tf.Tensor,
  moments: AdamWMoments,
  settings: AdamWSettings,
  decayed: boolean,
): tf.Tensor {
  const { learningRate, beta1, beta2, eps, weightDecay, step } = settings;
  const previousM = moments.m.get(name);
  const previousV = moments.v.get(name);
  const m = previousM ? tf.add(tf.mul(previousM, beta1), tf.mul(grad, 1 - beta1)) : tf.mul(grad, 1 - beta1);
  const v = previousV ? tf.add(tf.mul(previousV, beta2), tf.mul(tf.square(grad), 1 - beta2)) : tf.mul(tf.square(grad), 1 - beta2);
  previousM?.dispose();
  previousV?.dispose();
  moments.m.set(name, tf.keep(m));
  moments.v.set(name, tf.keep(v));
  const decay = decayed && weightDecay !== 0 ? learningRate * weightDecay : 0;
  const decayedParam = decay !== 0 ? tf.mul(param, 1 - decay) : param;
  const update = tf.div(tf.div(m, 1 - beta1 ** step), tf.add(tf.sqrt(tf.div(v, 1 - beta2 ** step)), eps));
  return tf.sub(decayedParam, tf.mul(update, learningRate));
}
