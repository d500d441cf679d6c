import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '@prunebench/engine';
import type { Model } from '@prunebench/models';
import { getParam } from './masks.js';

/** Fan-in of a weight in prunebench's internal layout: conv HWIO → kh·kw·in, linear [in, out] → in. */
export function fanIn(shape: readonly number[], kind: 'conv2d' | 'linear'): number {
  if (kind === 'conv2d') {
    if (shape.length !== 4) throw new Error(`conv2d weight must be 4-D HWIO, got shape [${shape}]`);
    return shape[0] * shape[1] * shape[2];
  }
  if (shape.length !== 2) throw new Error(`linear weight must be 2-D [in, out], got shape [${shape}]`);
  return shape[0];
}

/**
 * Re-sample the named conv/linear weights from a Kaiming-normal distribution (He et al. 2015, fan-in, ReLU
 * gain: std = sqrt(2 / fanIn)) drawn from `rng`, in name order. Used to prune "at initialisation" when the
 * harness hands over a trained checkpoint. Parameters of other kinds are rejected.
 */
export function kaimingNormalReinit(model: Model, names: readonly string[], rng: SeededRng): void {
  for (const name of names) {
    const param = getParam(model, name);
    const kind = model.paramKinds.get(name);
    if (kind !== 'conv2d' && kind !== 'linear') {
      throw new Error(`cannot re-initialise "${name}" of kind ${kind}: only conv2d and linear weights`);
    }
    const std = Math.sqrt(2 / fanIn(param.shape, kind));
    const values = tf.tensor(rng.normalArray(param.size, std), param.shape, 'float32');
    param.assign(values);
    values.dispose();
  }
}

/**
 * A generic fresh initialisation for any model: conv/linear weights Kaiming-normal (see `kaimingNormalReinit`),
 * biases and norm shifts 0, norm scales 1, buffers named `*running_mean` 0 and `*running_var` 1 (other
 * buffers untouched). Embeddings are re-sampled N(0, 0.02²) (BERT's init).
 */
export function reinitializeModel(model: Model, rng: SeededRng): void {
  const weights: string[] = [];
  for (const [name, kind] of model.paramKinds) {
    const param = getParam(model, name);
    if (kind === 'conv2d' || kind === 'linear') weights.push(name);
    else if (kind === 'bias' || kind === 'norm-shift') param.assign(tf.zerosLike(param));
    else if (kind === 'norm-scale') param.assign(tf.onesLike(param));
    else if (kind === 'embedding') param.assign(tf.tensor(rng.normalArray(param.size, 0.02), param.shape, 'float32'));
  }
  kaimingNormalReinit(model, weights, rng);
  for (const [name, buffer] of model.buffers) {
    if (name.endsWith('running_mean')) buffer.assign(tf.zerosLike(buffer));
    else if (name.endsWith('running_var')) buffer.assign(tf.onesLike(buffer));
  }
}
