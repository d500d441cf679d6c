/**
 * UnsortedSegmentSum for wasm (the backend has none; it is the gradient of `gather`, i.e. of embedding
 * tables): out[s, ...] = sum of x[i, ...] over the rows i whose segment id is s. `segmentIds` may have any
 * rank as long as its shape is a prefix of x's shape (TensorFlow's rule). Ids outside [0, numSegments)
 * contribute nothing, as on the cpu backend. A plain loop over the heap: one pass, O(size of x).
 */
import * as tf from '@tensorflow/tfjs';
import { requireInput } from './wasm-kernel-calls.js';

interface WasmHeapAccess {
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
}

function unsortedSegmentSumWasm({ inputs, attrs, backend }: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const x = requireInput(inputs, 'x', 'UnsortedSegmentSum');
  const segmentIds = requireInput(inputs, 'segmentIds', 'UnsortedSegmentSum');
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const heap = backend as WasmHeapAccess;
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`UnsortedSegmentSum on wasm: numSegments must be a non-negative integer, got ${numSegments}`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm: x must be float32 or int32, got ${x.dtype}`);
  }
  const idRank = segmentIds.shape.length;
  if (idRank > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`UnsortedSegmentSum on wasm: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`);
  }
  const rowShape = x.shape.slice(idRank);
  const rowSize = tf.util.sizeFromShape(rowShape);
  const ids = heap.readSync(segmentIds.dataId) as tf.TypedArray;
  const values = heap.readSync(x.dataId) as tf.TypedArray;
  const out = heap.makeOutput([numSegments, ...rowShape], x.dtype);
  const sums = heap.typedArrayFromHeap(out);
  sums.fill(0);
  for (let row = 0; row < ids.length; row++) {
    const segment = ids[row];
    if (segment < 0 || segment >= numSegments) continue;
    const from = row * rowSize, to = segment * rowSize;
    for (let k = 0; k < rowSize; k++) sums[to + k] += values[from + k];
  }
  return out;
}

export const unsortedSegmentSumWasmConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSumWasm,
};
