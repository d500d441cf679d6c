/**
 * BatchMatMul and _FusedMatMul for wasm with transposed operands. The built-ins run fast only on the
 * untransposed path (XNNPACK fully-connected); with transposeA or transposeB they are 10-25x slower
 * (measured 1024x256x512: a^T@b 1305 ms vs 50 ms with an explicit transpose). Every dense layer's
 * backward pass has one of each (dA = dy @ B^T, dB = A^T @ dy). These replacements transpose the last
 * two axes explicitly and call the built-in kernel untransposed.
 * The built-in _FusedMatMul is also wrong with batch dims > 1 (tfjs-backend-wasm 4.22: it corrupts the
 * bias/activation and writes over neighbouring heap memory); batched fused matmuls are therefore run as
 * BatchMatMul, then the bias add and the activation as separate kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeInfos, requireInput, runWasmKernel, transposeInfo } from './wasm-kernel-calls.js';

/** The permutation swapping the last two axes of a tensor of `rank`. */
function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

function untransposedMatMul(kernelName: string) {
  return ({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo => {
    const kb = backend as tf.KernelBackend;
    const a = requireInput(inputs, 'a', kernelName);
    const b = requireInput(inputs, 'b', kernelName);
    const { transposeA, transposeB } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    if (!transposeA && !transposeB) return runWasmKernel(kernelName, inputs as Record<string, tf.TensorInfo>, attrs ?? {}, kb);
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw new Error(`${kernelName} on wasm: a and b need rank >= 2, got [${a.shape}] and [${b.shape}]`);
    }
    const owned: tf.TensorInfo[] = [];
    const aPlain = transposeA ? transposeInfo(a, swapLastTwo(a.shape.length), kb) : a;
    const bPlain = transposeB ? transposeInfo(b, swapLastTwo(b.shape.length), kb) : b;
    if (transposeA) owned.push(aPlain);
    if (transposeB) owned.push(bPlain);
    const out = runWasmKernel(kernelName, { ...(inputs as Record<string, tf.TensorInfo>), a: aPlain, b: bPlain },
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
