/**
 * Targets → counts of kept prunable weights, with one rounding convention for every unstructured method:
 *
 * - sparsity s (fraction of the prunable weights set to zero) is rounded per layer: layer i of nᵢ weights
 *   prunes round(s · nᵢ) and keeps nᵢ − round(s · nᵢ); the total kept is the sum of those, and a global
 *   allocation keeps that same total over all layers.
 * - compression r (ShrinkBench: total params / nonzero params over the whole model, non-prunable params
 *   counted as nonzero) is one global count K = round(total / r) − nonPrunable; a layer-wise allocation
 *   spreads K over the layers by largest remainder (`distributeKeepCount`), each layer within one weight of
 *   its share K · nᵢ / Σn.
 */
import type { Model, StructuredTarget } from '@prunebench/models';
import { distributeKeepCount } from './allocation.js';
import { getParam } from './masks.js';
import { nmKeepCount, parseNmPattern, type NmPattern } from './nm.js';
import type { Masks, PruningTarget } from './types.js';

/** Parameter counts of a model split by prunability. */
export interface ParamCounts {
  total: number;
  prunable: number;
  nonPrunable: number;
}

/** Total, prunable and non-prunable parameter counts from shapes (masks ignored); `countParameters` in metrics counts nonzeros. */
export function countPrunableParams(model: Model, prunable: readonly string[]): ParamCounts {
  let prunableCount = 0;
  for (const size of prunableSizes(model, prunable).values()) prunableCount += size;
  let total = 0;
  for (const param of model.params.values()) total += param.size;
  return { total, prunable: prunableCount, nonPrunable: total - prunableCount };
}

/** How many prunable weights to keep in all for a target (the convention above). */
export function keepCountForTarget(model: Model, prunable: readonly string[], target: PruningTarget): number {
  const kind = checkTarget(target);
  if (kind === 'n-of-m') return nmKeepCount(model, prunable, target as NmPattern);
  if (kind === 'sparsity') {
    let keep = 0;
    for (const count of sparsityKeepCounts(model, prunable, (target as { fraction: number }).fraction).values()) keep += count;
    return keep;
  }
  const ratio = (target as { ratio: number }).ratio;
  const counts = countPrunableParams(model, prunable);
  const keep = Math.min(counts.prunable, Math.round(counts.total / ratio) - counts.nonPrunable);
  if (keep < 1) {
    const best = counts.total / (counts.nonPrunable + 1);
    throw new Error(
      `target.ratio ${ratio} is unreachable: ${counts.nonPrunable} of ${counts.total} parameters are not prunable, ` +
        `so the highest reachable compression is ${best.toFixed(3)}`,
    );
  }
  return keep;
}

/**
 * Kept weights per prunable layer when every layer is pruned alike (the convention above): a sparsity target
 * rounds per layer, a compression target spreads its global count by largest remainder.
 */
export function layerKeepCountsForTarget(model: Model, prunable: readonly string[], target: PruningTarget): Map<string, number> {
  const kind = checkTarget(target);
  if (kind === 'sparsity') return sparsityKeepCounts(model, prunable, (target as { fraction: number }).fraction);
  if (kind === 'n-of-m') {
    return new Map(prunable.map((name) => [name, nmKeepCount(model, [name], target as NmPattern)]));
  }
  return distributeKeepCount(prunableSizes(model, prunable), keepCountForTarget(model, prunable, target));
}

/** A target a structured method can price (compression or FLOP reduction); a sparsity target is an error. */
export function structuredTargetOf(target: PruningTarget): StructuredTarget {
  if (target.kind === 'sparsity' || target.kind === 'n-of-m') {
    throw new Error(`target.kind "${target.kind}" is for unstructured methods: structured methods take a compression or flopsReduction target`);
  }
  return target;
}

/** The compression a set of masks achieves (ShrinkBench's definition, non-prunable params counted as nonzero). */
export async function compressionRatioOfMasks(model: Model, prunable: readonly string[], masks: Masks): Promise<number> {
  const counts = countPrunableParams(model, prunable);
  let kept = 0;
  for (const name of prunable) {
    const mask = masks.get(name);
    if (!mask) kept += getParam(model, name).size;
    else {
      const m = await mask.data();
      for (let i = 0; i < m.length; i++) if (m[i] !== 0) kept++;
    }
  }
  return counts.total / (counts.nonPrunable + kept);
}

function checkTarget(target: PruningTarget): 'compression' | 'sparsity' | 'n-of-m' {
  if (!target || typeof target !== 'object') throw new Error('target must be an object { kind, ... }');
  if (target.kind === 'flops-reduction') {
    throw new Error('target.kind "flops-reduction" is not supported here: unstructured methods take a compression or sparsity target');
  }
  if (target.kind === 'compression') {
    const ratio = target.ratio;
    if (typeof ratio !== 'number' || !Number.isFinite(ratio) || ratio < 1) throw new Error(`target.ratio must be a finite number >= 1, got ${ratio}`);
    return 'compression';
  }
  if (target.kind === 'sparsity') {
    const fraction = target.fraction;
    if (typeof fraction !== 'number' || !Number.isFinite(fraction) || fraction < 0 || fraction >= 1) {
      throw new Error(`target.fraction (sparsity) must be a number in [0, 1), got ${fraction}`);
    }
    return 'sparsity';
  }
  if (target.kind === 'n-of-m') {
    parseNmPattern(`${target.n}:${target.m}`, 'target (n-of-m)');
    return 'n-of-m';
  }
  throw new Error(`target.kind must be "compression", "sparsity" or "n-of-m", got ${JSON.stringify((target as { kind: unknown }).kind)}`);
}

function prunableSizes(model: Model, prunable: readonly string[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const name of prunable) {
    if (sizes.has(name)) throw new Error(`prunable lists "${name}" twice`);
    sizes.set(name, getParam(model, name).size);
  }
  return sizes;
}

function sparsityKeepCounts(model: Model, prunable: readonly string[], sparsity: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [name, size] of prunableSizes(model, prunable)) counts.set(name, size - Math.round(sparsity * size));
  return counts;
}
