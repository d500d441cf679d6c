import * as tf from '@tensorflow/tfjs';
import { fusedAxpy, fusedSumsOfSquares } from '@prunebench/engine';
import type { Model } from '@prunebench/models';

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

/**
 * SAM's ascent in place: every named parameter w ← w + ε (ε as samPerturbation's, from `grads`); returns ‖g‖₂.
 * `fused` (webgpu, where the compiled step's rule allows): the sums of squares and the ascent are one dispatch per
 * tensor each, two submits, instead of four tfjs kernels per parameter; the same arithmetic up to float32 rounding
 * (the per-tensor sums are still added on the host in float64).
 */
export async function samAscent(model: Model, grads: ReadonlyMap<string, tf.Tensor>, rho: number, fused: boolean): Promise<number> {
  if (!fused) {
    const { perturbation, gradNorm } = await samPerturbation(grads, rho);
    try {
      for (const [name, e] of perturbation) {
        const param = model.params.get(name)!;
        tf.tidy(() => param.assign(tf.add(param, e)));
      }
    } finally {
      tf.dispose([...perturbation.values()]);
    }
    return gradNorm;
  }
  if (!Number.isFinite(rho) || rho < 0) throw new Error(`rho must be a finite number >= 0, got ${rho}`);
  const names = [...grads.keys()];
  let sumSquares = 0;
  for (const value of await fusedSumsOfSquares(names.map((name) => grads.get(name)!))) sumSquares += value;
  const gradNorm = Math.sqrt(sumSquares);
  const moved = fusedAxpy(names.map((name) => ({ x: model.params.get(name)!, y: grads.get(name)! })), rho / (gradNorm + SAM_NORM_EPSILON));
  names.forEach((name, i) => model.params.get(name)!.assign(moved[i]!));
  tf.dispose(moved);
  return gradNorm;
}
