import * as tf from '@tensorflow/tfjs';

/** Added to ‖g‖ before dividing, as in the reference implementation (guards a zero gradient). */
export const SAM_NORM_EPSILON = 1e-12;

/** Global L2 norm over every tensor of the map: per-tensor sums of squares, read back at once, added in float64. */
export async function globalNorm(tensors: Iterable<tf.Tensor>): Promise<number> {
  const list = [...tensors];
  if (list.length === 0) return 0;
  const sums = tf.tidy(() => tf.stack(list.map((t) => tf.sum(tf.square(t)))));
  try {
    let sumSquares = 0;
    for (const value of await sums.data()) sumSquares += value;
    return Math.sqrt(sumSquares);
  } finally {
    sums.dispose();
  }
}

/**
 * SAM's first-order worst-case perturbation (Foret et al. 2021), the ascent step of SAFE:
 * ε = ρ · g / (‖g‖₂ + 1e-12), the norm taken over all the given gradients together, so ‖ε‖₂ = ρ
 * (up to the epsilon). The caller disposes the returned tensors.
 */
export async function samPerturbation(
  grads: ReadonlyMap<string, tf.Tensor>,
  rho: number,
): Promise<{ perturbation: Map<string, tf.Tensor>; gradNorm: number }> {
  if (!Number.isFinite(rho) || rho < 0) throw new Error(`rho must be a finite number >= 0, got ${rho}`);
  const gradNorm = await globalNorm(grads.values());
  const scale = rho / (gradNorm + SAM_NORM_EPSILON);
  const perturbation = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) perturbation.set(name, tf.mul(g, scale));
  return { perturbation, gradNorm };
}
