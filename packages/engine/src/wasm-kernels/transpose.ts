/**
 * Transpose for wasm, replacing the built-in for one pattern: after dropping size-1 axes and merging axes that
 * stay neighbours, a float32 transpose that swaps the outer and the inner axis around a middle one,
 * [A, B, C] -> [C, B, A]. That is what the conv filter gradient does to x ([N, H, W, C] -> [C, H, W, N]) and dy
 * ([N, OH, OW, C] -> [OH, OW, N, C] is [N, P, C] -> [P, N, C], not this one) and costs the built-in ~15 ns per
 * element; copied per middle index as a [A, C] -> [C, A] block (the A source rows stay in L1 across the C
 * output rows, each written contiguously) it is ~2x faster. Everything else goes to the built-in.
 */
import * as tf from '@tensorflow/tfjs';
import { heapScratch, runHeapTask } from './heap-pool.js';
import { requireInput, runWasmKernel } from './wasm-kernel-calls.js';

interface WasmHeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/** The same transpose over the fewest axes: size-1 axes dropped, axes adjacent in both orders merged. */
export function collapseTranspose(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = perm.filter((axis) => shape[axis] !== 1);
  // Groups of input axes that appear consecutively (and in order) in the output.
  const groups: number[][] = [];
  for (const axis of kept) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[last.length - 1]! + 1 === axis) last.push(axis);
    else groups.push([axis]);
  }
  const byInputOrder = [...groups].sort((p, q) => p[0]! - q[0]!);
  return {
    shape: byInputOrder.map((g) => g.reduce((size, axis) => size * shape[axis]!, 1)),
    perm: groups.map((g) => byInputOrder.indexOf(g)),
  };
}

/** Parts of the middle axis that the heap pool's threads share (any count gives the same result). */
const TRANSPOSE_PARTS = 8;

/** [A, B, C] -> [C, B, A]. */
export function transposeOuterInner(src: Float32Array, a: number, b: number, c: number, dst: Float32Array): void {
  runHeapTask('transposeOuterInnerPart', [src, dst], heapScratch(0, [src, dst]), [a, b, c], TRANSPOSE_PARTS);
}

function transposeWasm({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const kb = backend as WasmHeapBackend;
  const x = requireInput(inputs, 'x', 'Transpose');
  const { perm } = attrs as unknown as tf.TransposeAttrs;
  if (x.dtype === 'float32' && perm.length === x.shape.length) {
    const collapsed = collapseTranspose(x.shape, perm);
    if (collapsed.shape.length === 3 && collapsed.perm.join() === '2,1,0') {
      const [a, b, c] = collapsed.shape as [number, number, number];
      const out = kb.makeOutput(perm.map((axis) => x.shape[axis]!), 'float32');
      transposeOuterInner(kb.typedArrayFromHeap(x), a, b, c, kb.typedArrayFromHeap(out));
      return out;
    }
  }
  return runWasmKernel('Transpose', { x }, attrs ?? {}, kb);
}

export const transposeWasmConfig: tf.KernelConfig = {
  kernelName: tf.Transpose,
  backendName: 'wasm',
  kernelFunc: transposeWasm,
};
