import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import type { Batch } from './types.js';

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
