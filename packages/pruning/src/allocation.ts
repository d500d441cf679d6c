import * as tf from '@tensorflow/tfjs';
import type { Masks } from './types.js';
import type { Scores } from './scores.js';

/**
 * Scores → masks with exact counts. Ties are broken deterministically: among equal scores, the weight that
 * comes first (parameter order of the Scores map, then flat index) is kept. Weights already pruned in
 * `current` (mask 0) are never chosen again, so a method's masks only ever shrink unless it passes no
 * `current` (which lets everything compete again).
 */
export interface AllocationOptions {
  /** Masks from an earlier round; their zeros stay zeros. */
  current?: Masks;
}

/** Keep fraction per layer, one for all layers, or exact counts per layer. Layers not listed in `perLayer` stay dense. */
export type LayerwiseSpec =
  | { keepFraction: number }
  | { perLayer: Record<string, number> }
  | { keepCounts: Record<string, number> };

/** The floor of every layer for `minimumThresholdMasks`: a count, or a fraction of the layer's weights (rounded up). */
export type MinKeepPerLayer = number | { fraction: number };

interface LayerScores {
  name: string;
  shape: number[];
  values: Float32Array;
  /** 1 where the weight may be kept; null = all eligible. */
  eligible: Uint8Array | null;
}

/** One threshold over all layers: keep exactly the `keepCount` highest-scoring weights. */
export async function globalMasks(scores: Scores, keepCount: number, options: AllocationOptions = {}): Promise<Masks> {
  const layers = await readLayers(scores, options.current);
  const keep = selectTopK(layers, checkCount(keepCount, 'keepCount'), 'keepCount');
  return toMasks(layers, keep);
}

/** The same keep fraction in every layer, per-layer fractions, or per-layer counts; each layer ranked on its own. */
export async function layerwiseMasks(scores: Scores, spec: LayerwiseSpec, options: AllocationOptions = {}): Promise<Masks> {
  const layers = await readLayers(scores, options.current);
  const counts = layerKeepCounts(layers, spec);
  const keep = layers.map((layer) => selectTopK([layer], counts.get(layer.name)!, `keep count of "${layer.name}"`)[0]);
  return toMasks(layers, keep);
}

/**
 * Each layer keeps `keepCounts[layer]` weights spread evenly over its outputs (the last axis: a linear layer's
 * output features, a conv's filters), each output ranking its own inputs (Wanda's "per output" comparison). An
 * output keeps ⌊K / outputs⌋ weights, the first K mod outputs one more.
 */
export async function perOutputMasks(scores: Scores, keepCounts: ReadonlyMap<string, number>, options: AllocationOptions = {}): Promise<Masks> {
  const layers = await readLayers(scores, options.current);
  const keep = layers.map((layer) => {
    const total = keepCounts.get(layer.name);
    if (total === undefined) throw new Error(`no keep count for "${layer.name}"`);
    checkCount(total, `keep count of "${layer.name}"`);
    const outputs = layer.shape[layer.shape.length - 1];
    const inputs = layer.values.length / outputs;
    if (total > layer.values.length) throw new Error(`keep count of "${layer.name}" = ${total} exceeds its ${layer.values.length} weights`);
    const kept = new Uint8Array(layer.values.length);
    for (let o = 0; o < outputs; o++) {
      const k = Math.floor(total / outputs) + (o < total % outputs ? 1 : 0);
      const column: LayerScores = {
        name: `${layer.name}[output ${o}]`,
        shape: [inputs],
        values: Float32Array.from({ length: inputs }, (_, i) => layer.values[i * outputs + o]),
        eligible: layer.eligible ? Uint8Array.from({ length: inputs }, (_, i) => layer.eligible![i * outputs + o]) : null,
      };
      const chosen = selectTopK([column], k, `keep count of ${column.name}`)[0];
      for (let i = 0; i < inputs; i++) kept[i * outputs + o] = chosen[i];
    }
    return kept;
  });
  return toMasks(layers, keep);
}

/**
 * Global ranking, but every layer keeps at least its floor (its highest-scoring weights); the total kept is
 * still exactly `keepCount`.
 */
export async function minimumThresholdMasks(
  scores: Scores,
  keepCount: number,
  floor: { minKeepPerLayer: MinKeepPerLayer },
  options: AllocationOptions = {},
): Promise<Masks> {
  checkCount(keepCount, 'keepCount');
  const layers = await readLayers(scores, options.current);
  const floors = layers.map((layer) => floorCount(floor.minKeepPerLayer, layer));
  const floorTotal = floors.reduce((a, b) => a + b, 0);
  if (floorTotal > keepCount) {
    throw new Error(
      `minKeepPerLayer keeps ${floorTotal} weights in total, more than keepCount ${keepCount}: lower the floor or the target`,
    );
  }
  const floorKeep = layers.map((layer, i) => selectTopK([layer], floors[i], `minKeepPerLayer of "${layer.name}"`)[0]);
  // The rest compete globally among the weights not already kept by a floor.
  const rest = layers.map((layer, i) => {
    const eligible = new Uint8Array(layer.values.length);
    for (let j = 0; j < eligible.length; j++) eligible[j] = (layer.eligible ? layer.eligible[j] : 1) & (1 - floorKeep[i][j]);
    return { ...layer, eligible };
  });
  const restKeep = selectTopK(rest, keepCount - floorTotal, 'keepCount');
  const keep = floorKeep.map((f, i) => f.map((v, j) => v | restKeep[i][j]));
  return toMasks(layers, keep);
}

/**
 * Split `keepCount` weights over layers so that layer l gets sparsity c · ratio_l (capped at 1), with c solved
 * so the total is exactly `keepCount`; rounding by largest remainder keeps every layer within one weight of its
 * real-valued share. Equal ratios = the same sparsity everywhere. `caps` bound each layer's count (weights
 * still alive from an earlier round).
 */
export function distributeKeepCount(
  sizes: ReadonlyMap<string, number>,
  keepCount: number,
  ratios?: Readonly<Record<string, number>>,
  caps?: ReadonlyMap<string, number>,
): Map<string, number> {
  checkCount(keepCount, 'keepCount');
  const names = [...sizes.keys()];
  const n = names.map((name) => sizes.get(name)!);
  const r = names.map((name) => {
    const ratio = ratios ? ratios[name] ?? 0 : 1;
    if (!Number.isFinite(ratio) || ratio < 0) throw new Error(`layer ratio of "${name}" must be a number >= 0, got ${ratio}`);
    return ratio;
  });
  const total = n.reduce((a, b) => a + b, 0);
  const keptAt = (c: number) => n.map((size, i) => size * (1 - Math.min(1, c * r[i])));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const floorKept = sum(keptAt(Number.MAX_VALUE));
  if (keepCount > total) throw new Error(`keepCount ${keepCount} exceeds the ${total} prunable weights`);
  if (keepCount < Math.round(floorKept)) {
    throw new Error(`keepCount ${keepCount} is unreachable: layers with ratio 0 keep ${floorKept} weights dense`);
  }
  // Bisection on c: kept(c) decreases monotonically from `total` to `floorKept`.
  const maxRatio = Math.max(...r, 0);
  let lo = 0;
  let hi = maxRatio > 0 ? 1 / maxRatio : 0;
  while (sum(keptAt(hi)) > keepCount && hi < 1e300) hi *= 2;
  for (let iter = 0; iter < 200 && hi > 0; iter++) {
    const mid = (lo + hi) / 2;
    if (sum(keptAt(mid)) > keepCount) lo = mid;
    else hi = mid;
  }
  const exact = keptAt(hi);
  const cap = names.map((name, i) => Math.min(n[i], caps?.get(name) ?? n[i]));
  const counts = exact.map((x, i) => Math.min(cap[i], Math.floor(x + 1e-9)));
  let missing = keepCount - sum(counts);
  // Largest remainder first, then (if caps forced it) any layer with room; ties by layer order.
  const order = names.map((_, i) => i).sort((a, b) => exact[b] - Math.floor(exact[b]) - (exact[a] - Math.floor(exact[a])) || a - b);
  while (missing > 0) {
    let progressed = false;
    for (const i of order) {
      if (missing === 0) break;
      if (counts[i] < cap[i]) {
        counts[i]++;
        missing--;
        progressed = true;
      }
    }
    if (!progressed) throw new Error(`keepCount ${keepCount} exceeds the weights still alive in the layers`);
  }
  while (missing < 0) {
    // Only reachable through float noise in `exact`; take from the largest layers.
    const i = counts.indexOf(Math.max(...counts));
    counts[i]--;
    missing++;
  }
  return new Map(names.map((name, i) => [name, counts[i]]));
}

function layerKeepCounts(layers: LayerScores[], spec: LayerwiseSpec): Map<string, number> {
  const counts = new Map<string, number>();
  if ('keepFraction' in spec) {
    const f = checkFraction(spec.keepFraction, 'keepFraction');
    for (const layer of layers) counts.set(layer.name, Math.round(f * layer.values.length));
  } else if ('perLayer' in spec) {
    checkNames(layers, spec.perLayer, 'perLayer');
    for (const layer of layers) {
      const f = layer.name in spec.perLayer ? checkFraction(spec.perLayer[layer.name], `perLayer["${layer.name}"]`) : 1;
      counts.set(layer.name, Math.round(f * layer.values.length));
    }
  } else if ('keepCounts' in spec) {
    checkNames(layers, spec.keepCounts, 'keepCounts');
    for (const layer of layers) {
      const k = layer.name in spec.keepCounts ? checkCount(spec.keepCounts[layer.name], `keepCounts["${layer.name}"]`) : layer.values.length;
      if (k > layer.values.length) throw new Error(`keepCounts["${layer.name}"] = ${k} exceeds the layer's ${layer.values.length} weights`);
      counts.set(layer.name, k);
    }
  } else {
    throw new Error('layerwise spec needs one of keepFraction, perLayer, keepCounts');
  }
  return counts;
}

function floorCount(floor: MinKeepPerLayer, layer: LayerScores): number {
  const size = layer.values.length;
  if (typeof floor === 'number') return Math.min(size, checkCount(floor, 'minKeepPerLayer'));
  if (floor && typeof floor === 'object' && 'fraction' in floor) {
    return Math.ceil(checkFraction(floor.fraction, 'minKeepPerLayer.fraction') * size);
  }
  throw new Error(`minKeepPerLayer must be a count or { fraction }, got ${JSON.stringify(floor)}`);
}

async function readLayers(scores: Scores, current: Masks | undefined): Promise<LayerScores[]> {
  const layers: LayerScores[] = [];
  for (const [name, score] of scores) {
    const values = (await score.data()) as Float32Array;
    for (let i = 0; i < values.length; i++) {
      if (Number.isNaN(values[i])) throw new Error(`scores of "${name}" contain NaN at index ${i}`);
    }
    let eligible: Uint8Array | null = null;
    const mask = current?.get(name);
    if (mask) {
      if (mask.size !== score.size) throw new Error(`current mask of "${name}" has ${mask.size} entries, scores have ${score.size}`);
      const m = await mask.data();
      eligible = new Uint8Array(m.length);
      for (let i = 0; i < m.length; i++) eligible[i] = m[i] !== 0 ? 1 : 0;
    }
    layers.push({ name, shape: score.shape.slice(), values: Float32Array.from(values), eligible });
  }
  return layers;
}

/** Exactly k kept over the eligible weights of `layers`, highest score first, ties to the earliest weight. */
function selectTopK(layers: LayerScores[], k: number, field: string): Uint8Array[] {
  let eligibleCount = 0;
  for (const layer of layers) eligibleCount += layer.eligible ? layer.eligible.reduce((a, b) => a + b, 0) : layer.values.length;
  if (k > eligibleCount) {
    throw new Error(`${field} = ${k} exceeds the ${eligibleCount} weights that are not already pruned`);
  }
  const keep = layers.map((layer) => new Uint8Array(layer.values.length));
  if (k === 0) return keep;
  const pool = new Float32Array(eligibleCount);
  let p = 0;
  for (const layer of layers) {
    for (let i = 0; i < layer.values.length; i++) if (!layer.eligible || layer.eligible[i]) pool[p++] = layer.values[i];
  }
  pool.sort();
  const threshold = pool[eligibleCount - k];
  let above = 0;
  for (let i = eligibleCount - k + 1; i < eligibleCount; i++) if (pool[i] > threshold) above++;
  let ties = k - above;
  layers.forEach((layer, l) => {
    for (let i = 0; i < layer.values.length; i++) {
      if (layer.eligible && !layer.eligible[i]) continue;
      const v = layer.values[i];
      if (v > threshold) keep[l][i] = 1;
      else if (v === threshold && ties > 0) {
        keep[l][i] = 1;
        ties--;
      }
    }
  });
  return keep;
}

function toMasks(layers: LayerScores[], keep: Uint8Array[]): Masks {
  const masks: Masks = new Map();
  layers.forEach((layer, l) => masks.set(layer.name, tf.tensor(Float32Array.from(keep[l]), layer.shape, 'float32')));
  return masks;
}

function checkNames(layers: LayerScores[], record: Record<string, number>, field: string): void {
  const known = new Set(layers.map((l) => l.name));
  for (const name of Object.keys(record)) {
    if (!known.has(name)) throw new Error(`${field} names "${name}", which is not among the scored layers`);
  }
}

export function checkCount(k: number, field: string): number {
  if (!Number.isInteger(k) || k < 0) throw new Error(`${field} must be an integer >= 0, got ${k}`);
  return k;
}

export function checkFraction(f: number, field: string): number {
  if (typeof f !== 'number' || !Number.isFinite(f) || f < 0 || f > 1) throw new Error(`${field} must be a number in [0, 1], got ${f}`);
  return f;
}
