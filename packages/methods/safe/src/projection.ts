import * as tf from '@tensorflow/tfjs';
import { distributeKeepCount, globalMasks, layerwiseMasks, maskTensor, type Masks } from '@prunebench/pruning';

export type SparsityScope = 'global' | 'layerwise';

/** How many entries to keep: a total (layer-wise: spread by largest remainder), or exact counts per tensor. */
export type ProjectionKeep = number | ReadonlyMap<string, number>;

/**
 * Euclidean projection onto the sparsity constraint {x : ‖x‖₀ ≤ k}: keep the k entries of largest magnitude
 * and zero the rest. `global`: one ranking over all tensors; `layerwise`: the same sparsity in every tensor
 * (each within one weight of its share, the total exactly k), or exactly the given count per tensor. Ties are broken deterministically by the shared
 * allocation code: among equal magnitudes the entry that comes first (map order, then flat index) is kept.
 * The caller owns and disposes both maps.
 */
export async function projectOntoTopK(
  values: ReadonlyMap<string, tf.Tensor>,
  keep: ProjectionKeep,
  scope: SparsityScope = 'global',
): Promise<{ projected: Map<string, tf.Tensor>; masks: Masks }> {
  const scores = new Map<string, tf.Tensor>();
  for (const [name, value] of values) scores.set(name, tf.abs(value));
  let masks: Masks;
  try {
    if (scope === 'global') {
      masks = await globalMasks(scores, typeof keep === 'number' ? keep : [...keep.values()].reduce((a, b) => a + b, 0));
    } else {
      const sizes = new Map([...values].map(([name, value]) => [name, value.size]));
      const counts = typeof keep === 'number' ? distributeKeepCount(sizes, keep) : keep;
      masks = await layerwiseMasks(scores, { keepCounts: Object.fromEntries(counts) });
    }
  } finally {
    for (const s of scores.values()) s.dispose();
  }
  const projected = new Map<string, tf.Tensor>();
  for (const [name, value] of values) projected.set(name, maskTensor(value, masks.get(name)!));
  return { projected, masks };
}
