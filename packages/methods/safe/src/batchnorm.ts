import * as tf from '@tensorflow/tfjs';
import { BN_MOMENTUM, type Model } from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';

/** The batch-norm layers of a model: prefixes that have both `<prefix>.running_mean` and `<prefix>.running_var` buffers. */
export function batchNormPrefixes(model: Model): string[] {
  const prefixes: string[] = [];
  for (const name of model.buffers.keys()) {
    if (!name.endsWith('.running_mean')) continue;
    const prefix = name.slice(0, -'.running_mean'.length);
    if (model.buffers.has(`${prefix}.running_var`)) prefixes.push(prefix);
  }
  return prefixes;
}

/**
 * Re-estimate batch-norm running statistics after pruning (SAFE's final "batch-norm tuning"): forward passes in
 * training mode over `batches`, no gradients. The running statistics end as the plain average of the per-batch
 * statistics (PyTorch's `momentum=None` recalibration), recovered from the model's own exponential update
 * r ← (1 − m)·r + m·batch with m = BN_MOMENTUM (the `Model` convention): before batch i the buffer is set to
 * the running average a, and afterwards a ← a + (r − a)/(m·i). Returns the number of batch-norm layers touched.
 */
export function reestimateBatchNorm(model: Model, batches: Iterable<Batch>, momentum = BN_MOMENTUM): number {
  const prefixes = batchNormPrefixes(model);
  if (prefixes.length === 0) return 0;
  const buffers = prefixes.flatMap((p) => [model.buffers.get(`${p}.running_mean`)!, model.buffers.get(`${p}.running_var`)!]);
  const averages: tf.Tensor[] = buffers.map((b) => b.clone());
  let i = 0;
  for (const batch of batches) {
    i++;
    buffers.forEach((b, j) => b.assign(averages[j]));
    tf.tidy(() => {
      model.forward(batch.inputs, { training: true });
    });
    buffers.forEach((b, j) => {
      const next = tf.tidy(() => tf.add(averages[j], tf.div(tf.sub(b, averages[j]), momentum * i)));
      averages[j].dispose();
      averages[j] = next;
    });
  }
  buffers.forEach((b, j) => {
    if (i > 0) b.assign(averages[j]);
    averages[j].dispose();
  });
  return prefixes.length;
}
