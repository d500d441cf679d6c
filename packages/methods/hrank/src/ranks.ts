import * as tf from '@tensorflow/tfjs';
import type { Model, ModelStructure } from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';
import { matrixRank } from './matrix-rank.js';

/** Per group, per unit: the average feature-map rank (HRank's criterion) and the mean activation norm (tie-break). */
export interface UnitRanks {
  rank: Float64Array;
  norm: Float64Array;
}

/**
 * Accumulates HRank statistics over batches. For units whose per-example activation is a matrix (a × b, b > 1:
 * conv feature maps, attention heads) the score is the rank of that matrix, averaged over every example (Lin et
 * al. 2020). For units whose per-example activation is a vector (b = 1: FFN neurons, [seq × 1]) that rank is
 * 0 or 1 and says nothing, so the fallback is the rank of the unit's [examples × a] matrix within each batch
 * (how many independent activation patterns the unit shows across the batch), averaged over batches.
 * Either way ties are broken by the mean Frobenius norm of the activation (lower = pruned first).
 */
export class RankAccumulator {
  private readonly sums = new Map<string, UnitRanks>();
  private readonly counts = new Map<string, number>();

  async add(groupId: string, activations: tf.Tensor): Promise<void> {
    if (activations.rank !== 4) throw new Error(`hrank: activations of "${groupId}" must be [batch, units, a, b], got [${activations.shape}]`);
    const [batch, units, a, b] = activations.shape;
    const values = (await activations.data()) as Float32Array;
    let sums = this.sums.get(groupId);
    if (!sums) {
      sums = { rank: new Float64Array(units), norm: new Float64Array(units) };
      this.sums.set(groupId, sums);
    } else if (sums.rank.length !== units) {
      throw new Error(`hrank: group "${groupId}" changed from ${sums.rank.length} to ${units} units between batches`);
    }
    const per = a * b;
    for (let u = 0; u < units; u++) {
      let normSum = 0;
      for (let n = 0; n < batch; n++) {
        const offset = (n * units + u) * per;
        let s = 0;
        for (let i = 0; i < per; i++) s += values[offset + i] * values[offset + i];
        normSum += Math.sqrt(s);
        if (b > 1) sums.rank[u] += matrixRank(values, a, b, { offset });
      }
      sums.norm[u] += normSum;
      // vector units: one [batch × a] matrix per batch, weighted by the batch size so the average is per example
      if (b === 1) sums.rank[u] += batch * matrixRank(values, batch, a, { offset: u * per, rowStride: units * per });
    }
    this.counts.set(groupId, (this.counts.get(groupId) ?? 0) + batch);
  }

  /** Averages per example. */
  result(groupId: string): UnitRanks {
    const sums = this.sums.get(groupId);
    const count = this.counts.get(groupId);
    if (!sums || !count) throw new Error(`hrank: no activations seen for group "${groupId}"`);
    return { rank: sums.rank.map((r) => r / count), norm: sums.norm.map((x) => x / count) };
  }
}

/** HRank's ranks of every named group over the batches (inference mode, no training, nothing charged). */
export async function averageRanks(
  structure: ModelStructure,
  model: Model,
  batches: readonly Batch[],
  groupIds: readonly string[],
): Promise<Map<string, UnitRanks>> {
  const accumulator = new RankAccumulator();
  for (const batch of batches) {
    const capture = structure.forwardWithActivations(model, batch.inputs, groupIds);
    try {
      for (const id of groupIds) await accumulator.add(id, capture.activations.get(id)!);
    } finally {
      tf.dispose([capture.output, capture.features, ...capture.activations.values()]);
    }
  }
  return new Map(groupIds.map((id) => [id, accumulator.result(id)]));
}
