import type { Model } from '@prunebench/models';
import { getParam } from './masks.js';
import type { Masks, PruningTarget } from './types.js';

/** Parameter counts of a model split by prunability. */
export interface ParamCounts {
  total: number;
  prunable: number;
  nonPrunable: number;
}

export function countParams(model: Model, prunable: readonly string[]): ParamCounts {
  const seen = new Set<string>();
  let prunableCount = 0;
  for (const name of prunable) {
    if (seen.has(name)) throw new Error(`prunable lists "${name}" twice`);
    seen.add(name);
    prunableCount += getParam(model, name).size;
  }
  let total = 0;
  for (const param of model.params.values()) total += param.size;
  return { total, prunable: prunableCount, nonPrunable: total - prunableCount };
}

/**
 * How many prunable weights to keep for a compression target r, ShrinkBench's definition over the WHOLE
 * model: total params / nonzero params = r, where non-prunable params (biases, norm layers) count as
 * nonzero. Solved for the kept prunable weights, rounded to the nearest count.
 */
export function keepCountForTarget(model: Model, prunable: readonly string[], target: PruningTarget): number {
  if (!target || typeof target !== 'object') throw new Error('target must be an object { kind, ... }');
  if (target.kind === 'flops-reduction') {
    throw new Error('target.kind "flops-reduction" is not supported here: unstructured methods take a compression target');
  }
  if (target.kind !== 'compression') throw new Error(`target.kind must be "compression", got ${JSON.stringify((target as { kind: unknown }).kind)}`);
  const ratio = target.ratio;
  if (typeof ratio !== 'number' || !Number.isFinite(ratio) || ratio < 1) {
    throw new Error(`target.ratio must be a finite number >= 1, got ${ratio}`);
  }
  const counts = countParams(model, prunable);
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

/** The achieved compression (ShrinkBench's definition, non-prunable params counted as nonzero). */
export function compressionRatio(model: Model, prunable: readonly string[], masks: Masks): number {
  const counts = countParams(model, prunable);
  let kept = 0;
  for (const name of prunable) {
    const mask = masks.get(name);
    if (!mask) kept += getParam(model, name).size;
    else {
      const m = mask.dataSync();
      for (let i = 0; i < m.length; i++) if (m[i] !== 0) kept++;
    }
  }
  return counts.total / (counts.nonPrunable + kept);
}
