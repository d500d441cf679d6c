import type * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { countNonzero, defaultPrunableNames } from './params.js';

/**
 * On-disk size of unstructured-sparse weights in a simple encoding, per tensor:
 * a 1-bit occupancy bitmap (ceil(n / 8) bytes, bit i set where value i is nonzero) followed by the
 * nonzero values as float32 in order (4 bytes each). Dense float32 is 4·n bytes. Headers and names
 * are not counted in either.
 */
export interface SparseEncodingSize {
  encoding: 'bitmap-1bit+float32-values';
  /** Dense float32 bytes of the encoded (prunable) tensors. */
  denseBytes: number;
  /** Bitmap + nonzero-value bytes of the same tensors. */
  sparseBytes: number;
  /** denseBytes / sparseBytes. */
  ratio: number;
  byTensor: Record<string, { elements: number; nonzero: number; denseBytes: number; sparseBytes: number }>;
}

export interface SparseEncodingOptions {
  /** With a model: masks applied before counting nonzeros. */
  masks?: Map<string, tf.Tensor>;
  /** With a model: the tensors to encode; default conv2d + linear weights. */
  prunable?: string[];
}

/** Bytes of the bitmap encoding of one tensor with `elements` values of which `nonzero` are nonzero. */
export function bitmapEncodingBytes(elements: number, nonzero: number): number {
  return Math.ceil(elements / 8) + 4 * nonzero;
}

/**
 * Bytes of one tensor in the sparse int8 encoding (docs/metrics.md, *Quantization*): the same 1-bit occupancy bitmap,
 * then one int8 byte per nonzero int8 value, then one float32 scale per output channel (symmetric: no zero points).
 */
export function bitmapInt8EncodingBytes(elements: number, nonzeroInt8: number, channels: number): number {
  return Math.ceil(elements / 8) + nonzeroInt8 + 4 * channels;
}

/** Sparse vs dense bytes of the given weights, or of a model's prunable weights (after masks). */
export async function sparseEncodingBytes(weights: Map<string, Float32Array> | Model, options: SparseEncodingOptions = {}): Promise<SparseEncodingSize> {
  const tensors = weights instanceof Map ? weightsFromMap(weights) : await weightsFromModel(weights, options);
  const result: SparseEncodingSize = { encoding: 'bitmap-1bit+float32-values', denseBytes: 0, sparseBytes: 0, ratio: 1, byTensor: {} };
  for (const { name, values, mask } of tensors) {
    const nonzero = countNonzero(values, mask);
    const entry = { elements: values.length, nonzero, denseBytes: 4 * values.length, sparseBytes: bitmapEncodingBytes(values.length, nonzero) };
    result.byTensor[name] = entry;
    result.denseBytes += entry.denseBytes;
    result.sparseBytes += entry.sparseBytes;
  }
  result.ratio = result.sparseBytes === 0 ? 1 : result.denseBytes / result.sparseBytes;
  return result;
}

interface NamedValues {
  name: string;
  values: ArrayLike<number>;
  mask?: ArrayLike<number>;
}

function weightsFromMap(weights: Map<string, Float32Array>): NamedValues[] {
  return [...weights].map(([name, values]) => {
    if (!(values instanceof Float32Array)) throw new Error(`sparseEncodingBytes: weight "${name}" must be a Float32Array`);
    return { name, values };
  });
}

async function weightsFromModel(model: Model, options: SparseEncodingOptions): Promise<NamedValues[]> {
  const names = options.prunable ?? defaultPrunableNames(model);
  const out: NamedValues[] = [];
  for (const name of names) {
    const param = model.params.get(name);
    if (!param) throw new Error(`sparseEncodingBytes: prunable parameter "${name}" is not a trainable parameter of the model`);
    const mask = options.masks?.get(name);
    if (mask && mask.size !== param.size) throw new Error(`sparseEncodingBytes: mask "${name}" has ${mask.size} values, parameter has ${param.size}`);
    out.push({ name, values: await param.data(), ...(mask ? { mask: await mask.data() } : {}) });
  }
  return out;
}
