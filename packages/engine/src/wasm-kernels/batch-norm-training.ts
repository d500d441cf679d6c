/**
 * Training-mode batch norm as two fused kernels for wasm (new kernel names; tfjs has no training-mode batch
 * norm kernel). Built from `tf.moments` and element-wise ops, one batch norm layer's forward and backward is
 * ~15 kernel launches and several passes over the activation; each of these is two passes over the
 * activation, in JavaScript on the wasm heap (on several threads with the threaded build), with per-channel
 * sums in float64.
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
import { heapScratch, runHeapTask } from './heap-pool.js';
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
 * Both kernels are two passes over the activation: per-channel sums (float64), then an element-wise pass.
 * Each pass is cut into BN_PARTS row ranges that run on the heap pool's threads (heap-tasks.ts); the
 * partial sums are added in part order, so results do not depend on the thread count.
 */
const BN_PARTS = 8;

/** y, mean, variance from x, gamma, beta (`channels` is the innermost axis). */
export function batchNormTrainingForward(
  x: Float32Array, gamma: Float32Array, beta: Float32Array, channels: number, eps: number,
  y: Float32Array, mean: Float32Array, variance: Float32Array,
): void {
  const rows = x.length / channels;
  // scratch: shift [C] | partial sums [BN_PARTS × (C sums, C sums of squares)] | scale, 0, offset [3 × C]
  const shiftAt = 0, sumsAt = channels, coefficientsAt = sumsAt + 2 * channels * BN_PARTS;
  const scratch = heapScratch(coefficientsAt + 3 * channels, [x, y]);
  // Sums of (x − shift) and its square, shifted by the first row so that a large mean does not cancel
  // (one-pass statistics, accurate for |mean|/std up to ~1e6).
  for (let c = 0; c < channels; c++) scratch[shiftAt + c] = rows > 0 ? x[c]! : 0;
  runHeapTask('centredChannelSums', [x, x], scratch, [channels, shiftAt, shiftAt, sumsAt], BN_PARTS);
  for (let c = 0; c < channels; c++) {
    let sum = 0, squares = 0;
    for (let part = 0; part < BN_PARTS; part++) {
      sum += scratch[sumsAt + 2 * part * channels + c]!;
      squares += scratch[sumsAt + (2 * part + 1) * channels + c]!;
    }
    const centredMean = sum / rows;
    const v = Math.max(0, squares / rows - centredMean * centredMean);
    const m = centredMean + scratch[shiftAt + c]!;
    mean[c] = m;
    variance[c] = v;
    const scale = gamma[c]! / Math.sqrt(v + eps);
    scratch[coefficientsAt + c] = scale;
    scratch[coefficientsAt + channels + c] = 0;
    scratch[coefficientsAt + 2 * channels + c] = beta[c]! - m * scale;
  }
  runHeapTask('channelAffine', [x, x, y], scratch, [channels, coefficientsAt], BN_PARTS);
}

/** dx, dGamma, dBeta (see the file comment). */
export function batchNormTrainingBackward(
  dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, variance: Float32Array,
  dMean: Float32Array, dVariance: Float32Array, channels: number, eps: number,
  dx: Float32Array, dGamma: Float32Array, dBeta: Float32Array,
): void {
  const count = x.length / channels;
  // scratch: zeros [C] | mean [C] | partial sums [BN_PARTS × (Σ dy, Σ dy·(x − mean))] | a, b, k [3 × C]
  const zerosAt = 0, meanAt = channels, sumsAt = 2 * channels, coefficientsAt = sumsAt + 2 * channels * BN_PARTS;
  const scratch = heapScratch(coefficientsAt + 3 * channels, [dy, x, dx]);
  for (let c = 0; c < channels; c++) {
    scratch[zerosAt + c] = 0;
    scratch[meanAt + c] = mean[c]!;
  }
  runHeapTask('centredChannelSums', [dy, x], scratch, [channels, zerosAt, meanAt, sumsAt], BN_PARTS);
  // dx = a·dy + b·x + k per channel.
  const aAt = coefficientsAt, bAt = aAt + channels, kAt = bAt + channels;
  for (let c = 0; c < channels; c++) {
    let sumDy = 0, sumDyCentred = 0;
    for (let part = 0; part < BN_PARTS; part++) {
      sumDy += scratch[sumsAt + 2 * part * channels + c]!;
      sumDyCentred += scratch[sumsAt + (2 * part + 1) * channels + c]!;
    }
    const s = 1 / Math.sqrt(variance[c]! + eps);
    const gGamma = sumDyCentred * s;
    dBeta[c] = sumDy;
    dGamma[c] = gGamma;
    const b = -gamma[c]! * s * s * gGamma / count + (2 * dVariance[c]!) / count;
    scratch[aAt + c] = gamma[c]! * s;
    scratch[bAt + c] = b;
    scratch[kAt + c] = -gamma[c]! * s * sumDy / count + dMean[c]! / count - b * mean[c]!;
  }
  runHeapTask('channelAffine', [dy, x, dx], scratch, [channels, aAt], BN_PARTS);
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
