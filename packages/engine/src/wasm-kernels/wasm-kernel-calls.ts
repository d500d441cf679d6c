/**
 * Calling the wasm backend's own kernels from inside a custom kernel. Kernels work on TensorInfos
 * (dataId + shape + dtype), not on Tensors: going through the kernel registry keeps the engine's tape,
 * scopes and profiler out of the inner calls, and every intermediate TensorInfo is disposed here.
 */
import * as tf from '@tensorflow/tfjs';

export type KernelInputs = Record<string, tf.TensorInfo>;

/** Built-in kernels we replaced, kept so a replacement can still fall back to them. */
const replacedKernels = new Map<string, tf.KernelConfig>();

export function rememberReplacedKernel(config: tf.KernelConfig): void {
  replacedKernels.set(config.kernelName, config);
}

export function replacedKernel(kernelName: string): tf.KernelConfig | undefined {
  return replacedKernels.get(kernelName);
}

/** Runs the wasm kernel `kernelName` (the built-in one where we replaced it) on TensorInfos. */
export function runWasmKernel(
  kernelName: string,
  inputs: KernelInputs,
  attrs: tf.NamedAttrMap,
  backend: tf.KernelBackend,
): tf.TensorInfo {
  const config = replacedKernels.get(kernelName) ?? tf.getKernel(kernelName, 'wasm');
  if (config === undefined) throw new Error(`wasm kernel '${kernelName}' is not registered`);
  const out = config.kernelFunc({ inputs, attrs, backend });
  if (Array.isArray(out)) throw new Error(`wasm kernel '${kernelName}' returned ${out.length} outputs, expected one`);
  return out;
}

export function disposeInfos(backend: tf.KernelBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** A reshape that shares the data (the wasm Reshape kernel only bumps the reference count). */
export function reshapeInfo(x: tf.TensorInfo, shape: number[], backend: tf.KernelBackend): tf.TensorInfo {
  return runWasmKernel('Reshape', { x }, { shape }, backend);
}

/** A transpose through the Transpose kernel registered now (prunebench's faster one where installed). */
export function transposeInfo(x: tf.TensorInfo, perm: number[], backend: tf.KernelBackend): tf.TensorInfo {
  const config = tf.getKernel('Transpose', 'wasm');
  if (config === undefined) throw new Error(`wasm kernel 'Transpose' is not registered`);
  const out = config.kernelFunc({ inputs: { x }, attrs: { perm }, backend });
  if (Array.isArray(out)) throw new Error('wasm kernel Transpose returned several outputs');
  return out;
}

/** Spatial padding of an NHWC tensor where a negative amount means "crop that many rows/columns". */
export interface SignedPads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * Forward NHWC convolution (stride 1, given dilation) through the wasm Conv2D kernel (XNNPACK) with
 * per-side padding; negative pads crop the input first, since XNNPACK only pads.
 */
export function conv2dSignedPads(
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  pads: SignedPads,
  dilations: [number, number],
  backend: tf.KernelBackend,
): tf.TensorInfo {
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(0, -pads.top), cropBottom = Math.max(0, -pads.bottom);
  const cropLeft = Math.max(0, -pads.left), cropRight = Math.max(0, -pads.right);
  const cropped = cropTop + cropBottom + cropLeft + cropRight > 0;
  const input = cropped
    ? runWasmKernel(
        'Slice',
        { x },
        { begin: [0, cropTop, cropLeft, 0], size: [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c] },
        backend,
      )
    : x;
  const explicitPad = [
    [0, 0],
    [Math.max(0, pads.top), Math.max(0, pads.bottom)],
    [Math.max(0, pads.left), Math.max(0, pads.right)],
    [0, 0],
  ];
  const out = runWasmKernel(
    'Conv2D',
    { x: input, filter },
    { strides: [1, 1], pad: explicitPad, dataFormat: 'NHWC', dilations, dimRoundingMode: undefined } as unknown as tf.NamedAttrMap,
    backend,
  );
  if (cropped) disposeInfos(backend, input);
  return out;
}

/** Rejects what these NHWC-only replacements do not handle, naming the kernel and the field. */
export function requireChannelsLast(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm: dataFormat '${dataFormat}' is not supported, use 'NHWC'`);
  }
}

/** The kernel input `name`, or an Error naming the kernel and the missing input. */
export function requireInput(inputs: tf.NamedTensorInfoMap, name: string, kernelName: string): tf.TensorInfo {
  const input = inputs[name];
  if (input === undefined) throw new Error(`${kernelName} on wasm: input '${name}' is missing`);
  return input;
}
