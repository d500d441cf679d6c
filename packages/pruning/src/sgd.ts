import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { maskTensor } from './masks.js';
import type { Batch, Masks } from './types.js';

/** Mean softmax cross-entropy of logits [n, classes] against int class ids [n]. */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.shape.length - 1];
    const oneHot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, classes);
    return tf.losses.softmaxCrossEntropy(oneHot, logits as tf.Tensor2D) as tf.Scalar;
  });
}

/** Loss and gradients of every named parameter (default: all) for one batch; the caller disposes the grads. */
export async function lossAndGradients(
  model: Model,
  batch: Batch,
  names: readonly string[] = [...model.params.keys()],
  lossFn: LossFunction = softmaxCrossEntropy,
): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
  const { loss, grads } = lossTensorAndGradients(model, batch, names, lossFn);
  return { loss: await readScalar(loss), grads };
}

export type LossFunction = (logits: tf.Tensor, labels: tf.Tensor) => tf.Scalar;

/**
 * Loss (a scalar tensor, not yet read back) and gradients: for steps that queue their update before the one
 * read of the loss, so a GPU backend gets the whole step before the host waits.
 */
export function lossTensorAndGradients(
  model: Model,
  batch: Batch,
  names: readonly string[] = [...model.params.keys()],
  lossFn: LossFunction = softmaxCrossEntropy,
): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const vars = names.map((name) => {
    const v = model.params.get(name);
    if (!v) throw new Error(`unknown parameter "${name}"`);
    return v;
  });
  const { value, grads } = tf.variableGrads(() => lossFn(model.forward(batch.inputs, { training: true }), batch.labels), vars);
  const out = new Map<string, tf.Tensor>();
  names.forEach((name, i) => out.set(name, grads[vars[i].name]));
  return { loss: value, grads: out };
}

/** Reads a scalar back to the host (the one synchronisation point of a step) and disposes it. */
export async function readScalar(value: tf.Tensor): Promise<number> {
  try {
    return (await value.data())[0]!;
  } finally {
    value.dispose();
  }
}

export interface MaskedSgdOptions {
  learningRate: number;
  /** Heavy-ball momentum (PyTorch's form: v = μ·v + g; w -= lr·v). */
  momentum?: number;
  /** L2 penalty added to the gradient (PyTorch's weight_decay). */
  weightDecay?: number;
  /** Pruned weights get no gradient and are re-zeroed after the update, so they stay exactly 0. */
  masks?: Masks;
  /** Momentum buffers by parameter name, created on first use; keep the map across steps. */
  velocity: Map<string, tf.Tensor>;
  /** Parameters to update (default: all). */
  trainable?: readonly string[];
  lossFn?: LossFunction;
}

/** One SGD(-momentum) step on one batch with masks enforced; returns the batch loss before the step. */
export async function maskedSgdStep(model: Model, batch: Batch, options: MaskedSgdOptions): Promise<number> {
  const { learningRate, momentum = 0, weightDecay = 0, masks, velocity } = options;
  const names = options.trainable ?? [...model.params.keys()];
  const { loss, grads } = lossTensorAndGradients(model, batch, names, options.lossFn);
  for (const name of names) {
    const param = model.params.get(name)!;
    const grad = grads.get(name)!;
    const mask = masks?.get(name);
    tf.tidy(() => {
      let g: tf.Tensor = grad;
      if (weightDecay !== 0) g = tf.add(g, tf.mul(param, weightDecay));
      if (mask) g = tf.mul(g, mask);
      const previous = velocity.get(name);
      const v = momentum !== 0 && previous ? tf.add(tf.mul(previous, momentum), g) : g;
      if (momentum !== 0) {
        previous?.dispose();
        velocity.set(name, tf.keep(v.clone()));
      }
      let updated = tf.sub(param, tf.mul(v, learningRate));
      if (mask) updated = maskTensor(updated, mask);
      param.assign(updated);
    });
    grad.dispose();
  }
  return readScalar(loss);
}
