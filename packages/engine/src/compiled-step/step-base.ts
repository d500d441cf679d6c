/// <reference types="@webgpu/types" />
/**
 * What a compiled training step does whatever the model (used by the BERT step): owned GPU buffers, the
 * optimizer state (one buffer of per-parameter ranges, aligned for binding offsets, with a mask buffer of the same
 * ranges), the pipelines (identical kernels share one), bind groups that follow the model's variables' GPU buffers,
 * masks copied in when they change, the optimizer settings' uniform, one compute pass of every dispatch, the loss
 * read back, and readState / writeState under prunebench's names.
 */
import * as tf from '@tensorflow/tfjs';
import { HYPER_FLOATS, statePrefixes, stateStride, type CompiledOptimizer, type Kernel } from './wgsl.js';
import { cachedComputePipeline } from './pipeline-cache.js';
import type { CompiledTrainingStep } from './training-step.js';
import type { CompiledStepIssueTiming, CompiledStepSettings, CompiledStepStats, CompiledStepVariables } from './resnet-cifar-step.js';
import { exclusiveGpuBuffer, float32MaskBuffer, flushTfjs, gpuData, unwrittenGpuTensor, webgpuBackend, type WebgpuBackendInternals } from './tfjs-webgpu.js';

export const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08, MAP_READ = 0x01, UNIFORM = 0x40;
/** Floats per 256-byte binding-offset alignment. */
const ALIGN = 64;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** What one binding of a dispatch is: an owned buffer, a model variable, a state group's range, the settings. */
export type StepRef =
  | { own: GPUBuffer }
  | { variable: string }
  | { state: 'velocity' | 'mask'; name: string }
  | { hyper: true };

interface Dispatch {
  kernel: Kernel;
  refs: StepRef[];
  pipeline?: GPUComputePipeline;
  group?: GPUBindGroup;
}

/** Builds a step's pipelines and returns it, or frees its buffers and rethrows where that fails. */
export async function compiled<T extends CompiledStepBase>(step: T): Promise<T> {
  try {
    await step.compile();
  } catch (error) {
    step.dispose();
    throw error;
  }
  return step;
}

export abstract class CompiledStepBase implements CompiledTrainingStep {
  protected readonly backend: WebgpuBackendInternals;
  protected readonly device: GPUDevice;
  private readonly owned: GPUBuffer[] = [];
  private readonly dispatches: Dispatch[] = [];
  private readonly ranges = new Map<string, { offset: number; size: number }>();
  private readonly groups = new Map<string, { offset: number; floats: number }>();
  private stateFloats = 0;
  private velocity!: GPUBuffer;
  private maskBuffer!: GPUBuffer;
  private readonly hyper: GPUBuffer;
  private hyperValues = new Float32Array(HYPER_FLOATS).fill(NaN);
  private readonly stride: number;
  private counter: { steps: number } = { steps: 0 };
  private readonly readbacks: { buffer: GPUBuffer; busy: boolean }[] = [];
  private readonly bound = new Map<string, GPUBuffer>();
  private readonly maskSource = new Map<string, tf.Tensor | null>();
  private pipelineCount = 0;
  private bytes = 0;
  protected disposed = false;
  /** Where the host time of the last `step` call went (before its returned promise settles). */
  lastIssue: CompiledStepIssueTiming = { prepareMs: NaN, encodeMs: NaN, submitMs: NaN };

  constructor(protected readonly variables: CompiledStepVariables, readonly optimizer: CompiledOptimizer) {
    this.backend = webgpuBackend();
    this.device = this.backend.device;
    this.stride = stateStride(optimizer);
    this.hyper = this.buffer(HYPER_FLOATS * 4, UNIFORM | COPY_DST);
  }

  abstract step(inputs: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor, settings: CompiledStepSettings): Promise<number>;

  protected buffer(bytes: number, usage = STORAGE | COPY_SRC | COPY_DST): GPUBuffer {
    const buffer = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
    this.owned.push(buffer);
    this.bytes += buffer.size;
    return buffer;
  }

  /** Throws unless the model has this float32 parameter (or buffer) of this shape. */
  protected expect(name: string, shape: number[], kind: 'params' | 'buffers' = 'params'): void {
    const v = this.variables[kind].get(name);
    if (!v) throw new Error(`compiled step: the model has no ${kind === 'params' ? 'parameter' : 'buffer'} '${name}'`);
    if (v.dtype !== 'float32' || v.shape.join() !== shape.join()) {
      throw new Error(`compiled step: '${name}' must be float32 [${shape}], got ${v.dtype} [${v.shape}]`);
    }
  }

  /** Reserves aligned optimizer-state ranges for parameters bound together; returns their offsets within the group. */
  protected stateGroup(names: string[]): number[] {
    const start = this.stateFloats;
    const offsets: number[] = [];
    let at = 0;
    for (const name of names) {
      const size = this.variables.params.get(name)!.size;
      this.ranges.set(name, { offset: start + at, size });
      offsets.push(at);
      at = align(at + size);
    }
    this.stateFloats = start + align(at);
    this.groups.set(names[0]!, { offset: start, floats: align(at) });
    return offsets;
  }

  /** Appends a dispatch (in step order). */
  protected dispatch(kernel: Kernel, refs: StepRef[]): void {
    if (refs.length !== kernel.bindings.length) throw new Error(`compiled step: ${kernel.name} has ${kernel.bindings.length} bindings, given ${refs.length}`);
    this.dispatches.push({ kernel, refs });
  }

  /**
   * Allocates the optimizer state and the masks (all ones) once every group is reserved; `shared`: another step of
   * the same network and optimizer (another batch shape) whose state and step count this one uses.
   */
  protected allocateState(shared: CompiledStepBase | undefined): void {
    if (shared) {
      const same = shared.stateFloats === this.stateFloats && shared.optimizer === this.optimizer && [...this.ranges].every(([name, r]) => {
        const o = shared.ranges.get(name);
        return o !== undefined && o.offset === r.offset && o.size === r.size;
      });
      if (!same) throw new Error('compiled step: the step to share optimizer state with is of a different network or optimizer');
      this.velocity = shared.velocity;
      this.counter = shared.counter;
    } else {
      this.velocity = this.buffer(Math.max(1, this.stateFloats * this.stride) * 4);
    }
    this.maskBuffer = this.buffer(Math.max(1, this.stateFloats) * 4);
    this.device.queue.writeBuffer(this.maskBuffer, 0, new Float32Array(this.stateFloats).fill(1));
    for (const name of this.ranges.keys()) this.maskSource.set(name, null);
  }

  /** Builds every pipeline (in parallel; identical kernels share one, also across steps) and checks them for WGSL/validation errors. */
  async compile(): Promise<void> {
    this.device.pushErrorScope('validation');
    const pipelines = await Promise.all(this.dispatches.map((d) => cachedComputePipeline(this.device, d.kernel.code, d.kernel.name)));
    this.dispatches.forEach((d, i) => (d.pipeline = pipelines[i]));
    const error = await this.device.popErrorScope();
    if (error) throw new Error(`compiled step: pipeline creation failed: ${error.message}`);
    this.pipelineCount = new Set(this.dispatches.map((d) => d.kernel.code)).size;
  }

  get stats(): CompiledStepStats {
    const byKernel: Record<string, number> = {};
    for (const d of this.dispatches) byKernel[d.kernel.name] = (byKernel[d.kernel.name] ?? 0) + 1;
    return { dispatches: this.dispatches.length, pipelines: this.pipelineCount, byKernel, bytes: this.bytes };
  }

  private resolve(ref: StepRef): GPUBufferBinding {
    if ('own' in ref) return { buffer: ref.own };
    if ('variable' in ref) return { buffer: this.bound.get(ref.variable)! };
    if ('hyper' in ref) return { buffer: this.hyper };
    const group = this.groups.get(ref.name)!;
    const stride = ref.state === 'velocity' ? this.stride : 1;
    return { buffer: ref.state === 'velocity' ? this.velocity : this.maskBuffer, offset: group.offset * stride * 4, size: group.floats * stride * 4 };
  }

  /** Makes every variable's buffer exclusive and current; rebuilds the bind groups if any buffer changed. */
  private refreshBindings(): void {
    let changed = this.bound.size === 0;
    const names = new Set<string>();
    for (const d of this.dispatches) for (const ref of d.refs) if ('variable' in ref) names.add(ref.variable);
    for (const name of names) {
      const variable = this.variables.params.get(name) ?? this.variables.buffers.get(name)!;
      const buffer = exclusiveGpuBuffer(this.backend, variable);
      if (this.bound.get(name) !== buffer) {
        this.bound.set(name, buffer);
        changed = true;
      }
    }
    if (!changed) return;
    for (const d of this.dispatches) {
      d.group = this.device.createBindGroup({
        layout: d.pipeline!.getBindGroupLayout(0),
        entries: d.refs.map((ref, binding) => ({ binding, resource: this.resolve(ref) })),
      });
    }
  }

  /** Copies masks that changed since the last step into the mask ranges (ones where a parameter has none). */
  private refreshMasks(encoder: GPUCommandEncoder, masks: ReadonlyMap<string, tf.Tensor> | undefined): tf.Tensor[] {
    const temporaries: tf.Tensor[] = [];
    if (masks) {
      for (const name of masks.keys()) {
        if (!this.ranges.has(name)) throw new Error(`compiled step: a mask for '${name}', which the step does not train`);
      }
    }
    for (const [name, range] of this.ranges) {
      const mask = masks?.get(name) ?? null;
      if (this.maskSource.get(name) === mask) continue;
      this.maskSource.set(name, mask);
      if (mask === null) {
        this.device.queue.writeBuffer(this.maskBuffer, range.offset * 4, new Float32Array(range.size).fill(1));
        continue;
      }
      if (mask.size !== range.size) throw new Error(`compiled step: the mask of '${name}' has ${mask.size} values, the parameter ${range.size}`);
      encoder.copyBufferToBuffer(float32MaskBuffer(this.backend, mask, temporaries), 0, this.maskBuffer, range.offset * 4, range.size * 4);
    }
    return temporaries;
  }

  /**
   * One step: checks the settings, binds, writes the settings' uniform, lets `prepare` record the inputs' copies
   * (it returns tensors to dispose after the submit), flushes tfjs, encodes every dispatch in one compute pass, copies
   * the float at `loss` back, submits once; resolves to that float.
   */
  protected run(
    settings: CompiledStepSettings,
    prepare: (encoder: GPUCommandEncoder) => tf.Tensor[],
    loss: { buffer: GPUBuffer; offset: number },
    t0: number,
  ): Promise<number> {
    if ((settings.kind ?? 'sgd') !== this.optimizer) throw new Error(`compiled step: compiled for ${this.optimizer}, given ${settings.kind ?? 'sgd'} settings`);
    // a gradient read is not an update: the step count (AdamW's bias correction) stays
    const t = settings.kind === 'gradient' ? this.counter.steps : this.counter.steps + 1;
    const hyper = settings.kind === 'gradient' ? [0, 0, 0, 0, 0, 0, 1, 1, 1] : hyperUniform(settings, t);
    this.refreshBindings();
    if (hyper.some((v, i) => v !== this.hyperValues[i])) {
      this.hyperValues = Float32Array.from(hyper);
      this.device.queue.writeBuffer(this.hyper, 0, this.hyperValues);
    }
    const encoder = this.device.createCommandEncoder();
    const temporaries = [...this.refreshMasks(encoder, settings.kind === 'gradient' ? undefined : settings.masks), ...prepare(encoder)];
    // tfjs's own pending work (uploads, casts) goes first in queue order
    flushTfjs(this.backend);
    const t1 = performance.now();
    const pass = encoder.beginComputePass();
    for (const d of this.dispatches) {
      pass.setPipeline(d.pipeline!);
      pass.setBindGroup(0, d.group!);
      const [x, y, z] = d.kernel.workgroups;
      pass.dispatchWorkgroups(x, y, z);
    }
    pass.end();
    const readback = this.readback();
    encoder.copyBufferToBuffer(loss.buffer, loss.offset * 4, readback.buffer, 0, 4);
    const commands = encoder.finish();
    const t2 = performance.now();
    this.device.queue.submit([commands]);
    this.counter.steps = t;
    this.lastIssue = { prepareMs: t1 - t0, encodeMs: t2 - t1, submitMs: performance.now() - t2 };
    tf.dispose(temporaries);
    return readback.buffer.mapAsync(MAP_READ).then(() => {
      const value = new Float32Array(readback.buffer.getMappedRange().slice(0))[0]!;
      readback.buffer.unmap();
      readback.busy = false;
      return value;
    });
  }

  /** The GPU buffer of an input tensor (uploaded if tfjs still holds it on the host). */
  protected inputBuffer(tensor: tf.Tensor): GPUBuffer {
    return gpuData(this.backend, tensor).resource;
  }

  /** Its GPU buffer and the dtype its data is really stored as (a cast may have relabelled the tensor). */
  protected inputData(tensor: tf.Tensor): { resource: GPUBuffer; dtype: tf.DataType } {
    const data = gpuData(this.backend, tensor);
    return { resource: data.resource, dtype: data.dtype };
  }

  private readback(): { buffer: GPUBuffer; busy: boolean } {
    let free = this.readbacks.find((r) => !r.busy);
    if (!free) {
      free = { buffer: this.device.createBuffer({ size: 16, usage: MAP_READ | COPY_DST }), busy: false };
      this.readbacks.push(free);
    }
    free.busy = true;
    return free;
  }

  /** Updates taken so far (AdamW's bias correction counts them); settable for a restored optimizer state. */
  get steps(): number {
    return this.counter.steps;
  }

  set steps(value: number) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`compiled step: steps must be an integer >= 0, got ${value}`);
    this.counter.steps = value;
  }

  /** The optimizer state: `momentum/<param>` (SGD), `adam-m/<param>` and `adam-v/<param>` (AdamW); zeros before the first step. */
  async readState(): Promise<Map<string, Float32Array>> {
    const staging = this.device.createBuffer({ size: this.velocity.size, usage: MAP_READ | COPY_DST });
    flushTfjs(this.backend);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.velocity, 0, staging, 0, this.velocity.size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(MAP_READ);
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    const out = new Map<string, Float32Array>();
    const prefixes = statePrefixes(this.optimizer);
    for (const [name, r] of this.ranges) {
      const base = r.offset * this.stride;
      if (this.stride === 1) out.set(`${prefixes[0]}/${name}`, all.slice(base, base + r.size));
      else {
        const m = new Float32Array(r.size), v = new Float32Array(r.size);
        for (let i = 0; i < r.size; i++) {
          m[i] = all[base + 2 * i]!;
          v[i] = all[base + 2 * i + 1]!;
        }
        out.set(`${prefixes[0]}/${name}`, m);
        out.set(`${prefixes[1]}/${name}`, v);
      }
    }
    return out;
  }

  /**
   * A gradient read (a step compiled with `optimizer: 'gradient'`): one submitted step — training-mode forward,
   * running statistics updated as any training step does, backward, no parameter changed — then the mean loss and
   * the dense gradient of every trained parameter as tfjs tensors (the caller disposes them), as tfjs's
   * `variableGrads` of the loss would give.
   */
  async gradients(inputs: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    if (this.optimizer !== 'gradient') throw new Error(`compiled step: gradients() needs a step compiled with optimizer 'gradient', this one runs ${this.optimizer}`);
    const loss = this.step(inputs, labels, { kind: 'gradient' });
    // each gradient copied out of the state buffer into a tfjs tensor's buffer: one encoder and one submit for all
    const grads = new Map<string, tf.Tensor>();
    const encoder = this.device.createCommandEncoder();
    for (const [name, r] of this.ranges) {
      const tensor = unwrittenGpuTensor(this.backend, this.shapeOf(name));
      grads.set(name, tensor);
      encoder.copyBufferToBuffer(this.velocity, r.offset * 4, gpuData(this.backend, tensor).resource, 0, r.size * 4);
    }
    // a pooled buffer may have been read by tfjs commands recorded before: they go first in queue order
    flushTfjs(this.backend);
    this.device.queue.submit([encoder.finish()]);
    try {
      return { loss: await loss, grads };
    } catch (error) {
      tf.dispose([...grads.values()]);
      throw error;
    }
  }

  /** Sets the optimizer state (names as readState's; entries not given are zeroed). */
  writeState(values: ReadonlyMap<string, ArrayLike<number>>): void {
    const all = new Float32Array(this.stateFloats * this.stride);
    const prefixes = statePrefixes(this.optimizer);
    for (const [key, v] of values) {
      const slash = key.indexOf('/');
      const prefix = key.slice(0, slash), name = key.slice(slash + 1);
      const r = this.ranges.get(name);
      if (!prefixes.includes(prefix) || !r) throw new Error(`compiled step: no optimizer state '${key}' (it keeps ${prefixes.map((p) => `${p}/<param>`).join(', ')})`);
      if (v.length !== r.size) throw new Error(`compiled step: '${key}' has ${v.length} values, expected ${r.size}`);
      const base = r.offset * this.stride;
      if (this.stride === 1) all.set(v, base);
      else for (let i = 0; i < r.size; i++) all[base + 2 * i + prefixes.indexOf(prefix)] = v[i]!;
    }
    this.device.queue.writeBuffer(this.velocity, 0, all);
  }

  /** The parameters the step trains (those with optimizer state), in state order. */
  get trainedNames(): string[] {
    return [...this.ranges.keys()];
  }

  shapeOf(name: string): number[] {
    const v = this.ranges.has(name) ? this.variables.params.get(name) : undefined;
    if (!v) throw new Error(`compiled step: '${name}' is not a parameter it trains`);
    return [...v.shape];
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.owned) b.destroy();
    for (const r of this.readbacks) r.buffer.destroy();
  }
}

/** The settings' uniform, HYPER's layout: [lr, momentum, weightDecay, beta1, beta2, eps, 1 − β1ᵗ, 1 − β2ᵗ, gradientOnly 0] at step t. */
function hyperUniform(settings: Exclude<CompiledStepSettings, { kind: 'gradient' }>, t: number): number[] {
  const { learningRate, weightDecay = 0 } = settings;
  const [momentum, beta1, beta2, eps] = settings.kind === 'adamw' ? [0, settings.beta1, settings.beta2, settings.eps] : [settings.momentum ?? 0, 0, 0, 0];
  for (const [k, v] of Object.entries({ learningRate, momentum, weightDecay, beta1, beta2, eps })) {
    if (!Number.isFinite(v)) throw new Error(`compiled step: ${k} must be a finite number, got ${v}`);
  }
  return [learningRate, momentum, weightDecay, beta1, beta2, eps, 1 - beta1 ** t, 1 - beta2 ** t, 0];
}
