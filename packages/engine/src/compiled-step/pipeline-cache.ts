/// <reference types="@webgpu/types" />
/**
 * Compute pipelines by WGSL source, per device, for the life of the process: every compiled step of the same layer
 * shapes (another batch shape's step, the next run's model, a resumed run) reuses them. On a software adapter each
 * new pipeline costs an LLVM compile (about a second), which would otherwise be paid per model.
 */
const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** The pipeline of a kernel's code (entry point `main`, layout 'auto'), built once; a failed build is not kept. */
export function cachedComputePipeline(device: GPUDevice, code: string, name: string): Promise<GPUComputePipeline> {
  let byCode = pipelines.get(device);
  if (!byCode) pipelines.set(device, (byCode = new Map()));
  let pipeline = byCode.get(code);
  if (!pipeline) {
    const module = device.createShaderModule({ code });
    pipeline = device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } }).catch((error: unknown) => {
      byCode.delete(code);
      throw new Error(`compiled step: kernel '${name}' does not compile: ${String((error as Error)?.message ?? error)}\n${code}`);
    });
    byCode.set(code, pipeline);
  }
  return pipeline;
}
