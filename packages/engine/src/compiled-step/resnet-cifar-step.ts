/// <reference types="@webgpu/types" />
/**
 * A compiled training step for ResNet-CIFAR on tfjs's webgpu backend (issue 16, design b), with prunebench's
 * masked SGD (momentum, weight decay) or AdamW fused in.
 *
 * Built once per model shape (widths, removed blocks, batch and image size): every kernel's pipeline, every
 * activation and gradient buffer, and every bind group. A step then is one command encoder with one compute pass —
 * forward in training mode with the running statistics' update, softmax cross-entropy, backward, and the
 * optimizer's update fused into the kernels that finish each gradient — and one submit. The parameters and
 * running statistics stay the model's tf.Variables: the step reads and writes their GPU buffers in place, as
 * `variable.assign` would (a variable whose data is shared with another tensor first gets a copy of its own), so
 * the rest of prunebench keeps using tfjs tensors. Its numbers are `maskedSgdStep`'s on the same model up to float
 * rounding (tested against the cpu backend), and AdamW's are MaskedAdamW's (tested against it on webgpu).
 *
 * Dispatches per step: 3 per conv + batch norm forward (convolution, statistics, normalise [+ residual] + ReLU),
 * 3 for the head, 5 per conv + batch norm backward (batch-norm reductions + γ/β update, dx, input gradient, filter
 * gradient in splits, split sum + filter update; the stem has no input gradient), 1 per removed option-A block each
 * way. ResNet-20: 154.
 */
import * as tf from '@tensorflow/tfjs';
import {
  STATS_FLOATS, bnApply, bnBackwardDx, bnBackwardReduceSgd, bnStats, convFilterGradPartial, convForward,
  convInputGrad, convOut, HYPER_FLOATS, stateStride, type CompiledOptimizer, filterGradReduceSgd, filterGradSplits, headBackwardSgd, headFeatureGrad, headForward,
  headLayout, shortcutBackward, shortcutForward, type ConvShape, type Kernel, type ResidualSource,
} from './wgsl.js';
import { cachedComputePipeline } from './pipeline-cache.js';
import type { CompiledTrainingStep } from './training-step.js';
import { exclusiveGpuBuffer, flushTfjs, gpuData, webgpuBackend, type WebgpuBackendInternals } from './tfjs-webgpu.js';

/** One residual block as @prunebench/models' `resolveBlocks` describes it. */
export interface CompiledStepBlock {
  prefix: string;
  in: number;
  mid: number;
  out: number;
  stride: number;
  optionA: boolean;
  removed: boolean;
}

/** The network: `{ stem: arch.stem, numClasses: arch.numClasses, blocks: resolveBlocks(arch) }`. */
export interface ResNetCifarNet {
  stem: number;
  numClasses: number;
  blocks: readonly CompiledStepBlock[];
}

export interface CompiledStepShape {
  batch: number;
  height: number;
  width: number;
}

/** The model's parameters and buffers by their state-dict names (conv1.weight, bn1.running_mean, …). */
export interface CompiledStepVariables {
  params: ReadonlyMap<string, tf.Variable>;
  buffers: ReadonlyMap<string, tf.Variable>;
}

export interface CompiledSgdSettings {
  kind?: 'sgd';
  learningRate: number;
  /** Heavy-ball momentum (PyTorch's form), 0 = plain SGD. */
  momentum?: number;
  /** L2 penalty added to every parameter's gradient (PyTorch's weight_decay), as maskedSgdStep. */
  weightDecay?: number;
  /** 0/1 masks by parameter name: pruned weights take no gradient and are +0 after every step. */
  masks?: ReadonlyMap<string, tf.Tensor>;
}

/** PyTorch's AdamW, as prunebench's MaskedAdamW (the step was compiled with `optimizer: 'adamw'`). */
export interface CompiledAdamWSettings {
  kind: 'adamw';
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay on the weights only (convolutions, the linear weight): ADAMW_DECAYED_KINDS. */
  weightDecay: number;
  masks?: ReadonlyMap<string, tf.Tensor>;
}

/** Host milliseconds of the last step's parts: bindings and inputs checked, commands encoded, queue.submit. */
export interface CompiledStepIssueTiming {
  prepareMs: number;
  encodeMs: number;
  submitMs: number;
}

export interface CompiledStepStats {
  dispatches: number;
  /** Distinct compute pipelines (layers of the same shape share one). */
  pipelines: number;
  /** Dispatches by kernel name. */
  byKernel: Record<string, number>;
  /** GPU memory the step owns (activations, gradients, optimizer state, scratch), bytes. */
  bytes: number;
}

const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08, MAP_READ = 0x01, UNIFORM = 0x40;
/** Floats per 256-byte binding-offset alignment. */
const ALIGN = 64;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

type Ref =
  | { own: GPUBuffer; offset?: number; size?: number }
  | { variable: string }
  | { state: 'velocity' | 'mask'; name: string }
  | { hyper: true };

interface Dispatch {
  kernel: Kernel;
  refs: Ref[];
  pipeline?: GPUComputePipeline;
  group?: GPUBindGroup;
}

interface Activation {
  buffer: GPUBuffer;
  height: number;
  width: number;
  channels: number;
}

export interface CompileOptions {
  /**
   * Another compiled step of the same network (another batch shape, e.g. a last smaller batch) whose momentum
   * buffers this one uses, so both update one optimizer state. It must outlive this one.
   */
  shareVelocityWith?: CompiledResNetCifarStep;
  /** The optimizer fused into the update kernels (default 'sgd'). */
  optimizer?: CompiledOptimizer;
}

/** Returns the compiled step for this network and shape, or throws where a parameter or buffer is missing or misshapen. */
export async function compileResNetCifarStep(
  net: ResNetCifarNet,
  variables: CompiledStepVariables,
  shape: CompiledStepShape,
  options: CompileOptions = {},
): Promise<CompiledResNetCifarStep> {
  const step = new CompiledResNetCifarStep(net, variables, shape, options);
  try {
    await step.compile();
  } catch (error) {
    step.dispose();
    throw error;
  }
  return step;
}

export class CompiledResNetCifarStep implements CompiledTrainingStep {
  private readonly backend: WebgpuBackendInternals;
  private readonly device: GPUDevice;
  private readonly owned: GPUBuffer[] = [];
  private readonly forward: Dispatch[] = [];
  private readonly backward: Dispatch[] = [];
  /** Optimizer state: one buffer each for velocities and masks, the same aligned ranges per parameter. */
  private readonly ranges = new Map<string, { offset: number; size: number }>();
  /** Ranges bound together (a batch norm's γ and β, the linear weight and bias), by their first parameter. */
  private readonly groups = new Map<string, { offset: number; floats: number }>();
  private stateFloats = 0;
  private velocity!: GPUBuffer;
  private maskBuffer!: GPUBuffer;
  private readonly hyper: GPUBuffer;
  private hyperValues = new Float32Array(HYPER_FLOATS).fill(NaN);
  readonly optimizer: CompiledOptimizer;
  private readonly stride: number;
  /** Updates taken (AdamW's bias correction); shared by steps that share their optimizer state. */
  private counter: { steps: number } = { steps: 0 };
  private readonly images: GPUBuffer;
  private readonly labels: GPUBuffer;
  private readonly headScratch: GPUBuffer;
  private readonly meanLossOffset: number;
  private readonly readbacks: { buffer: GPUBuffer; busy: boolean }[] = [];
  /** The GPU buffer each variable had when the bind groups were made. */
  private readonly bound = new Map<string, GPUBuffer>();
  /** The mask tensor (or null: all ones) last copied into each parameter's mask range. */
  private readonly maskSource = new Map<string, tf.Tensor | null>();
  private disposed = false;
  private bytes = 0;

  constructor(
    readonly net: ResNetCifarNet,
    private readonly variables: CompiledStepVariables,
    readonly shape: CompiledStepShape,
    private readonly options: CompileOptions = {},
  ) {
    this.backend = webgpuBackend();
    this.device = this.backend.device;
    const { batch, height, width } = shape;
    for (const [k, v] of Object.entries(shape)) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`compiled step: shape.${k} must be a positive integer, got ${v}`);
    }
    if (batch * height * width < 2) throw new Error('compiled step: training-mode batch norm needs more than one value per channel');
    this.optimizer = options.optimizer ?? 'sgd';
    this.stride = stateStride(this.optimizer);
    this.hyper = this.buffer(HYPER_FLOATS * 4, UNIFORM | COPY_DST);
    this.images = this.buffer(batch * height * width * 3 * 4);
    this.labels = this.buffer(batch * 4);
    try {
      const head = this.plan();
      this.headScratch = head.scratch;
      this.meanLossOffset = headLayout(batch, head.features, net.numClasses).meanLoss;
    } catch (error) {
      for (const b of this.owned) b.destroy();
      throw error;
    }
  }

  private buffer(bytes: number, usage = STORAGE | COPY_SRC | COPY_DST): GPUBuffer {
    const buffer = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
    this.owned.push(buffer);
    this.bytes += buffer.size;
    return buffer;
  }

  private expect(name: string, kind: 'params' | 'buffers', shape: number[]): void {
    const v = this.variables[kind].get(name);
    if (!v) throw new Error(`compiled step: the model has no ${kind === 'params' ? 'parameter' : 'buffer'} '${name}'`);
    if (v.dtype !== 'float32' || v.shape.join() !== shape.join()) {
      throw new Error(`compiled step: '${name}' must be float32 [${shape}], got ${v.dtype} [${v.shape}]`);
    }
  }

  /** Reserves aligned optimizer-state ranges for a group of parameters bound together; returns the offsets within it. */
  private stateGroup(names: string[]): number[] {
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

  /** The velocity or mask range of the group that starts at parameter `first`. */
  private stateRef(state: 'velocity' | 'mask', first: string): Ref {
    return { state, name: first };
  }

  /** Lays out the step: buffers, kernels and what each binds; returns the head's scratch buffer and its input width. */
  private plan(): { scratch: GPUBuffer; features: number } {
    const { net, shape } = this;
    const { batch } = shape;
    const fwd = (kernel: Kernel, refs: Ref[]) => this.forward.push({ kernel, refs });
    let dconvFloats = 0, partFloats = 0;
    interface ConvBn { conv: string; bn: string; shape: ConvShape; input: Activation; convOut: GPUBuffer; stats: GPUBuffer; betaOffset: number; output: Activation }

    const convBn = (input: Activation, conv: string, bn: string, cout: number, stride: number, relu: boolean, residual: { source: Activation; stride: number; padBefore: number } | null): ConvBn => {
      const s: ConvShape = { batch, height: input.height, width: input.width, cin: input.channels, cout, stride };
      this.expect(conv, 'params', [3, 3, s.cin, cout]);
      for (const p of ['weight', 'bias']) this.expect(`${bn}.${p}`, 'params', [cout]);
      for (const b of ['running_mean', 'running_var']) this.expect(`${bn}.${b}`, 'buffers', [cout]);
      const oh = convOut(s.height, stride), ow = convOut(s.width, stride);
      const positions = batch * oh * ow;
      const out = this.buffer(positions * cout * 4);
      const stats = this.buffer(STATS_FLOATS * cout * 4);
      const act = this.buffer(positions * cout * 4);
      this.stateGroup([conv]);
      const [, betaOffset] = this.stateGroup([`${bn}.weight`, `${bn}.bias`]);
      fwd(convForward(s), [{ own: input.buffer }, { variable: conv }, { own: out }]);
      fwd(bnStats(positions, cout), [{ own: out }, { own: stats }, { variable: `${bn}.running_mean` }, { variable: `${bn}.running_var` }]);
      const res: ResidualSource | null = residual
        ? { height: residual.source.height, width: residual.source.width, channels: residual.source.channels, stride: residual.stride, padBefore: residual.padBefore }
        : null;
      fwd(bnApply(batch, oh, ow, cout, relu, res), [
        { own: out }, { own: stats }, { variable: `${bn}.weight` }, { variable: `${bn}.bias` },
        ...(residual ? [{ own: residual.source.buffer }] : []), { own: act },
      ]);
      dconvFloats = Math.max(dconvFloats, positions * cout);
      partFloats = Math.max(partFloats, filterGradSplits(s) * 9 * s.cin * cout);
      return { conv, bn, shape: s, input, convOut: out, stats, betaOffset: betaOffset!, output: { buffer: act, height: oh, width: ow, channels: cout } };
    };

    const imageAct: Activation = { buffer: this.images, height: shape.height, width: shape.width, channels: 3 };
    const stem = convBn(imageAct, 'conv1.weight', 'bn1', net.stem, 1, true, null);
    let x = stem.output;
    interface BlockPlan { block: CompiledStepBlock; input: Activation; output: Activation; c1?: ConvBn; c2?: ConvBn }
    const blocks: BlockPlan[] = [];
    for (const block of net.blocks) {
      if (block.in !== x.channels) throw new Error(`compiled step: block ${block.prefix} takes ${block.in} channels, gets ${x.channels}`);
      const padBefore = Math.floor((block.out - block.in) / 2);
      if (block.removed) {
        if (!block.optionA) {
          blocks.push({ block, input: x, output: x });
          continue;
        }
        const oh = Math.ceil(x.height / block.stride), ow = Math.ceil(x.width / block.stride);
        const out: Activation = { buffer: this.buffer(batch * oh * ow * block.out * 4), height: oh, width: ow, channels: block.out };
        const src: ResidualSource = { height: x.height, width: x.width, channels: x.channels, stride: block.stride, padBefore };
        fwd(shortcutForward(batch, src, oh, ow, block.out), [{ own: x.buffer }, { own: out.buffer }]);
        blocks.push({ block, input: x, output: out });
        x = out;
        continue;
      }
      const c1 = convBn(x, `${block.prefix}.conv1.weight`, `${block.prefix}.bn1`, block.mid, block.stride, true, null);
      const c2 = convBn(c1.output, `${block.prefix}.conv2.weight`, `${block.prefix}.bn2`, block.out, 1, true, { source: x, stride: block.stride, padBefore });
      if (block.optionA && (Math.ceil(x.height / block.stride) !== c2.output.height || Math.ceil(x.width / block.stride) !== c2.output.width)) {
        throw new Error(`compiled step: block ${block.prefix}'s shortcut and convolutions disagree on the output size`);
      }
      blocks.push({ block, input: x, output: c2.output, c1, c2 });
      x = c2.output;
    }

    // head
    const features = x.channels, classes = net.numClasses, hw = x.height * x.width;
    this.expect('linear.weight', 'params', [features, classes]);
    this.expect('linear.bias', 'params', [classes]);
    const L = headLayout(batch, features, classes);
    const scratch = this.buffer(L.size * 4);
    const [, biasOffset] = this.stateGroup(['linear.weight', 'linear.bias']);
    fwd(headForward(batch, hw, features, classes), [
      { own: x.buffer }, { variable: 'linear.weight' }, { variable: 'linear.bias' }, { own: this.labels }, { own: scratch },
    ]);
    const gradOf = (a: Activation) => this.buffer(batch * a.height * a.width * a.channels * 4);
    let g = gradOf(x);
    fwd(headFeatureGrad(batch, hw, features, classes), [{ own: x.buffer }, { own: scratch }, { variable: 'linear.weight' }, { own: g }]);
    fwd(headBackwardSgd(batch, features, classes, biasOffset!, this.optimizer), [
      { own: scratch }, { variable: 'linear.weight' }, { variable: 'linear.bias' },
      this.stateRef('velocity', 'linear.weight'), this.stateRef('mask', 'linear.weight'), { hyper: true },
    ]);

    // backward (the buffers sized now that every layer is known)
    const dconv = this.buffer(dconvFloats * 4);
    const part = this.buffer(partFloats * 4);
    const bwd = (kernel: Kernel, refs: Ref[]) => this.backward.push({ kernel, refs });
    /** conv + batch norm backward from dz (the gradient at the batch norm's output); returns nothing, fills dconv. */
    const convBnBackward = (c: ConvBn, dz: GPUBuffer, inputGrad: { into: GPUBuffer; shortcut: { gradient: GPUBuffer; outChannels: number; padBefore: number } | null } | null) => {
      const positions = batch * c.output.height * c.output.width;
      const C = c.output.channels;
      bwd(bnBackwardReduceSgd(positions, C, c.betaOffset, this.optimizer), [
        { own: dz }, { own: c.convOut }, { own: c.stats }, { variable: `${c.bn}.weight` }, { variable: `${c.bn}.bias` },
        this.stateRef('velocity', `${c.bn}.weight`), this.stateRef('mask', `${c.bn}.weight`), { hyper: true },
      ]);
      bwd(bnBackwardDx(positions, C), [{ own: dz }, { own: c.convOut }, { own: c.stats }, { own: dconv }]);
      if (inputGrad) {
        const sc = inputGrad.shortcut;
        bwd(convInputGrad(c.shape, sc ? { outChannels: sc.outChannels, padBefore: sc.padBefore } : null), [
          { own: dconv }, { variable: c.conv }, { own: c.input.buffer }, ...(sc ? [{ own: sc.gradient }] : []), { own: inputGrad.into },
        ]);
      }
      bwd(convFilterGradPartial(c.shape), [{ own: c.input.buffer }, { own: dconv }, { own: part }]);
      bwd(filterGradReduceSgd(c.shape, this.optimizer), [{ own: part }, { variable: c.conv }, this.stateRef('velocity', c.conv), this.stateRef('mask', c.conv), { hyper: true }]);
    };
    for (const b of [...blocks].reverse()) {
      const padBefore = Math.floor((b.block.out - b.block.in) / 2);
      if (b.block.removed) {
        if (!b.block.optionA) continue; // identity: the gradient passes through unchanged
        const gin = gradOf(b.input);
        const src: ResidualSource = { height: b.input.height, width: b.input.width, channels: b.input.channels, stride: b.block.stride, padBefore };
        bwd(shortcutBackward(batch, src, b.output.height, b.output.width, b.output.channels), [{ own: g }, { own: b.input.buffer }, { own: gin }]);
        g = gin;
        continue;
      }
      const gmid = gradOf(b.c1!.output);
      convBnBackward(b.c2!, g, { into: gmid, shortcut: null });
      const gin = gradOf(b.input);
      convBnBackward(b.c1!, gmid, { into: gin, shortcut: { gradient: g, outChannels: b.block.out, padBefore } });
      g = gin;
    }
    convBnBackward(stem, g, null);
    const shared = this.options.shareVelocityWith;
    if (shared) {
      const same = shared.stateFloats === this.stateFloats && [...this.ranges].every(([name, r]) => {
        const o = shared.ranges.get(name);
        return o !== undefined && o.offset === r.offset && o.size === r.size;
      });
      if (!same || shared.optimizer !== this.optimizer) throw new Error('compiled step: shareVelocityWith names a step of a different network or optimizer');
      this.velocity = shared.velocity;
      this.counter = shared.counter;
    } else {
      this.velocity = this.buffer(Math.max(1, this.stateFloats * this.stride) * 4);
    }
    this.maskBuffer = this.buffer(Math.max(1, this.stateFloats) * 4);
    this.device.queue.writeBuffer(this.maskBuffer, 0, new Float32Array(this.stateFloats).fill(1));
    for (const name of this.ranges.keys()) this.maskSource.set(name, null);
    return { scratch, features };
  }

  /** Builds every pipeline (in parallel; identical kernels share one, also across steps) and checks them for WGSL/validation errors. */
  async compile(): Promise<void> {
    const all = [...this.forward, ...this.backward];
    this.device.pushErrorScope('validation');
    const pipelines = await Promise.all(all.map((d) => cachedComputePipeline(this.device, d.kernel.code, d.kernel.name)));
    all.forEach((d, i) => (d.pipeline = pipelines[i]));
    const error = await this.device.popErrorScope();
    if (error) throw new Error(`compiled step: pipeline creation failed: ${error.message}`);
    this.pipelineCount = new Set(all.map((d) => d.kernel.code)).size;
  }

  private pipelineCount = 0;
  /** Where the host time of the last `step` call went (before its returned promise settles). */
  lastIssue: CompiledStepIssueTiming = { prepareMs: NaN, encodeMs: NaN, submitMs: NaN };

  get stats(): CompiledStepStats {
    const byKernel: Record<string, number> = {};
    for (const d of [...this.forward, ...this.backward]) byKernel[d.kernel.name] = (byKernel[d.kernel.name] ?? 0) + 1;
    return { dispatches: this.forward.length + this.backward.length, pipelines: this.pipelineCount, byKernel, bytes: this.bytes };
  }

  /** Every variable the step binds, by name. */
  private variable(name: string): tf.Variable {
    return (this.variables.params.get(name) ?? this.variables.buffers.get(name))!;
  }

  private resolve(ref: Ref): GPUBufferBinding {
    if ('own' in ref) return { buffer: ref.own, ...(ref.offset !== undefined ? { offset: ref.offset, size: ref.size } : {}) };
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
    for (const d of [...this.forward, ...this.backward]) for (const ref of d.refs) if ('variable' in ref) names.add(ref.variable);
    for (const name of names) {
      const buffer = exclusiveGpuBuffer(this.backend, this.variable(name));
      if (this.bound.get(name) !== buffer) {
        this.bound.set(name, buffer);
        changed = true;
      }
    }
    if (!changed) return;
    for (const d of [...this.forward, ...this.backward]) {
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
      const source = mask.dtype === 'float32' ? mask : tf.cast(mask, 'float32');
      if (source !== mask) temporaries.push(source);
      encoder.copyBufferToBuffer(gpuData(this.backend, source).resource, 0, this.maskBuffer, range.offset * 4, range.size * 4);
    }
    return temporaries;
  }

  /**
   * One training step on a batch (images float32 [batch, height, width, 3], labels int32 [batch]): encodes and
   * submits it, and returns the batch's mean loss before the update (read back when the GPU is done).
   */
  step(images: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor, settings: CompiledSgdSettings | CompiledAdamWSettings): Promise<number> {
    if (this.disposed) throw new Error('compiled step: used after dispose()');
    if (!(images instanceof tf.Tensor)) throw new Error('compiled step: ResNet-CIFAR takes one image tensor, not named inputs');
    const t0 = performance.now();
    const { batch, height, width } = this.shape;
    if (images.shape.join() !== [batch, height, width, 3].join() || images.dtype !== 'float32') {
      throw new Error(`compiled step: images must be float32 [${batch}, ${height}, ${width}, 3], got ${images.dtype} [${images.shape}]`);
    }
    if (labels.shape.join() !== String(batch)) throw new Error(`compiled step: labels must be [${batch}], got [${labels.shape}]`);
    if ((settings.kind ?? 'sgd') !== this.optimizer) throw new Error(`compiled step: compiled for ${this.optimizer}, given ${settings.kind ?? 'sgd'} settings`);
    const t = this.counter.steps + 1;
    const { learningRate, weightDecay = 0 } = settings;
    const [momentum, beta1, beta2, eps] = settings.kind === 'adamw' ? [0, settings.beta1, settings.beta2, settings.eps] : [settings.momentum ?? 0, 0, 0, 0];
    for (const [k, v] of Object.entries({ learningRate, momentum, weightDecay, beta1, beta2, eps })) {
      if (!Number.isFinite(v)) throw new Error(`compiled step: ${k} must be a finite number, got ${v}`);
    }
    this.refreshBindings();
    const labelTensor = labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
    const imageData = gpuData(this.backend, images).resource;
    const labelData = gpuData(this.backend, labelTensor).resource;
    const hyper = [learningRate, momentum, weightDecay, beta1, beta2, eps, 1 - beta1 ** t, 1 - beta2 ** t];
    if (hyper.some((v, i) => v !== this.hyperValues[i])) {
      this.hyperValues = Float32Array.from(hyper);
      this.device.queue.writeBuffer(this.hyper, 0, this.hyperValues);
    }
    const encoder = this.device.createCommandEncoder();
    const temporaries = this.refreshMasks(encoder, settings.masks);
    // tfjs's own pending work (uploads, the label cast, mask casts) goes first in queue order
    flushTfjs(this.backend);
    const t1 = performance.now();
    encoder.copyBufferToBuffer(imageData, 0, this.images, 0, batch * height * width * 3 * 4);
    encoder.copyBufferToBuffer(labelData, 0, this.labels, 0, batch * 4);
    const pass = encoder.beginComputePass();
    for (const list of [this.forward, this.backward]) {
      for (const d of list) {
        pass.setPipeline(d.pipeline!);
        pass.setBindGroup(0, d.group!);
        const [x, y, z] = d.kernel.workgroups;
        pass.dispatchWorkgroups(x, y, z);
      }
    }
    pass.end();
    const readback = this.readback();
    encoder.copyBufferToBuffer(this.headScratch, this.meanLossOffset * 4, readback.buffer, 0, 4);
    const commands = encoder.finish();
    const t2 = performance.now();
    this.device.queue.submit([commands]);
    this.counter.steps = t;
    this.lastIssue = { prepareMs: t1 - t0, encodeMs: t2 - t1, submitMs: performance.now() - t2 };
    if (labelTensor !== labels) labelTensor.dispose();
    tf.dispose(temporaries);
    return readback.buffer.mapAsync(MAP_READ).then(() => {
      const loss = new Float32Array(readback.buffer.getMappedRange().slice(0))[0]!;
      readback.buffer.unmap();
      readback.busy = false;
      return loss;
    });
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

  /**
   * The optimizer state under prunebench's checkpoint names: `momentum/<param>` (SGD), `adam-m/<param>` and
   * `adam-v/<param>` (AdamW); zeros before the first step.
   */
  async readState(): Promise<Map<string, Float32Array>> {
    const all = await this.readStateBuffer();
    const out = new Map<string, Float32Array>();
    for (const [name, r] of this.ranges) {
      const base = r.offset * this.stride;
      if (this.optimizer === 'sgd') out.set(`momentum/${name}`, all.slice(base, base + r.size));
      else {
        const m = new Float32Array(r.size), v = new Float32Array(r.size);
        for (let i = 0; i < r.size; i++) {
          m[i] = all[base + 2 * i]!;
          v[i] = all[base + 2 * i + 1]!;
        }
        out.set(`adam-m/${name}`, m);
        out.set(`adam-v/${name}`, v);
      }
    }
    return out;
  }

  /** Sets the optimizer state (names as readState's; entries not given are zeroed). */
  writeState(values: ReadonlyMap<string, ArrayLike<number>>): void {
    const all = new Float32Array(this.stateFloats * this.stride);
    const prefixes = this.optimizer === 'sgd' ? ['momentum'] : ['adam-m', 'adam-v'];
    for (const [key, v] of values) {
      const slash = key.indexOf('/');
      const prefix = key.slice(0, slash), name = key.slice(slash + 1);
      const r = this.ranges.get(name);
      if (!prefixes.includes(prefix) || !r) throw new Error(`compiled step: no optimizer state '${key}' (it keeps ${prefixes.map((p) => `${p}/<param>`).join(', ')})`);
      if (v.length !== r.size) throw new Error(`compiled step: '${key}' has ${v.length} values, expected ${r.size}`);
      const base = r.offset * this.stride;
      if (this.optimizer === 'sgd') all.set(v, base);
      else for (let i = 0; i < r.size; i++) all[base + 2 * i + (prefix === 'adam-v' ? 1 : 0)] = v[i]!;
    }
    this.device.queue.writeBuffer(this.velocity, 0, all);
  }

  private async readStateBuffer(): Promise<Float32Array> {
    const staging = this.device.createBuffer({ size: this.velocity.size, usage: MAP_READ | COPY_DST });
    flushTfjs(this.backend);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.velocity, 0, staging, 0, this.velocity.size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(MAP_READ);
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return all;
  }

  /** SGD: the momentum buffers by parameter name (zeros before the first step). */
  async readVelocity(): Promise<Map<string, Float32Array>> {
    if (this.optimizer !== 'sgd') throw new Error('compiled step: readVelocity is for SGD; use readState');
    const out = new Map<string, Float32Array>();
    for (const [key, v] of await this.readState()) out.set(key.slice('momentum/'.length), v);
    return out;
  }

  /** SGD: sets momentum buffers (a resumed optimizer's) by parameter name; parameters not named are zeroed. */
  writeVelocity(values: ReadonlyMap<string, ArrayLike<number>>): void {
    if (this.optimizer !== 'sgd') throw new Error('compiled step: writeVelocity is for SGD; use writeState');
    this.writeState(new Map([...values].map(([name, v]) => [`momentum/${name}`, v])));
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

