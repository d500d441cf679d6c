/// <reference types="@webgpu/types" />
/**
 * The parts of tfjs-backend-webgpu 4.22's backend a compiled step uses: its GPUDevice, the GPUBuffer behind a
 * tensor, and flushing the commands tfjs has recorded but not submitted (so a step's own submit comes after them
 * in queue order). The backend's classes are not exported; these are the fields of its `WebGPUBackend`.
 */
import * as tf from '@tensorflow/tfjs';

interface TensorData {
  values: ArrayLike<number> | null;
  resource: GPUBuffer | GPUTexture | null;
  refCount: number;
  dtype: tf.DataType;
  shape: number[];
}

export interface WebgpuBackendInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: object): TensorData | undefined };
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType): { dataId: object; shape: number[]; dtype: tf.DataType };
}

/** tfjs's active webgpu backend, or an error naming what is active instead. */
export function webgpuBackend(): WebgpuBackendInternals {
  if (tf.getBackend() !== 'webgpu') throw new Error(`the compiled step needs the webgpu backend, not '${tf.getBackend()}'`);
  const backend = tf.backend() as unknown as WebgpuBackendInternals;
  if (!backend.device || !backend.tensorMap) throw new Error('the compiled step: tfjs webgpu backend internals not found (tfjs version changed?)');
  return backend;
}

/** Submits what tfjs has recorded so far (a no-op when nothing is pending). */
export function flushTfjs(backend: WebgpuBackendInternals): void {
  backend.endComputePassEncoder();
  if (backend.commandEncoder) backend.submitQueue();
}

/** The tensor's data entry, uploaded to the GPU if it still lives on the host (tfjs does that lazily). */
export function gpuData(backend: WebgpuBackendInternals, tensor: tf.Tensor): TensorData & { resource: GPUBuffer } {
  const data = backend.tensorMap.get(tensor.dataId);
  if (!data) throw new Error('the compiled step: a tensor has no data on the webgpu backend (disposed?)');
  if (data.resource == null) backend.uploadToGPU(tensor.dataId);
  if (!(data.resource instanceof GPUBuffer)) throw new Error('the compiled step: a tensor is stored as a texture, not a buffer');
  return data as TensorData & { resource: GPUBuffer };
}

/**
 * The GPU buffer of a variable the step writes in place. In place is what `variable.assign(updated)` would do only
 * when nothing else shares the variable's data (tfjs shares data between a tensor and its clones), so a shared one
 * first gets a copy of its own; and a host copy tfjs cached at a read is dropped (the step makes it stale).
 */
export function exclusiveGpuBuffer(backend: WebgpuBackendInternals, variable: tf.Variable): GPUBuffer {
  let data = gpuData(backend, variable);
  if (data.refCount > 1) {
    const own = tf.tidy(() => tf.mul(variable, tf.scalar(1, variable.dtype)));
    variable.assign(own);
    own.dispose();
    data = gpuData(backend, variable);
  }
  data.values = null;
  return data.resource;
}

/**
 * A new float32 tensor whose GPU buffer is allocated (from tfjs's pool) but not written: for a step to copy its
 * own results into, with no upload and no submit per tensor (which `tf.tensor({ buffer })` costs).
 */
export function unwrittenGpuTensor(backend: WebgpuBackendInternals, shape: number[]): tf.Tensor {
  const info = backend.makeTensorInfo(shape, 'float32');
  backend.uploadToGPU(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * A 0/1 mask's data as float32 on the GPU: the mask's own buffer where its data really is float32, else a real
 * conversion (tfjs's cast from int32 or bool to float32 relabels the data without converting it), pushed onto
 * `temporaries` for the caller to dispose once its commands are submitted.
 */
export function float32MaskBuffer(backend: WebgpuBackendInternals, mask: tf.Tensor, temporaries: tf.Tensor[]): GPUBuffer {
  if (gpuData(backend, mask).dtype === 'float32') return gpuData(backend, mask).resource;
  const converted = tf.tidy(() => tf.where(tf.notEqual(mask, 0), tf.ones(mask.shape), tf.zeros(mask.shape)));
  temporaries.push(converted);
  return gpuData(backend, converted).resource;
}
