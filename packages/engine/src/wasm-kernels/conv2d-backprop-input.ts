/**
 * Conv2DBackpropInput for wasm, replacing the built-in one (a direct loop about 10x slower than a forward
 * convolution). The input gradient is the "transposed convolution":
 *   dx = conv(dilate(dy, stride), flip(W) with in/out channels swapped), stride 1,
 * where dilate inserts stride-1 zeros between output pixels, flip reverses the filter spatially, and
 * the pads are chosen so the result is exactly the input's size. It runs on XNNPACK's forward conv.
 */
import * as tf from '@tensorflow/tfjs';
import {
  conv2dSignedPads, disposeInfos, requireChannelsLast, requireInput, reshapeInfo, runWasmKernel, transposeInfo,
} from './wasm-kernel-calls.js';

/** Inserts (stride - 1) zeros after every pixel of an NHWC tensor: [N, H, W, C] -> [N, H*sh, W*sw, C]. */
function dilateSpatially(dy: tf.TensorInfo, sh: number, sw: number, kb: tf.KernelBackend): tf.TensorInfo {
  const [n, h, w, c] = dy.shape;
  let current = dy;
  const owned: tf.TensorInfo[] = [];
  if (sw > 1) {
    const cols = reshapeInfo(current, [n * h, w, 1, c], kb);
    current = runWasmKernel('PadV2', { x: cols }, { paddings: [[0, 0], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 }, kb);
    owned.push(cols, current);
  }
  if (sh > 1) {
    const rows = reshapeInfo(current, [n, h, 1, w * sw * c], kb);
    current = runWasmKernel('PadV2', { x: rows }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0]], constantValue: 0 }, kb);
    owned.push(rows, current);
  }
  const out = reshapeInfo(current, [n, h * sh, w * sw, c], kb);
  disposeInfos(kb, ...owned);
  return out;
}

function conv2dBackpropInputWasm({ inputs, attrs, backend }: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const dy = requireInput(inputs, 'dy', 'Conv2DBackpropInput');
  const filter = requireInput(inputs, 'filter', 'Conv2DBackpropInput');
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const kb = backend as tf.KernelBackend;
  requireChannelsLast('Conv2DBackpropInput', dataFormat);
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    throw new Error(`Conv2DBackpropInput on wasm: dy and filter must be float32, got ${dy.dtype} and ${filter.dtype}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  if (dy.shape[1] !== outHeight || dy.shape[2] !== outWidth) {
    throw new Error(`Conv2DBackpropInput on wasm: dy shape [${dy.shape}] does not match the convolution output ${outHeight}x${outWidth}`);
  }

  const dilated = dilateSpatially(dy, strideHeight, strideWidth, kb); // [N, OH*sh, OW*sw, Cout]
  const flipped = runWasmKernel('Reverse', { x: filter }, { dims: [0, 1] }, kb);
  const swapped = transposeInfo(flipped, [0, 1, 3, 2], kb); // [kh, kw, Cout, Cin]
  const pads = {
    top: filterHeight - 1 - padInfo.top,
    left: filterWidth - 1 - padInfo.left,
    bottom: inHeight - outHeight * strideHeight + padInfo.top,
    right: inWidth - outWidth * strideWidth + padInfo.left,
  };
  const dx = conv2dSignedPads(dilated, swapped, pads, [1, 1], kb);
  disposeInfos(kb, dilated, flipped, swapped);
  return dx;
}

export const conv2dBackpropInputWasmConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInputWasm,
};
