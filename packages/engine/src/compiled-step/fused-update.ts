/// <reference types="@webgpu/types" />
/**
 * The masked optimizer's update (SGD or AdamW) of parameters whose gradients are already tfjs tensors — SAFE's ADMM
 * direction, distillation's loss: steps the compiled training step does not take — as one dispatch per parameter in
 * one submit, with the update function the compiled steps fuse into their kernels (wgsl.ts `updateFn`), instead of
 * tfjs's ~7–11 element-wise kernels per parameter (each 28–68 µs of host time, engine.md). Also SAM's ascent's two
 * halves (the sums of squares, w + ε).
 *
 * Each parameter's variable is written in place (its GPU buffer made exclusive first, as the compiled step does);
 * each state tensor (velocity; AdamW's moments) is a new one (the old one copied in, or zeros), which the caller keeps
 * instead of the old one.
 */
import * as tf from '@tensorflow/tfjs';
import { HYPER_FLOATS, grid1d, optimizerBindings, u } from './wgsl.js';
import { COPY_DST, COPY_SRC, MAP_READ, STORAGE, UNIFORM } from './step-base.js';
import { exclusiveGpuBuffer, float32MaskBuffer, flushTfjs, gpuData, unwrittenGpuTensor, webgpuBackend } from './tfjs-webgpu.js';


export interface FusedUpdateItem {
  param: tf.Variable;
  /** float32, the parameter's shape. */
  grad: tf.Tensor;
  /**
   * The optimizer state of the parameter's shape, float32, or null (zeros): SGD [velocity]; AdamW [m, v]. The
   * update writes new tensors; the caller keeps them instead of these.
   */
  state: readonly (tf.Tensor | null)[];
  /** 0/1 of the parameter's shape, or null: nothing pruned. */
  mask: tf.Tensor | null;
  /** AdamW: decoupled weight decay on this parameter (ADAMW_DECAYED_KINDS); SGD decays every parameter. */
  decayed?: boolean;
}

/** SGD (momentum, coupled decay) or AdamW at its step t (1-based: the bias corrections), as the masked optimizers. */
export type FusedUpdateSettings =
  | { kind: 'sgd'; learningRate: number; momentum: number; weightDecay: number }
  | { kind: 'adamw'; learningRate: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number };

/** Pipelines by WGSL source per device (created synchronously: the optimizer's step is synchronous). */
const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipelineOf(device: GPUDevice, code: string): GPUComputePipeline {
  let byCode = pipelines.get(device);
  if (!byCode) pipelines.set(device, (byCode = new Map()));
  let pipeline = byCode.get(code);
  if (!pipeline) byCode.set(code, (pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } })));
  return pipeline;
}

interface Dispatch { pipeline: GPUComputePipeline; buffers: GPUBufferBinding[]; workgroups: [number, number, number] }

/** Encodes the dispatches in one compute pass after `before` (copies), flushes tfjs's recorded work first in queue order, submits once. */
function submitDispatches(device: GPUDevice, backend: ReturnType<typeof webgpuBackend>, dispatches: Dispatch[], before?: (encoder: GPUCommandEncoder) => void, after?: (encoder: GPUCommandEncoder) => void): void {
  const encoder = device.createCommandEncoder();
  before?.(encoder);
  const pass = encoder.beginComputePass();
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: d.pipeline.getBindGroupLayout(0), entries: d.buffers.map((resource, binding) => ({ binding, resource })) }));
    pass.dispatchWorkgroups(...d.workgroups);
  }
  pass.end();
  after?.(encoder);
  flushTfjs(backend);
  device.queue.submit([encoder.finish()]);
}

/** A float32 tensor's GPU buffer (an error for another dtype). */
function floatBuffer(backend: ReturnType<typeof webgpuBackend>, t: tf.Tensor, what: string): GPUBuffer {
  const data = gpuData(backend, t);
  if (t.dtype !== 'float32' || data.dtype !== 'float32') throw new Error(`fused ${what}: float32 tensors only, got ${t.dtype}`);
  return data.resource;
}

/** Floats between two sums' slots: storage-binding offsets must be multiples of 256 bytes. */
const SLOT = 64;

/**
 * Σ x² of each tensor (SAM's global norm is their sum), one dispatch per tensor — a workgroup of 256 threads, each
 * summing a strided share, then a tree — in one submit, read back at once.
 */
export async function fusedSumsOfSquares(tensors: readonly tf.Tensor[]): Promise<Float32Array> {
  if (tensors.length === 0) return new Float32Array(0);
  const backend = webgpuBackend();
  const { device } = backend;
  const sums = device.createBuffer({ size: tensors.length * SLOT * 4, usage: STORAGE | COPY_SRC });
  const staging = device.createBuffer({ size: tensors.length * SLOT * 4, usage: MAP_READ | COPY_DST });
  try {
    const dispatches = tensors.map((t, k): Dispatch => {
      const code = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> S: array<f32>;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < ${u(t.size)}; i += 256u) { s += X[i] * X[i]; }
  red[lid.x] = s;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid.x < w) { red[lid.x] = red[lid.x] + red[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { S[0] = red[0]; }
}`;
      return { pipeline: pipelineOf(device, code), buffers: [{ buffer: floatBuffer(backend, t, 'sums of squares') }, { buffer: sums, offset: k * SLOT * 4, size: 16 }], workgroups: [1, 1, 1] };
    });
    submitDispatches(device, backend, dispatches, undefined, (encoder) => encoder.copyBufferToBuffer(sums, 0, staging, 0, sums.size));
    await staging.mapAsync(MAP_READ);
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return Float32Array.from(tensors, (_, k) => all[k * SLOT]!);
  } finally {
    sums.destroy();
    staging.destroy();
  }
}

/**
 * One new tensor per item from an element-wise expression of its same-shaped float32 inputs (named X0, X1, … in
 * `expression`, indexed [i]) and the scalar `a` (A.x), one dispatch each in one submit; the caller disposes them.
 */
function fusedElementwise(what: string, items: readonly (readonly tf.Tensor[])[], expression: string, a: number): tf.Tensor[] {
  if (!Number.isFinite(a)) throw new Error(`fused ${what}: the scale must be a finite number, got ${a}`);
  const backend = webgpuBackend();
  const { device } = backend;
  const scale = device.createBuffer({ size: 16, usage: UNIFORM | COPY_DST });
  device.queue.writeBuffer(scale, 0, Float32Array.of(a, 0, 0, 0));
  const out: tf.Tensor[] = [];
  try {
    const dispatches = items.map((inputs): Dispatch => {
      const shape = inputs[0]!.shape;
      for (const t of inputs) if (t.shape.join() !== shape.join()) throw new Error(`fused ${what}: shapes [${shape}] and [${t.shape}] differ`);
      const z = unwrittenGpuTensor(backend, [...shape]);
      out.push(z);
      const size = z.size, g = grid1d(size, 256), n = inputs.length;
      const code = `${inputs.map((_, k) => `@group(0) @binding(${k}) var<storage, read> X${k}: array<f32>;`).join('\n')}
@group(0) @binding(${n}) var<storage, read_write> Z: array<f32>;
@group(0) @binding(${n + 1}) var<uniform> A: vec4<f32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = ${g.index};
  if (i >= ${u(size)}) { return; }
  Z[i] = ${expression};
}`;
      return {
        pipeline: pipelineOf(device, code),
        buffers: [...inputs.map((t) => ({ buffer: floatBuffer(backend, t, what) })), { buffer: gpuData(backend, z).resource }, { buffer: scale }],
        workgroups: g.workgroups,
      };
    });
    submitDispatches(device, backend, dispatches);
    return out;
  } catch (error) {
    tf.dispose(out);
    throw error;
  } finally {
    scale.destroy();
  }
}

/** x + a·y for each pair (SAM's ascent w + ε, ε = scale·g), one dispatch each in one submit; new tensors, the caller disposes them. */
export function fusedAxpy(pairs: readonly { x: tf.Tensor; y: tf.Tensor }[], a: number): tf.Tensor[] {
  return fusedElementwise('axpy', pairs.map(({ x, y }) => [x, y]), 'X0[i] + A.x * X1[i]', a);
}

/**
 * grad + λ·((w − z) + u) for each item: a gradient with the gradient of an ADMM augmented-Lagrangian term
 * (λ/2)‖w − z + u‖² added (SAFE's direction), one dispatch each in one submit; new tensors, the caller disposes them.
 */
export function fusedPenaltyGradient(items: readonly { grad: tf.Tensor; w: tf.Tensor; z: tf.Tensor; u: tf.Tensor }[], penalty: number): tf.Tensor[] {
  return fusedElementwise('penalty gradient', items.map(({ grad, w, z, u: dual }) => [grad, w, z, dual]), 'X0[i] + A.x * ((X1[i] - X2[i]) + X3[i])', penalty);
}

function kernelCode(size: number, kind: 'sgd' | 'adamw', decayed: boolean): { code: string; workgroups: [number, number, number] } {
  const g = grid1d(size, 256);
  const state = kind === 'sgd'
    ? optimizerBindings(2, 'sgd')
    : `@group(0) @binding(5) var<storage, read_write> M: array<f32>;
${optimizerBindings(2, 'adamw', { m: 'M[s]', v: 'V[s]' })}`;
  return {
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
${state}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = ${g.index};
  if (i >= ${u(size)}) { return; }
  P[i] = update(G[i], P[i], i, MASK[i], ${decayed});
}`,
  };
}

/**
 * One step of the masked optimizer of every item, on the webgpu backend, in one submit — SGD: g = (grad + wd·p)·mask;
 * v = μ·v + g; p − lr·v. AdamW: g = grad·mask; the moments; p·(1 − lr·wd) where `decayed`, − lr·m̂/(√v̂ + ε). Pruned
 * entries +0. Each parameter is written in place; returns each item's new state tensors (the caller disposes the
 * old ones).
 */
export function fusedMaskedUpdate(items: readonly FusedUpdateItem[], settings: FusedUpdateSettings): tf.Tensor[][] {
  const backend = webgpuBackend();
  const { device } = backend;
  for (const [k, v] of Object.entries(settings)) if (k !== 'kind' && !Number.isFinite(v)) throw new Error(`fused update: ${k} must be a finite number, got ${String(v)}`);
  const stateCount = settings.kind === 'sgd' ? 1 : 2;
  const hyperValues = settings.kind === 'sgd'
    ? [settings.learningRate, settings.momentum, settings.weightDecay, 0, 0, 0, 1, 1, 0]
    : [settings.learningRate, 0, settings.weightDecay, settings.beta1, settings.beta2, settings.eps, 1 - settings.beta1 ** settings.step, 1 - settings.beta2 ** settings.step, 0];
  const temporaries: tf.Tensor[] = [];
  const owned: GPUBuffer[] = [];
  const states: tf.Tensor[][] = [];
  try {
    const hyper = device.createBuffer({ size: Math.ceil((HYPER_FLOATS * 4) / 16) * 16, usage: UNIFORM | COPY_DST });
    owned.push(hyper);
    device.queue.writeBuffer(hyper, 0, Float32Array.from(hyperValues));
    // one buffer of ones serves every parameter without a mask
    const unmasked = Math.max(0, ...items.filter((item) => !item.mask).map((item) => item.param.size));
    const ones = device.createBuffer({ size: Math.max(16, Math.ceil((unmasked * 4) / 16) * 16), usage: STORAGE | COPY_DST });
    owned.push(ones);
    if (unmasked > 0) device.queue.writeBuffer(ones, 0, new Float32Array(unmasked).fill(1));
    const copies: { from: GPUBuffer | null; to: GPUBuffer; bytes: number }[] = [];
    const dispatches = items.map(({ param, grad, state, mask, decayed }): Dispatch => {
      if (state.length !== stateCount) throw new Error(`fused update: ${settings.kind} keeps ${stateCount} state tensor(s) per parameter, given ${state.length}`);
      for (const [t, what] of [[grad, 'gradient'], ...state.map((x) => [x, 'state'] as const), [mask, 'mask']] as const) {
        if (t && t.shape.join() !== param.shape.join()) throw new Error(`fused update: the ${what} of a [${param.shape}] parameter is [${t.shape}]`);
      }
      const next = state.map((old) => {
        const t = unwrittenGpuTensor(backend, [...param.shape]);
        copies.push({ from: old ? floatBuffer(backend, old, 'update') : null, to: gpuData(backend, t).resource, bytes: param.size * 4 });
        return t;
      });
      states.push(next);
      const { code, workgroups } = kernelCode(param.size, settings.kind, settings.kind === 'sgd' || decayed === true);
      // bindings: G, P, then V (SGD's velocity, AdamW's second moment), MASK, the settings, and AdamW's first moment M
      const [first, second] = next.map((t) => gpuData(backend, t).resource);
      const buffers = [floatBuffer(backend, grad, 'update'), exclusiveGpuBuffer(backend, param), settings.kind === 'sgd' ? first! : second!, mask ? float32MaskBuffer(backend, mask, temporaries) : ones, hyper, ...(settings.kind === 'sgd' ? [] : [first!])];
      return { pipeline: pipelineOf(device, code), buffers: buffers.map((buffer) => ({ buffer })), workgroups };
    });
    // each state starts as the old one, or zeros; tfjs's recorded work (the gradients themselves) goes first
    submitDispatches(device, backend, dispatches, (encoder) => {
      for (const c of copies) {
        if (c.from) encoder.copyBufferToBuffer(c.from, 0, c.to, 0, c.bytes);
        else encoder.clearBuffer(c.to, 0, c.bytes);
      }
    });
    return states;
  } catch (error) {
    tf.dispose(states.flat());
    throw error;
  } finally {
    tf.dispose(temporaries);
    for (const b of owned) b.destroy();
  }
}
