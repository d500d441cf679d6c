import type { Model, ModelStructure } from '@prunebench/models';

/**
 * FPGM's criterion for the rows of `[units, features]`: for each unit j, Σ_k ‖w_j − w_k‖₂ over the other units of
 * the same group. The unit with the smallest sum is the one nearest the group's geometric median (the point that
 * minimises the sum of Euclidean distances to all units), i.e. the one best replaced by the others (He et al. 2019,
 * eq. 4–6, and their code's `torch.cdist` + sum). Computed in float64 on the host from the rows.
 */
export function distanceSums(rows: ArrayLike<number>, units: number, features: number): Float64Array {
  const sums = new Float64Array(units);
  for (let a = 0; a < units; a++) {
    for (let b = a + 1; b < units; b++) {
      let s = 0;
      for (let f = 0; f < features; f++) {
        const d = rows[a * features + f] - rows[b * features + f];
        s += d * d;
      }
      const dist = Math.sqrt(s);
      sums[a] += dist;
      sums[b] += dist;
    }
  }
  return sums;
}

/** distanceSums of a group's unit weights, as the structure gives them (`unitWeights`). */
export async function unitDistanceSums(structure: ModelStructure, model: Model, groupId: string): Promise<Float64Array> {
  if (!structure.unitWeights) throw new Error(`fpgm: the family "${model.arch.family}" gives no unit weights (ModelStructure.unitWeights), which FPGM measures`);
  const weights = structure.unitWeights(model, groupId);
  try {
    const [units, features] = weights.shape;
    return distanceSums((await weights.data()) as Float32Array, units, features);
  } finally {
    weights.dispose();
  }
}

