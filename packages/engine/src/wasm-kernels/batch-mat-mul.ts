/**
 * BatchMatMul and _FusedMatMul for wasm with transposed operands, and BatchMatMul with batch dims (below). The built-ins run fast only on the
 * untransposed path (XNNPACK fully-connected); with transposeA or transposeB they are 10-25x slower
 * (measured 1024x256x512: a^T@b 1305 ms vs 50 ms with an explicit transpose). Every dense layer's
 * backward pass has one of each (dA = dy @ B^T, dB = A^T @ dy). These replacements transpose the last
 * two axes explicitly and call the built-in kernel untransposed.
 * The built-in _FusedMatMul is also wrong with batch dims > 1 (tfjs-backend-wasm 4.22: it corrupts the
 * bias/activation and writes over neighbouring heap memory); batched fused matmuls are therefore run as
 * BatchMatMul, then the bias add and the activation as separate kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeInfos, requireInput, reshapeInfo, runWasmKernel, transposeInfo } from './wasm-kernel-calls.js';

/** The permutation swapping the last two axes of a tensor of `rank`. */
function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** What the wasm backend offers custom kernels: outputs on its heap and typed views of them. */
interface WasmHeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

/**
 * An untransposed BatchMatMul with batch dims > 1. The built-in runs those through a plain loop (~1 GFLOP/s,
 * 12-15x slower than XNNPACK; BERT's attention products at [batch·heads, 128, 64]); here they become 2-D
 * XNNPACK products: one [B·m, k] x [k, n] product when b has no batch, else one product per batch item
 * (items copied out of a and b, results copied into the output). Broadcasting beyond "one side has batch 1"
 * is left to the built-in.
 */
function batchedMatMul(a: tf.TensorInfo, b: tf.TensorInfo, kb: tf.KernelBackend): tf.TensorInfo | null {
  const aBatchDims = a.shape.slice(0, -2), bBatchDims = b.shape.slice(0, -2);
  const aBatch = product(aBatchDims), bBatch = product(bBatchDims);
  if (aBatch <= 1 && bBatch <= 1) return null;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (aBatch !== bBatch && aBatch !== 1 && bBatch !== 1) return null;
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [kb2, n] = b.shape.slice(-2) as [number, number];
  if (k !== kb2) return null; // the built-in reports the mismatch
  const outBatchDims = tf.broadcast_util.assertAndGetBroadcastShape(aBatchDims, bBatchDims);
  const plain = (x: tf.TensorInfo, y: tf.TensorInfo) =>
    runWasmKernel(tf.BatchMatMul, { a: x, b: y }, { transposeA: false, transposeB: false }, kb);
  if (bBatch === 1) {
    const aFlat = reshapeInfo(a, [1, aBatch * m, k], kb);
    const bFlat = reshapeInfo(b, [1, k, n], kb);
    const flat = plain(aFlat, bFlat);
    const out = reshapeInfo(flat, [...outBatchDims, m, n], kb);
    disposeInfos(kb, aFlat, bFlat, flat);
    return out;
  }
  const heap = kb as WasmHeapBackend;
  const batch = Math.max(aBatch, bBatch);
  const out = heap.makeOutput([...outBatchDims, m, n], 'float32');
  const aItemShared = aBatch === 1 ? reshapeInfo(a, [1, m, k], kb) : null;
  for (let i = 0; i < batch; i++) {
    const aItem = aItemShared ?? heap.makeOutput([1, m, k], 'float32');
    const bItem = heap.makeOutput([1, k, n], 'float32');
    // Views are taken after every allocation (an allocation can grow the heap and detach older views).
    if (aItemShared === null) heap.typedArrayFromHeap(aItem).set(heap.typedArrayFromHeap(a).subarray(i * m * k, (i + 1) * m * k));
    heap.typedArrayFromHeap(bItem).set(heap.typedArrayFromHeap(b).subarray(i * k * n, (i + 1) * k * n));
    const item = plain(aItem, bItem);
    heap.typedArrayFromHeap(out).set(heap.typedArrayFromHeap(item), i * m * n);
    disposeInfos(kb, bItem, item);
    if (aItemShared === null) disposeInfos(kb, aItem);
  }
  if (aItemShared !== null) disposeInfos(kb, aItemShared);
  return out;
}

function untransposedMatMul(kernelName: string) {
  return ({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo => {
    const kb = backend as tf.KernelBackend;
    const a = requireInput(inputs, 'a', kernelName);
    const b = requireInput(inputs, 'b', kernelName);
    const { transposeA, transposeB } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    if (kernelName === tf.BatchMatMul && !transposeA && !transposeB) {
      const batched = batchedMatMul(a, b, kb);
      if (batched !== null) return batched;
    }
    if (!transposeA && !transposeB) return runWasmKernel(kernelName, inputs as Record<string, tf.TensorInfo>, attrs ?? {}, kb);
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw new Error(`${kernelName} on wasm: a and b need rank >= 2, got [${a.shape}] and [${b.shape}]`);
    }
    const owned: tf.TensorInfo[] = [];
    const aPlain = transposeA ? transposeInfo(a, swapLastTwo(a.shape.length), kb) : a;
    const bPlain = transposeB ? transposeInfo(b, swapLastTwo(b.shape.length), kb) : b;
    if (transposeA) owned.push(aPlain);
    if (transposeB) owned.push(bPlain);
    const batched = kernelName === tf.BatchMatMul ? batchedMatMul(aPlain, bPlain, kb) : null;
    const out = batched ?? runWasmKernel(kernelName, { ...(inputs as Record<string, tf.TensorInfo>), a: aPlain, b: bPlain },
      { ...attrs, transposeA: false, transposeB: false }, kb);
    disposeInfos(kb, ...owned);
    return out;
  };
}

/** Activation kernels for the `activation` attribute of _FusedMatMul. */
function applyActivation(x: tf.TensorInfo, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap, kb: tf.KernelBackend): tf.TensorInfo {
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  switch (activation) {
    case 'linear': return x;
    case 'relu': return runWasmKernel('Relu', { x }, {}, kb);
    case 'relu6': return runWasmKernel('Relu6', { x }, {}, kb);
    case 'elu': return runWasmKernel('Elu', { x }, {}, kb);
    case 'sigmoid': return runWasmKernel('Sigmoid', { x }, {}, kb);
    case 'leakyrelu': return runWasmKernel('LeakyRelu', { x }, { alpha: (attrs.leakyreluAlpha as number | undefined) ?? 0.2 }, kb);
    case 'prelu': return runWasmKernel('Prelu', { x, alpha: requireInput(inputs, 'preluActivationWeights', tf._FusedMatMul) }, {}, kb);
    default: throw new Error(`_FusedMatMul on wasm: unknown activation '${activation}'`);
  }
}

/** _FusedMatMul with batch dims > 1, as separate kernels (see the file comment). */
function batchedFusedMatMul({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const kb = backend as tf.KernelBackend;
  const a = requireInput(inputs, 'a', tf._FusedMatMul);
  const b = requireInput(inputs, 'b', tf._FusedMatMul);
  const batchSize = (shape: number[]) => shape.slice(0, -2).reduce((p, d) => p * d, 1);
  if (batchSize(a.shape) <= 1 && batchSize(b.shape) <= 1) return fusedMatMulUntransposed({ inputs, attrs, backend });
  const product = untransposedBatchMatMul({ inputs: { a, b }, attrs: { transposeA: attrs?.transposeA ?? false, transposeB: attrs?.transposeB ?? false }, backend });
  const bias = inputs.bias;
  const biased = bias !== undefined ? runWasmKernel('Add', { a: product, b: bias }, {}, kb) : product;
  const out = applyActivation(biased, inputs, attrs ?? {}, kb);
  if (biased !== product) disposeInfos(kb, product);
  if (out !== biased) disposeInfos(kb, biased);
  return out;
}

const untransposedBatchMatMul = untransposedMatMul(tf.BatchMatMul);
const fusedMatMulUntransposed = untransposedMatMul(tf._FusedMatMul);

export const batchMatMulWasmConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  kernelFunc: untransposedBatchMatMul,
};

export const fusedMatMulWasmConfig: tf.KernelConfig = {
  kernelName: tf._FusedMatMul,
  backendName: 'wasm',
  kernelFunc: batchedFusedMatMul,
};
