import * as tf from '@tensorflow/tfjs';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, hasFusedBatchNormTraining } from '@prunebench/engine';

/** PyTorch BatchNorm2d defaults. */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/**
 * Training-mode batch norm over NHWC with an analytic gradient: normalise with the batch statistics and
 * return them (kept, the caller disposes) so the running statistics can be updated after the forward.
 * The closed-form backward avoids the Tile-heavy gradient tfjs derives from `tf.moments`. Where
 * @prunebench/engine's fused kernels are registered for the active backend (wasm), forward and backward are
 * one kernel each (same numbers up to float rounding; tested in batchnorm.test.ts).
 */
export function batchNormTraining(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps = BN_EPS,
): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (hasFusedBatchNormTraining()) return fusedBatchNormTraining(x, gamma, beta, eps);
  let mean: tf.Tensor1D | undefined;
  let variance: tf.Tensor1D | undefined;
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, gammaIn, betaIn] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const moments = tf.moments(xIn, [0, 1, 2]);
    const invStd = tf.rsqrt(tf.add(moments.variance, eps));
    const xHat = tf.mul(tf.sub(xIn, moments.mean), invStd);
    const value = tf.add(tf.mul(xHat, gammaIn), betaIn);
    save([xHat, invStd, gammaIn]);
    mean = tf.keep(moments.mean as tf.Tensor1D);
    variance = tf.keep(moments.variance as tf.Tensor1D);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedXHat, savedInvStd, savedGamma] = saved;
        const dBeta = tf.sum(dy, [0, 1, 2]);
        const dGamma = tf.sum(tf.mul(dy, savedXHat), [0, 1, 2]);
        // dx = gamma·invStd · (dy − mean(dy) − x̂·mean(dy·x̂))
        const centred = tf.sub(tf.sub(dy, tf.div(dBeta, count)), tf.mul(savedXHat, tf.div(dGamma, count)));
        const dx = tf.mul(centred, tf.mul(savedGamma, savedInvStd));
        return [dx, dGamma, dBeta];
      },
    };
  });
  const y = op(x, gamma, beta) as tf.Tensor4D;
  return { y, mean: mean!, variance: variance! };
}

/**
 * The same through @prunebench/engine's fused kernels (one forward kernel, one backward kernel; registered
 * for wasm): same values and gradients as the composite path up to float rounding (statistics accumulate in
 * float64 there). Gradients reaching the returned mean/variance are not propagated (as in the composite
 * path): they are statistics for the running-stat update, not part of the loss.
 */
function fusedBatchNormTraining(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  let mean: tf.Tensor1D | undefined;
  let variance: tf.Tensor1D | undefined;
  const attrs = { varianceEpsilon: eps };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, gammaIn, betaIn] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [value, batchMean, batchVariance] = tf.engine().runKernel(
      BATCH_NORM_TRAINING, { x: xIn!, gamma: gammaIn!, beta: betaIn! }, attrs) as tf.Tensor[];
    save([xIn!, gammaIn!, batchMean!, batchVariance!]);
    mean = tf.keep(batchMean as tf.Tensor1D);
    variance = tf.keep(batchVariance as tf.Tensor1D);
    return {
      value: value!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedX, savedGamma, savedMean, savedVariance] = saved;
        const zeros = tf.zerosLike(savedMean!);
        const grads = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, {
          dy, x: savedX!, gamma: savedGamma!, mean: savedMean!, variance: savedVariance!, dMean: zeros, dVariance: zeros,
        }, attrs) as tf.Tensor[];
        return grads;
      },
    };
  });
  const y = op(x, gamma, beta) as tf.Tensor4D;
  return { y, mean: mean!, variance: variance! };
}

/** Eval-mode batch norm with running statistics, folded into one scale and shift per channel. */
export function batchNormInference(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  runningMean: tf.Tensor1D,
  runningVar: tf.Tensor1D,
  eps = BN_EPS,
): tf.Tensor4D {
  return tf.tidy(() => {
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVar, eps)));
    const shift = tf.sub(beta, tf.mul(runningMean, scale));
    return tf.add(tf.mul(x, scale), shift) as tf.Tensor4D;
  });
}

/**
 * New running statistics (PyTorch): r ← (1 − m)·r + m·batch, with the unbiased batch variance
 * (× n / (n − 1), n = values per channel) for the running variance.
 */
export function updatedRunningStats(
  runningMean: tf.Tensor1D,
  runningVar: tf.Tensor1D,
  batchMean: tf.Tensor1D,
  batchVar: tf.Tensor1D,
  valuesPerChannel: number,
  momentum = BN_MOMENTUM,
): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  return tf.tidy(() => {
    const unbiased = valuesPerChannel > 1 ? tf.mul(batchVar, valuesPerChannel / (valuesPerChannel - 1)) : batchVar;
    return {
      mean: tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(batchMean, momentum)) as tf.Tensor1D,
      variance: tf.add(tf.mul(runningVar, 1 - momentum), tf.mul(unbiased, momentum)) as tf.Tensor1D,
    };
  });
}
