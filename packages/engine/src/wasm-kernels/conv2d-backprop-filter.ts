/**
 * Conv2DBackpropFilter for wasm (the backend has none). The filter gradient
 *   dW[i, j, ci, co] = sum over n, oh, ow of x[n, oh*s + i - padTop, ow*s + j - padLeft, ci] * dy[n, oh, ow, co]
 * is itself a convolution once the batch axis plays the channel role: convolve x transposed to
 * [Cin, H, W, N] with dy transposed to [OH, OW, N, Cout] as the filter, dilation = stride, stride 1.
 * The result [Cin, kh, kw, Cout] is transposed back to [kh, kw, Cin, Cout]. This runs on XNNPACK.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dSignedPads, disposeInfos, requireChannelsLast, requireInput, transposeInfo } from './wasm-kernel-calls.js';

function conv2dBackpropFilterWasm({ inputs, attrs, backend }: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const x = requireInput(inputs, 'x', 'Conv2DBackpropFilter');
  const dy = requireInput(inputs, 'dy', 'Conv2DBackpropFilter');
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const kb = backend as tf.KernelBackend;
  requireChannelsLast('Conv2DBackpropFilter', dataFormat);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`Conv2DBackpropFilter on wasm: x and dy must be float32, got ${x.dtype} and ${dy.dtype}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  if (dy.shape[1] !== outHeight || dy.shape[2] !== outWidth) {
    throw new Error(`Conv2DBackpropFilter on wasm: dy shape [${dy.shape}] does not match the convolution output ${outHeight}x${outWidth}`);
  }

  const xByChannel = transposeInfo(x, [3, 1, 2, 0], kb); // [Cin, H, W, N]
  const dyAsFilter = transposeInfo(dy, [1, 2, 0, 3], kb); // [OH, OW, N, Cout]
  // Pads such that the output is exactly kh x kw; rows past the last window (valid padding) are cropped.
  const pads = {
    top: padInfo.top,
    left: padInfo.left,
    bottom: filterHeight + (outHeight - 1) * strideHeight - inHeight - padInfo.top,
    right: filterWidth + (outWidth - 1) * strideWidth - inWidth - padInfo.left,
  };
  const gradByChannel = conv2dSignedPads(xByChannel, dyAsFilter, pads, [strideHeight, strideWidth], kb); // [Cin, kh, kw, Cout]
  const grad = transposeInfo(gradByChannel, [1, 2, 0, 3], kb);
  disposeInfos(kb, xByChannel, dyAsFilter, gradByChannel);
  return grad;
}

export const conv2dBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilterWasm,
};
