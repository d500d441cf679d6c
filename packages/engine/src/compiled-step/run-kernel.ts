/// <reference types="@webgpu/types" />
/**
 * Runs one compiled-step kernel on its own (for the per-kernel tests against the cpu backend): a buffer per
 * binding from the given arrays, one dispatch, and every read-write binding read back.
 */
import { HYPER_FLOATS, type Kernel } from './wgsl.js';
import { cachedComputePipeline } from './pipeline-cache.js';
import { COPY_DST, COPY_SRC, MAP_READ, STORAGE, UNIFORM } from './step-base.js';
import { flushTfjs, webgpuBackend } from './tfjs-webgpu.js';


/** One array per binding, in order ('u' bindings take the optimizer settings, HYPER's layout; fields left out are 0). */
export async function runKernel(kernel: Kernel, data: ArrayLike<number>[] | (Float32Array | Int32Array)[]): Promise<Float32Array[]> {
  if (data.length !== kernel.bindings.length) throw new Error(`runKernel: ${kernel.name} has ${kernel.bindings.length} bindings, got ${data.length} arrays`);
  const backend = webgpuBackend();
  const device = backend.device;
  flushTfjs(backend);
  device.pushErrorScope('validation');
  const pipeline = await cachedComputePipeline(device, kernel.code, kernel.name);
  const buffers = data.map((values, i) => {
    const uniform = kernel.bindings[i] === 'u';
    const array = values instanceof Int32Array ? values : Float32Array.from({ length: Math.max(values.length, uniform ? HYPER_FLOATS : 0) }, (_, j) => (values as ArrayLike<number>)[j] ?? 0);
    const size = Math.max(16, Math.ceil((array.length * 4) / 16) * 16);
    const usage = uniform ? UNIFORM | COPY_DST : STORAGE | COPY_SRC | COPY_DST;
    const buffer = device.createBuffer({ size, usage });
    device.queue.writeBuffer(buffer, 0, array.buffer, array.byteOffset, array.byteLength);
    return { buffer, length: array.length };
  });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((b, binding) => ({ binding, resource: { buffer: b.buffer } })),
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(...kernel.workgroups);
  pass.end();
  const outputs = buffers.flatMap((b, i) => (kernel.bindings[i] === 'rw' ? [{ ...b }] : []));
  const staging = outputs.map((b) => {
    const s = device.createBuffer({ size: b.buffer.size, usage: MAP_READ | COPY_DST });
    encoder.copyBufferToBuffer(b.buffer, 0, s, 0, b.buffer.size);
    return s;
  });
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`runKernel: ${kernel.name}: ${error.message}`);
  const result: Float32Array[] = [];
  for (let i = 0; i < outputs.length; i++) {
    await staging[i]!.mapAsync(MAP_READ);
    result.push(new Float32Array(staging[i]!.getMappedRange().slice(0, outputs[i]!.length * 4)));
    staging[i]!.unmap();
    staging[i]!.destroy();
  }
  for (const b of buffers) b.buffer.destroy();
  return result;
}
