/// <reference types="@webgpu/types" />
/**
 * The masked SGD update of parameters whose gradients are already tfjs tensors — SAFE's ADMM direction,
 * distillation's loss: steps the compiled training step does not take — as one dispatch per parameter in one
 * submit, with the update function the compiled steps fuse into their kernels (wgsl.ts `updateFn('sgd')`), instead
 * of tfjs's ~7 element-wise kernels per parameter (each 28–68 µs of host time, engine.md).
 *
 * Each parameter's variable is written in place (its GPU buffer made exclusive first, as the compiled step does);
 * each velocity is a new tensor (the old one copied in, or zeros), which the caller keeps instead of the old one.
 */
import * as tf from '@tensorflow/tfjs';
import { HYPER, HYPER_FLOATS, grid1d, u, updateFn } from './wgsl.js';
import { exclusiveGpuBuffer, flushTfjs, gpuData, unwrittenGpuTensor, webgpuBackend } from './tfjs-webgpu.js';

const STORAGE = 0x80, COPY_DST = 0x08, UNIFORM = 0x40;

export interface FusedSgdItem {
  param: tf.Variable;
  /** float32, the parameter's shape. */
  grad: tf.Tensor;
  /** The current velocity (float32, the parameter's shape), or null: zeros. */
  velocity: tf.Tensor | null;
  /** 0/1 of the parameter's shape, or null: nothing pruned. */
  mask: tf.Tensor | null;
}

export interface FusedSgdSettings {
  learningRate: number;
  momentum: number;
  weightDecay: number;
}

/** Pipelines by WGSL source per device (created synchronously: the optimizer's step is synchronous). */
const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function kernelCode(size: number): { code: string; workgroups: [number, number, number] } {
  const g = grid1d(size, 256);
  return {
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<storage, read_write> V: array<f32>;
@group(0) @binding(3) var<storage, read> MASK: array<f32>;
${HYPER}
@group(0) @binding(4) var<uniform> hyper: Hyper;
${updateFn('sgd')}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = ${g.index};
  if (i >= ${u(size)}) { return; }
  P[i] = update(G[i], P[i], i, MASK[i], true);
}`,
  };
}

/**
 * One masked SGD step (maskedSgd's: g = (grad + wd·p)·mask; v = μ·v + g; p − lr·v; pruned entries +0) of every
 * item, on the webgpu backend, in one submit; returns each item's new velocity (the caller disposes the old ones).
 */
export function fusedSgdUpdate(items: readonly FusedSgdItem[], settings: FusedSgdSettings): tf.Tensor[] {
  const backend = webgpuBackend();
  const { device } = backend;
  const { learningRate, momentum, weightDecay } = settings;
  for (const [k, v] of Object.entries(settings)) if (!Number.isFinite(v)) throw new Error(`fused SGD update: ${k} must be a finite number, got ${v}`);
  let byCode = pipelines.get(device);
  if (!byCode) pipelines.set(device, (byCode = new Map()));
  const temporaries: tf.Tensor[] = [];
  const owned: GPUBuffer[] = [];
  const velocities: tf.Tensor[] = [];
  try {
    const float = (t: tf.Tensor, what: string): GPUBuffer => {
      if (t.dtype === 'float32' && gpuData(backend, t).dtype === 'float32') return gpuData(backend, t).resource;
      if (what === 'gradient') throw new Error(`fused SGD update: a gradient must be float32, got ${t.dtype}`);
      // a real conversion: tfjs's cast to float32 may only relabel the data (see step-base's masks)
      const converted = tf.tidy(() => tf.where(tf.notEqual(t, 0), tf.ones(t.shape), tf.zeros(t.shape)));
      temporaries.push(converted);
      return gpuData(backend, converted).resource;
    };
    const hyper = device.createBuffer({ size: Math.ceil((HYPER_FLOATS * 4) / 16) * 16, usage: UNIFORM | COPY_DST });
    owned.push(hyper);
    device.queue.writeBuffer(hyper, 0, Float32Array.from([learningRate, momentum, weightDecay, 0, 0, 0, 1, 1, 0]));
    // one buffer of ones serves every parameter without a mask
    const unmasked = Math.max(0, ...items.filter((item) => !item.mask).map((item) => item.param.size));
    const ones = device.createBuffer({ size: Math.max(16, Math.ceil((unmasked * 4) / 16) * 16), usage: STORAGE | COPY_DST });
    owned.push(ones);
    if (unmasked > 0) device.queue.writeBuffer(ones, 0, new Float32Array(unmasked).fill(1));
    const encoder = device.createCommandEncoder();
    const dispatches: { pipeline: GPUComputePipeline; group: GPUBindGroup; workgroups: [number, number, number] }[] = [];
    for (const { param, grad, velocity, mask } of items) {
      const size = param.size;
      for (const [t, what] of [[grad, 'gradient'], [velocity, 'velocity'], [mask, 'mask']] as const) {
        if (t && t.shape.join() !== param.shape.join()) throw new Error(`fused SGD update: the ${what} of a [${param.shape}] parameter is [${t.shape}]`);
      }
      const v = unwrittenGpuTensor(backend, [...param.shape]);
      velocities.push(v);
      const vBuffer = gpuData(backend, v).resource;
      if (velocity) encoder.copyBufferToBuffer(float(velocity, 'velocity'), 0, vBuffer, 0, size * 4);
      else encoder.clearBuffer(vBuffer, 0, size * 4);
      const maskBuffer = mask ? float(mask, 'mask') : ones;
      const { code, workgroups } = kernelCode(size);
      let pipeline = byCode.get(code);
      if (!pipeline) byCode.set(code, (pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } })));
      const buffers = [float(grad, 'gradient'), exclusiveGpuBuffer(backend, param), vBuffer, maskBuffer, hyper];
      const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
      dispatches.push({ pipeline, group, workgroups });
    }
    const pass = encoder.beginComputePass();
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.group);
      pass.dispatchWorkgroups(...d.workgroups);
    }
    pass.end();
    // tfjs's recorded work (the gradients themselves) goes first in queue order
    flushTfjs(backend);
    device.queue.submit([encoder.finish()]);
    return velocities;
  } catch (error) {
    tf.dispose(velocities);
    throw error;
  } finally {
    tf.dispose(temporaries);
    for (const b of owned) b.destroy();
  }
}
