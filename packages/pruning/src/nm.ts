/**
 * N:M semi-structured sparsity (NVIDIA's 2:4): in every group of M consecutive weights along a layer's input
 * (reduction) dimension, at most N are nonzero. Internal layouts put that dimension second to last — linear
 * [in, out], conv HWIO [kh, kw, in, out] — so for a conv the groups run along the input channels at each kernel
 * position and output channel. A layer whose input dimension is not a multiple of M stays dense (and is listed).
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { getParam } from './masks.js';
import type { Scores } from './scores.js';
import type { Masks } from './types.js';

export interface NmPattern {
  n: number;
  m: number;
}

/** `2:4` → { n: 2, m: 4 }; N in [1, M), M in [2, 32]. */
export function parseNmPattern(text: unknown, field = 'nm'): NmPattern {
  const match = typeof text === 'string' ? /^(\d+):(\d+)$/.exec(text) : null;
  if (!match) throw new Error(`${field} must be "N:M" such as "2:4", got ${JSON.stringify(text)}`);
  const n = Number(match[1]);
  const m = Number(match[2]);
  if (!(m >= 2 && m <= 32) || !(n >= 1 && n < m)) throw new Error(`${field} must have 1 ≤ N < M ≤ 32, got ${JSON.stringify(text)}`);
  return { n, m };
}

export function formatNmPattern(pattern: NmPattern): string {
  return `${pattern.n}:${pattern.m}`;
}

/** The size of the dimension the groups run along (linear: in features; conv: input channels). */
export function reductionSize(shape: readonly number[]): number {
  if (shape.length < 2) throw new Error(`N:M needs a weight of rank ≥ 2, got shape [${shape}]`);
  return shape[shape.length - 2];
}

/** Whether a weight of this shape can hold the pattern (its input dimension is a multiple of M). */
export function nmEligible(shape: readonly number[], pattern: NmPattern): boolean {
  return reductionSize(shape) % pattern.m === 0;
}

/** Prunable weights split into those that take the pattern and those left dense. */
export function nmLayers(model: Model, prunable: readonly string[], pattern: NmPattern): { eligible: string[]; dense: string[] } {
  const eligible: string[] = [];
  const dense: string[] = [];
  for (const name of prunable) (nmEligible(getParam(model, name).shape, pattern) ? eligible : dense).push(name);
  return { eligible, dense };
}

/** Weights an N:M target keeps: N/M of every eligible layer, all of the others. */
export function nmKeepCount(model: Model, prunable: readonly string[], pattern: NmPattern): number {
  let keep = 0;
  for (const name of prunable) {
    const size = getParam(model, name).size;
    keep += nmEligible(getParam(model, name).shape, pattern) ? (size / pattern.m) * pattern.n : size;
  }
  return keep;
}

/**
 * Calls `visit(indices)` for every group of M flat indices of a tensor of `shape` (layout [..., in, out]): the
 * M consecutive input positions of one output at one leading position.
 */
function forEachGroup(shape: readonly number[], m: number, visit: (indices: number[]) => void): void {
  const inSize = reductionSize(shape);
  const outSize = shape[shape.length - 1];
  const leading = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const indices = new Array<number>(m);
  for (let lead = 0; lead < leading; lead++) {
    for (let g = 0; g < inSize; g += m) {
      for (let o = 0; o < outSize; o++) {
        for (let k = 0; k < m; k++) indices[k] = (lead * inSize + g + k) * outSize + o;
        visit(indices);
      }
    }
  }
}

/**
 * Scores → N:M masks: in every group the N highest scores are kept (ties to the earliest position); ineligible
 * layers get an all-ones mask. NaN scores are an error naming the layer.
 */
export async function nmMasks(scores: Scores, pattern: NmPattern): Promise<Masks> {
  const masks: Masks = new Map();
  for (const [name, score] of scores) {
    const values = (await score.data()) as Float32Array;
    const keep = new Float32Array(values.length);
    if (!nmEligible(score.shape, pattern)) keep.fill(1);
    else {
      for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) throw new Error(`scores of "${name}" contain NaN at index ${i}`);
      forEachGroup(score.shape, pattern.m, (group) => {
        const ranked = [...group].sort((a, b) => values[b] - values[a] || a - b);
        for (let k = 0; k < pattern.n; k++) keep[ranked[k]] = 1;
      });
    }
    masks.set(name, tf.tensor(keep, score.shape, 'float32'));
  }
  return masks;
}

export interface NmPatternCheck {
  pattern: string;
  /** Layers that hold the pattern, with their group count. */
  eligibleLayers: number;
  groups: number;
  /** Groups with more than N nonzero weights (0 = the pattern holds exactly). */
  violations: number;
  /** Layers left dense because their input dimension is not a multiple of M. */
  denseLayers: string[];
}

/** Checks the pattern on the model's weights themselves (nonzero entries), so it holds whatever the masks said. */
export async function checkNmPattern(model: Model, prunable: readonly string[], pattern: NmPattern): Promise<NmPatternCheck> {
  const { eligible, dense } = nmLayers(model, prunable, pattern);
  let groups = 0;
  let violations = 0;
  for (const name of eligible) {
    const param = getParam(model, name);
    const values = await param.data();
    forEachGroup(param.shape, pattern.m, (group) => {
      groups++;
      let nonzero = 0;
      for (const i of group) if (values[i] !== 0) nonzero++;
      if (nonzero > pattern.n) violations++;
    });
  }
  return { pattern: formatNmPattern(pattern), eligibleLayers: eligible.length, groups, violations, denseLayers: dense };
}
