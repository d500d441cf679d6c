/**
 * Sum for wasm over leading axes (x [rows, ...rest] summed over its first axes, e.g. a bias gradient: a
 * [tokens, features] gradient summed over tokens). The built-in moves the reduced axes innermost with a full
 * Transpose first, then reduces; here the column sums are accumulated directly, a block of rows at a time,
 * in float64. Every other reduction goes to the built-in.
 */
import * as tf from '@tensorflow/tfjs';
import { requireInput, runWasmKernel } from './wasm-kernel-calls.js';

interface WasmHeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/** Column sums of `x` viewed as [rows, columns], into `out` [columns]. */
export function sumLeadingRows(x: Float32Array, columns: number, out: Float32Array): void {
  const rowsPerBlock = Math.max(1, Math.floor(8192 / columns));
  const acc = new Float64Array(columns);
  const block = rowsPerBlock * columns;
  for (let start = 0; start < x.length; start += block) {
    const end = Math.min(x.length, start + block);
    for (let c = 0; c < columns; c++) {
      let s = 0;
      for (let i = start + c; i < end; i += columns) s += x[i]!;
      acc[c]! += s;
    }
  }
  out.set(acc);
}

function sumWasm({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const kb = backend as WasmHeapBackend;
  const x = requireInput(inputs, 'x', 'Sum');
  const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== 'float32') return runWasmKernel('Sum', { x }, attrs ?? {}, kb);
  const rest = x.shape.slice(axes.length);
  const columns = rest.reduce((p, d) => p * d, 1);
  const outShape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
  const out = kb.makeOutput(outShape, 'float32');
  if (columns > 0) sumLeadingRows(kb.typedArrayFromHeap(x), columns, kb.typedArrayFromHeap(out));
  return out;
}

export const sumWasmConfig: tf.KernelConfig = {
  kernelName: tf.Sum,
  backendName: 'wasm',
  kernelFunc: sumWasm,
};
