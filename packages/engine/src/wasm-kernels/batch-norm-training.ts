/**
 * Training-mode batch norm as two fused kernels for wasm (new kernel names; tfjs has no training-mode batch
 * norm kernel). Built from `tf.moments` and element-wise ops, one batch norm layer's forward and backward is
 * ~15 kernel launches and several passes over the activation; each of these is two passes over the
 * activation, in JavaScript on the wasm heap, with per-channel sums in float64 (blocked so that they stay in
 * registers).
 *
 * PrunebenchBatchNormTraining   inputs x [..., C] (channels last), gamma [C], beta [C]; attr varianceEpsilon
 *                               outputs y = gamma·(x − mean)/√(var + eps) + beta, mean [C], var [C] (biased)
 * PrunebenchBatchNormTrainingGrad  inputs dy, x, gamma, mean, variance, dMean [C], dVariance [C]; attr varianceEpsilon
 *                               outputs dx, dGamma, dBeta, where with x̂ = (x − mean)·invStd and n values per channel
 *                                 dBeta = Σ dy,  dGamma = Σ dy·x̂
 *                                 dx = gamma·invStd·(dy − dBeta/n − x̂·dGamma/n) + dMean/n + dVariance·2(x − mean)/n
 *                               (the last two terms carry gradients that reach the returned statistics; zero when
 *                               they only feed the running-stat update).
 *
 * `@prunebench/models`' batchNormTraining uses them (through tf.customGrad) when they are registered for the
 * active backend, and the composite ops otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { requireInput } from './wasm-kernel-calls.js';

export const BATCH_NORM_TRAINING = 'PrunebenchBatchNormTraining';
export const BATCH_NORM_TRAINING_GRAD = 'PrunebenchBatchNormTrainingGrad';

/** What the wasm backend offers custom kernels: outputs on its heap and typed views of them. */
interface WasmBackendLike extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

function channelsOf(kernelName: string, x: tf.TensorInfo): number {
  if (x.dtype !== 'float32') throw new Error(`${kernelName} on wasm: x must be float32, got ${x.dtype}`);
  if (x.shape.length < 1) throw new Error(`${kernelName} on wasm: x must have a channel axis, got a scalar`);
  return x.shape[x.shape.length - 1]!;
}

function requireVector(kernelName: string, name: string, t: tf.TensorInfo, channels: number): void {
  if (t.dtype !== 'float32' || t.shape.length !== 1 || t.shape[0] !== channels) {
    throw new Error(`${kernelName} on wasm: ${name} must be float32 [${channels}], got ${t.dtype} [${t.shape}]`);
  }
}

/**
 * Rows per block: the loops below walk one channel at a time through a block of rows (kept in L1 cache), so
 * each channel's running sums stay in registers instead of a per-element array update.
 */
const BLOCK_ELEMENTS = 4096;

function rowsPerBlock(channels: number): number {
  return Math.max(1, Math.floor(BLOCK_ELEMENTS / channels));
}

/** y, mean, variance from x, gamma, beta (plain arrays; `channels` is the innermost axis). */
export function batchNormTrainingForward(
  x: Float32Array, gamma: Float32Array, beta: Float32Array, channels: number, eps: number,
  y: Float32Array, mean: Float32Array, variance: Float32Array,
): void {
  const rows = x.length / channels;
  const block = rowsPerBlock(channels) * channels;
  // Sums of (x − shift) and its square in float64, shifted by the first row so that a large mean does not
  // cancel (Welford-free one-pass statistics, accurate for |mean|/std up to ~1e6).
  const sum = new Float64Array(channels);
  const squares = new Float64Array(channels);
  const shiftBy = Float64Array.from(x.subarray(0, channels));
  for (let start = 0; start < x.length; start += block) {
    const end = Math.min(x.length, start + block);
    for (let c = 0; c < channels; c++) {
      const shift = shiftBy[c]!;
      let s = 0, q = 0;
      for (let i = start + c; i < end; i += channels) {
        const d = x[i]! - shift;
        s += d;
        q += d * d;
      }
      sum[c]! += s;
      squares[c]! += q;
    }
  }
  const scale = new Float64Array(channels);
  const offset = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const centredMean = sum[c]! / rows;
    const v = Math.max(0, squares[c]! / rows - centredMean * centredMean);
    const m = centredMean + shiftBy[c]!;
    mean[c] = m;
    variance[c] = v;
    scale[c] = gamma[c]! / Math.sqrt(v + eps);
    offset[c] = beta[c]! - m * scale[c]!;
  }
  for (let start = 0; start < x.length; start += block) {
    const end = Math.min(x.length, start + block);
    for (let c = 0; c < channels; c++) {
      const a = scale[c]!, b = offset[c]!;
      for (let i = start + c; i < end; i += channels) y[i] = x[i]! * a + b;
    }
  }
}

/** dx, dGamma, dBeta (see the file comment). */
export function batchNormTrainingBackward(
  dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, variance: Float32Array,
  dMean: Float32Array, dVariance: Float32Array, channels: number, eps: number,
  dx: Float32Array, dGamma: Float32Array, dBeta: Float32Array,
): void {
  const count = x.length / channels;
  const block = rowsPerBlock(channels) * channels;
  const sumDy = new Float64Array(channels);
  const sumDyCentred = new Float64Array(channels);
  for (let start = 0; start < x.length; start += block) {
    const end = Math.min(x.length, start + block);
    for (let c = 0; c < channels; c++) {
      const m = mean[c]!;
      let s = 0, t = 0;
      for (let i = start + c; i < end; i += channels) {
        const g = dy[i]!;
        s += g;
        t += g * (x[i]! - m);
      }
      sumDy[c]! += s;
      sumDyCentred[c]! += t;
    }
  }
  // dx = a·dy + b·x + k per channel.
  const a = new Float64Array(channels);
  const b = new Float64Array(channels);
  const k = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = 1 / Math.sqrt(variance[c]! + eps);
    const gBeta = sumDy[c]!;
    const gGamma = sumDyCentred[c]! * s;
    dBeta[c] = gBeta;
    dGamma[c] = gGamma;
    a[c] = gamma[c]! * s;
    b[c] = -gamma[c]! * s * s * gGamma / count + (2 * dVariance[c]!) / count;
    k[c] = -gamma[c]! * s * gBeta / count + dMean[c]! / count - b[c]! * mean[c]!;
  }
  for (let start = 0; start < x.length; start += block) {
    const end = Math.min(x.length, start + block);
    for (let c = 0; c < channels; c++) {
      const ac = a[c]!, bc = b[c]!, kc = k[c]!;
      for (let i = start + c; i < end; i += channels) dx[i] = ac * dy[i]! + bc * x[i]! + kc;
    }
  }
}

function batchNormTrainingWasm({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo[] {
  const kb = backend as WasmBackendLike;
  const name = BATCH_NORM_TRAINING;
  const x = requireInput(inputs, 'x', name);
  const gamma = requireInput(inputs, 'gamma', name);
  const beta = requireInput(inputs, 'beta', name);
  const channels = channelsOf(name, x);
  requireVector(name, 'gamma', gamma, channels);
  requireVector(name, 'beta', beta, channels);
  const eps = Number((attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon ?? 1e-5);
  // Allocate every output before taking heap views: an allocation can grow (and detach) the heap.
  const y = kb.makeOutput([...x.shape], 'float32');
  const mean = kb.makeOutput([channels], 'float32');
  const variance = kb.makeOutput([channels], 'float32');
  batchNormTrainingForward(
    kb.typedArrayFromHeap(x), kb.typedArrayFromHeap(gamma), kb.typedArrayFromHeap(beta), channels, eps,
    kb.typedArrayFromHeap(y), kb.typedArrayFromHeap(mean), kb.typedArrayFromHeap(variance));
  return [y, mean, variance];
}

function batchNormTrainingGradWasm({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo[] {
  const kb = backend as WasmBackendLike;
  const name = BATCH_NORM_TRAINING_GRAD;
  const dy = requireInput(inputs, 'dy', name);
  const x = requireInput(inputs, 'x', name);
  const channels = channelsOf(name, x);
  if (dy.dtype !== 'float32' || dy.shape.join() !== x.shape.join()) {
    throw new Error(`${name} on wasm: dy must be float32 of x's shape [${x.shape}], got ${dy.dtype} [${dy.shape}]`);
  }
  const vectors = ['gamma', 'mean', 'variance', 'dMean', 'dVariance'].map((key) => {
    const t = requireInput(inputs, key, name);
    requireVector(name, key, t, channels);
    return t;
  });
  const eps = Number((attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon ?? 1e-5);
  const dx = kb.makeOutput([...x.shape], 'float32');
  const dGamma = kb.makeOutput([channels], 'float32');
  const dBeta = kb.makeOutput([channels], 'float32');
  const [gamma, mean, variance, dMean, dVariance] = vectors.map((t) => kb.typedArrayFromHeap(t));
  batchNormTrainingBackward(
    kb.typedArrayFromHeap(dy), kb.typedArrayFromHeap(x), gamma!, mean!, variance!, dMean!, dVariance!, channels, eps,
    kb.typedArrayFromHeap(dx), kb.typedArrayFromHeap(dGamma), kb.typedArrayFromHeap(dBeta));
  return [dx, dGamma, dBeta];
}

export const batchNormTrainingWasmConfig: tf.KernelConfig = {
  kernelName: BATCH_NORM_TRAINING,
  backendName: 'wasm',
  kernelFunc: batchNormTrainingWasm as unknown as tf.KernelFunc,
};

export const batchNormTrainingGradWasmConfig: tf.KernelConfig = {
  kernelName: BATCH_NORM_TRAINING_GRAD,
  backendName: 'wasm',
  kernelFunc: batchNormTrainingGradWasm as unknown as tf.KernelFunc,
};

/** Whether the fused training batch norm kernels are registered for `backendName` (default: the active one). */
export function hasFusedBatchNormTraining(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(BATCH_NORM_TRAINING, backendName) !== undefined && tf.getKernel(BATCH_NORM_TRAINING_GRAD, backendName) !== undefined;
}
