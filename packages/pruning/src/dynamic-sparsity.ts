/**
 * Dynamic sparse training (SET, Mocanu et al. 2018; RigL, Evci et al. 2020): train at a fixed sparsity, now and then
 * drop the smallest-magnitude active weights of each layer and regrow as many elsewhere, by gradient magnitude (RigL)
 * or at random (SET). The pieces here are the shared ones: the layer densities (uniform or Erdős–Rényi-Kernel), the
 * cosine-decayed drop fraction and one drop-and-grow step that keeps every layer's count exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { distributeKeepCount } from './allocation.js';
import { getParam } from './masks.js';
import type { Scores } from './scores.js';
import type { Masks } from './types.js';

export type SparseLayerAllocation = 'uniform' | 'erk';

/**
 * Erdős–Rényi-Kernel densities (Evci et al. 2020, after Mocanu et al.'s Erdős–Rényi): a layer of shape
 * [d₁ … d_k] (conv HWIO: kh, kw, in, out; linear: in, out) gets density ε · (Σ dᵢ) / (Π dᵢ), ε chosen so the kept weights
 * total `keepCount`; a layer whose density would exceed 1 is kept dense and ε solved again over the others.
 * Returns the real-valued densities (see `sparseLayerKeepCounts` for whole counts).
 */
export function erkDensities(shapes: ReadonlyMap<string, readonly number[]>, keepCount: number): Map<string, number> {
  const names = [...shapes.keys()];
  const size = (name: string) => shapes.get(name)!.reduce((a, b) => a * b, 1);
  const total = names.reduce((sum, name) => sum + size(name), 0);
  if (!Number.isInteger(keepCount) || keepCount < 0 || keepCount > total) throw new Error(`keepCount must be an integer in [0, ${total}], got ${keepCount}`);
  const raw = new Map(names.map((name) => {
    const shape = shapes.get(name)!;
    return [name, shape.reduce((a, b) => a + b, 0) / size(name)];
  }));
  const dense = new Set<string>();
  let epsilon = 0;
  for (;;) {
    const sparse = names.filter((name) => !dense.has(name));
    const budget = keepCount - [...dense].reduce((sum, name) => sum + size(name), 0);
    const divisor = sparse.reduce((sum, name) => sum + raw.get(name)! * size(name), 0);
    epsilon = divisor > 0 ? budget / divisor : 0;
    const over = sparse.filter((name) => epsilon * raw.get(name)! > 1);
    if (over.length === 0) break;
    // The layer with the largest density becomes dense first (Evci et al.'s loop), then ε is solved again.
    over.sort((a, b) => raw.get(b)! - raw.get(a)! || (a < b ? -1 : 1));
    dense.add(over[0]);
  }
  return new Map(names.map((name) => [name, dense.has(name) ? 1 : epsilon * raw.get(name)!]));
}

/**
 * Whole kept counts per layer summing exactly to `keepCount`: `uniform` the same sparsity in every layer
 * (`distributeKeepCount`), `erk` the ERK densities × sizes rounded down, the rest given one each to the largest
 * fractional parts (ties to the earlier layer), never above a layer's size.
 */
export function sparseLayerKeepCounts(model: Model, prunable: readonly string[], keepCount: number, allocation: SparseLayerAllocation): Map<string, number> {
  const shapes = new Map(prunable.map((name) => [name, getParam(model, name).shape]));
  const sizes = new Map(prunable.map((name) => [name, getParam(model, name).size]));
  if (allocation === 'uniform') return distributeKeepCount(sizes, keepCount);
  const densities = erkDensities(shapes, keepCount);
  const counts = new Map<string, number>();
  const fractions: Array<{ name: string; fraction: number }> = [];
  let left = keepCount;
  for (const name of prunable) {
    const exact = Math.min(sizes.get(name)!, densities.get(name)! * sizes.get(name)!);
    const whole = Math.floor(exact + 1e-9);
    counts.set(name, whole);
    left -= whole;
    fractions.push({ name, fraction: exact - whole });
  }
  fractions.sort((a, b) => b.fraction - a.fraction);
  for (let i = 0; left > 0; i = (i + 1) % fractions.length) {
    const { name } = fractions[i];
    if (counts.get(name)! < sizes.get(name)!) {
      counts.set(name, counts.get(name)! + 1);
      left--;
    }
  }
  return counts;
}

/** Evci et al.'s drop fraction at time t: α/2 · (1 + cos(π t / T_end)) before T_end, 0 from T_end on. */
export function cosineDropFraction(alpha: number, t: number, tEnd: number): number {
  if (!(t < tEnd)) return 0;
  return (alpha / 2) * (1 + Math.cos((Math.PI * t) / tEnd));
}

/**
 * One layer's drop and grow: the `count` active weights of smallest |w| are dropped (ties: lower index first), then
 * `count` of the now-inactive positions (just-dropped ones included, as in Evci et al.) with the highest grow score are
 * switched on (ties: lower index first). The layer keeps exactly as many active weights as before.
 */
export function dropAndGrowLayer(weights: ArrayLike<number>, mask: ArrayLike<number>, growScores: ArrayLike<number>, count: number): Float32Array {
  const next = Float32Array.from(mask, (v) => (v !== 0 ? 1 : 0));
  const active: number[] = [];
  for (let i = 0; i < next.length; i++) if (next[i] !== 0) active.push(i);
  if (!Number.isInteger(count) || count < 0 || count > active.length) throw new Error(`drop count must be an integer in [0, ${active.length}], got ${count}`);
  if (count === 0) return next;
  active.sort((a, b) => Math.abs(weights[a]) - Math.abs(weights[b]) || a - b);
  for (let j = 0; j < count; j++) next[active[j]] = 0;
  const inactive: number[] = [];
  for (let i = 0; i < next.length; i++) if (next[i] === 0) inactive.push(i);
  inactive.sort((a, b) => growScores[b] - growScores[a] || a - b);
  for (let j = 0; j < count; j++) next[inactive[j]] = 1;
  return next;
}

export interface DropAndGrowResult {
  masks: Masks;
  /** Per layer: weights dropped (= regrown). */
  moved: Map<string, number>;
}

/**
 * A drop-and-grow update of every masked layer: each drops round(fraction · its active weights) by magnitude and regrows
 * as many by `growScores` (RigL: |gradient|; SET: random). New mask tensors; the caller keeps `masks` and the scores.
 */
export async function dropAndGrow(model: Model, masks: Masks, growScores: Scores, fraction: number): Promise<DropAndGrowResult> {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`drop fraction must be in [0, 1], got ${fraction}`);
  const next: Masks = new Map();
  const moved = new Map<string, number>();
  for (const [name, mask] of masks) {
    const scores = growScores.get(name);
    if (!scores) throw new Error(`dropAndGrow: no grow scores for "${name}"`);
    const param = getParam(model, name);
    const [w, m, g] = [await param.data(), await mask.data(), await scores.data()];
    let active = 0;
    for (let i = 0; i < m.length; i++) if (m[i] !== 0) active++;
    const count = Math.min(active, Math.round(fraction * active));
    next.set(name, tf.tensor(dropAndGrowLayer(w, m, g, count), mask.shape, 'float32'));
    moved.set(name, count);
  }
  return { masks: next, moved };
}
