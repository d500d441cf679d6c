import * as tf from '@tensorflow/tfjs';

/** What tfjs hands a kernel: enough of it for AddN (the webgpu backend's own types are not exported). */
type KernelArgs = Parameters<tf.KernelFunc>[0];
interface WebgpuBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): void;
}

/**
 * AddN for webgpu that splits many inputs into rounds. tfjs 4.22's webgpu AddN binds every input as a storage
 * buffer of one shader, so more inputs than `maxStorageBuffersPerShaderStage − 1` (7 on lavapipe, 8 by
 * default) make an invalid pipeline and a silently unusable result. Summed in chunks, left to right, then the
 * partial sums: the same additions as one pass up to float rounding.
 */
export function chunkedAddN(original: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.AddN,
    backendName: 'webgpu',
    kernelFunc: (args: KernelArgs) => {
      const backend = args.backend as unknown as WebgpuBackendLike;
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      const maxInputs = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
      const run = (list: tf.TensorInfo[]) => original.kernelFunc({ ...args, inputs: list as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
      if (inputs.length <= maxInputs) return run(inputs);
      let level = inputs;
      const partials: tf.TensorInfo[] = [];
      while (level.length > maxInputs) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < level.length; i += maxInputs) {
          const chunk = level.slice(i, i + maxInputs);
          if (chunk.length === 1) next.push(chunk[0]!);
          else {
            const sum = run(chunk);
            partials.push(sum);
            next.push(sum);
          }
        }
        level = next;
      }
      const out = run(level);
      for (const partial of partials) backend.disposeData(partial.dataId);
      return out;
    },
  };
}
