import type * as tf from '@tensorflow/tfjs';
import type { Model, ParamKind } from '@prunebench/models';

/** Parameter kinds pruned by default: conv kernels and linear weights (never biases, norms, embeddings). */
export const DEFAULT_PRUNABLE_KINDS: ReadonlyArray<ParamKind> = ['conv2d', 'linear'];

export interface ParameterCount {
  total: number;
  nonzero: number;
  /** nonzero / total (1 for a dense tensor). */
  density: number;
  prunable: boolean;
}

export interface ParameterCounts {
  /** All trainable parameters (buffers such as batch-norm running statistics are not counted). */
  total: number;
  /** Parameters in the prunable tensors (default: conv2d + linear weights). */
  prunable: number;
  /** Nonzero values over all trainable parameters, after masks. */
  nonzero: number;
  /** Nonzero values in the prunable tensors, after masks. */
  nonzeroPrunable: number;
  /** One entry per trainable parameter tensor, by its PyTorch name. */
  byLayer: Record<string, ParameterCount>;
}

export interface CountParametersOptions {
  /** 0/1 masks by parameter name; a value counts as nonzero only where the weight and the mask are both nonzero. */
  masks?: Map<string, tf.Tensor>;
  /** Names of the prunable parameters; default: every parameter whose kind is conv2d or linear. */
  prunable?: string[];
}

/** The names of a model's prunable parameters by the default rule (conv2d + linear weights). */
export function defaultPrunableNames(model: Model): string[] {
  const names: string[] = [];
  for (const name of model.params.keys()) {
    const kind = model.paramKinds.get(name);
    if (kind !== undefined && DEFAULT_PRUNABLE_KINDS.includes(kind)) names.push(name);
  }
  return names;
}

/** Count total, prunable and nonzero parameters, per tensor and in all (values read back from the backend). */
export async function countParameters(model: Model, options: CountParametersOptions = {}): Promise<ParameterCounts> {
  const prunableNames = new Set(options.prunable ?? defaultPrunableNames(model));
  for (const name of prunableNames) {
    if (!model.params.has(name)) throw new Error(`countParameters: prunable parameter "${name}" is not a trainable parameter of the model`);
  }
  const masks = options.masks ?? new Map<string, tf.Tensor>();
  for (const [name, mask] of masks) {
    const param = model.params.get(name);
    if (!param) throw new Error(`countParameters: mask "${name}" names no trainable parameter of the model`);
    if (!sameShape(param.shape, mask.shape)) {
      throw new Error(`countParameters: mask "${name}" has shape [${mask.shape}], parameter has [${param.shape}]`);
    }
  }

  const counts: ParameterCounts = { total: 0, prunable: 0, nonzero: 0, nonzeroPrunable: 0, byLayer: {} };
  for (const [name, param] of model.params) {
    const values = (await param.data()) as Float32Array;
    const mask = masks.get(name);
    const nonzero = countNonzero(values, mask ? ((await mask.data()) as Float32Array) : undefined);
    const total = values.length;
    const prunable = prunableNames.has(name);
    counts.byLayer[name] = { total, nonzero, density: total === 0 ? 1 : nonzero / total, prunable };
    counts.total += total;
    counts.nonzero += nonzero;
    if (prunable) {
      counts.prunable += total;
      counts.nonzeroPrunable += nonzero;
    }
  }
  return counts;
}

/** ShrinkBench's compression ratio: all parameters / nonzero parameters (1 for a dense model). */
export function compressionRatio(counts: Pick<ParameterCounts, 'total' | 'nonzero'>): number {
  if (counts.nonzero <= 0) throw new Error(`compressionRatio: nonzero is ${counts.nonzero}; the ratio is undefined`);
  return counts.total / counts.nonzero;
}

/** Density (nonzero / total) of every prunable parameter: the RunRecord's `layerDensity`, and countMacs' `weightDensity`. */
export function prunableDensities(counts: ParameterCounts): Map<string, number> {
  const densities = new Map<string, number>();
  for (const [name, entry] of Object.entries(counts.byLayer)) if (entry.prunable) densities.set(name, entry.density);
  return densities;
}

/** Values that are nonzero (NaN counts as nonzero) and, when a mask is given, not masked out. */
export function countNonzero(values: ArrayLike<number>, mask?: ArrayLike<number>): number {
  let count = 0;
  if (mask) {
    for (let i = 0; i < values.length; i++) if (values[i] !== 0 && mask[i] !== 0) count++;
  } else {
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) count++;
  }
  return count;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
