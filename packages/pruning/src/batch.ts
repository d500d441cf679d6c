import * as tf from '@tensorflow/tfjs';

/** A batch of a task's training data (already augmented/normalised), on the current backend. */
export interface Batch {
  inputs: tf.Tensor | Record<string, tf.Tensor>;
  labels: tf.Tensor; // int32 class ids
  size: number;
}

/** Frees a batch's tensors (its inputs, one tensor or a map of them, and its labels). */
export function disposeBatch(batch: Batch): void {
  if (batch.inputs instanceof tf.Tensor) batch.inputs.dispose();
  else for (const t of Object.values(batch.inputs)) t.dispose();
  batch.labels.dispose();
}
