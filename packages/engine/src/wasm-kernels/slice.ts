/**
 * Slice for wasm, replacing the built-in one for ranks above 4. The built-in copies ranks 2–4 row by row
 * but falls back to tfjs's generic element-by-element `sliceImplCPU` above rank 4 (~140 ms for the rank-6
 * slice of ResNet-CIFAR's option-A shortcut at batch 128). Most high-rank slices collapse to rank ≤ 4:
 * an axis merges with the axis inside it when the inner one is taken whole, or when the outer one is
 * taken one index wide. The slice then runs as reshape → built-in Slice on the merged shape → reshape.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeInfos, requireInput, reshapeInfo, runWasmKernel } from './wasm-kernel-calls.js';

export interface MergedSlice {
  shape: number[];
  begin: number[];
  size: number[];
}

/** The same slice over the fewest axes (see the file comment); shape, begin and size are full-rank. */
export function mergeSliceAxes(shape: readonly number[], begin: readonly number[], size: readonly number[]): MergedSlice {
  const rank = shape.length;
  if (rank === 0) return { shape: [], begin: [], size: [] };
  const merged: { shape: number; begin: number; size: number }[] = [];
  let inner = { shape: shape[rank - 1]!, begin: begin[rank - 1]!, size: size[rank - 1]! };
  for (let axis = rank - 2; axis >= 0; axis--) {
    const outer = { shape: shape[axis]!, begin: begin[axis]!, size: size[axis]! };
    if (inner.begin === 0 && inner.size === inner.shape) {
      inner = { shape: outer.shape * inner.shape, begin: outer.begin * inner.shape, size: outer.size * inner.shape };
    } else if (outer.size === 1) {
      inner = { shape: outer.shape * inner.shape, begin: outer.begin * inner.shape + inner.begin, size: inner.size };
    } else {
      merged.push(inner);
      inner = outer;
    }
  }
  merged.push(inner);
  merged.reverse();
  return { shape: merged.map((m) => m.shape), begin: merged.map((m) => m.begin), size: merged.map((m) => m.size) };
}

function sliceWasm({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const kb = backend as tf.KernelBackend;
  const x = requireInput(inputs, 'x', 'Slice');
  const { begin, size } = attrs as unknown as tf.SliceAttrs;
  if (x.shape.length <= 4 || x.dtype === 'string') return runWasmKernel('Slice', { x }, attrs ?? {}, kb);
  const [fullBegin, fullSize] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
  const merged = mergeSliceAxes(x.shape, fullBegin, fullSize);
  if (merged.shape.length > 4) return runWasmKernel('Slice', { x }, attrs ?? {}, kb);
  const flatX = reshapeInfo(x, merged.shape, kb);
  const flatOut = runWasmKernel('Slice', { x: flatX }, { begin: merged.begin, size: merged.size }, kb);
  const out = reshapeInfo(flatOut, fullSize, kb);
  disposeInfos(kb, flatX, flatOut);
  return out;
}

export const sliceWasmConfig: tf.KernelConfig = {
  kernelName: tf.Slice,
  backendName: 'wasm',
  kernelFunc: sliceWasm,
};
