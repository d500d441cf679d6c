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
  convInputGrad, convOut, type CompiledOptimizer, filterGradReduceSgd, filterGradSplits, headBackwardSgd, headFeatureGrad, headForward,
  headLayout, shortcutBackward, shortcutForward, type ConvShape, type Kernel, type ResidualSource,
} from './wgsl.js';
import { CompiledStepBase, compiled, type StepRef } from './step-base.js';

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

/** A gradient read (the step compiled with `optimizer: 'gradient'`): no update, so nothing to set; no masks. */
export interface CompiledGradientSettings {
  kind: 'gradient';
}

/** What one `step` call is given: the settings of the optimizer the step was compiled with. */
export type CompiledStepSettings = CompiledSgdSettings | CompiledAdamWSettings | CompiledGradientSettings;

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
  return compiled(new CompiledResNetCifarStep(net, variables, shape, options));
}
export class CompiledResNetCifarStep extends CompiledStepBase {
  private readonly images: GPUBuffer;
  private readonly labels: GPUBuffer;
  private readonly headScratch: GPUBuffer;
  private readonly meanLossOffset: number;

  constructor(
    readonly net: ResNetCifarNet,
    variables: CompiledStepVariables,
    readonly shape: CompiledStepShape,
    private readonly options: CompileOptions = {},
  ) {
    super(variables, options.optimizer ?? 'sgd');
    const { batch, height, width } = shape;
    try {
      for (const [k, v] of Object.entries(shape)) {
        if (!Number.isInteger(v) || v < 1) throw new Error(`compiled step: shape.${k} must be a positive integer, got ${v}`);
      }
      if (batch * height * width < 2) throw new Error('compiled step: training-mode batch norm needs more than one value per channel');
      this.images = this.buffer(batch * height * width * 3 * 4);
      this.labels = this.buffer(batch * 4);
      const head = this.plan();
      this.headScratch = head.scratch;
      this.meanLossOffset = headLayout(batch, head.features, net.numClasses).meanLoss;
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Lays out the step: buffers, kernels and what each binds; returns the head's scratch buffer and its input width. */
  private plan(): { scratch: GPUBuffer; features: number } {
    const { net, shape } = this;
    const { batch } = shape;
    const fwd = (kernel: Kernel, refs: StepRef[]) => this.dispatch(kernel, refs);
    let dconvFloats = 0, partFloats = 0;
    interface ConvBn { conv: string; bn: string; shape: ConvShape; input: Activation; convOut: GPUBuffer; stats: GPUBuffer; betaOffset: number; output: Activation }

    const convBn = (input: Activation, conv: string, bn: string, cout: number, stride: number, relu: boolean, residual: { source: Activation; stride: number; padBefore: number } | null): ConvBn => {
      const s: ConvShape = { batch, height: input.height, width: input.width, cin: input.channels, cout, stride };
      this.expect(conv, [3, 3, s.cin, cout]);
      for (const p of ['weight', 'bias']) this.expect(`${bn}.${p}`, [cout]);
      for (const b of ['running_mean', 'running_var']) this.expect(`${bn}.${b}`, [cout], 'buffers');
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
    this.expect('linear.weight', [features, classes]);
    this.expect('linear.bias', [classes]);
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
      { state: 'velocity', name: 'linear.weight' }, { state: 'mask', name: 'linear.weight' }, { hyper: true },
    ]);

    // backward (the buffers sized now that every layer is known)
    const dconv = this.buffer(dconvFloats * 4);
    const part = this.buffer(partFloats * 4);
    const bwd = (kernel: Kernel, refs: StepRef[]) => this.dispatch(kernel, refs);
    /** conv + batch norm backward from dz (the gradient at the batch norm's output); returns nothing, fills dconv. */
    const convBnBackward = (c: ConvBn, dz: GPUBuffer, inputGrad: { into: GPUBuffer; shortcut: { gradient: GPUBuffer; outChannels: number; padBefore: number } | null } | null) => {
      const positions = batch * c.output.height * c.output.width;
      const C = c.output.channels;
      bwd(bnBackwardReduceSgd(positions, C, c.betaOffset, this.optimizer), [
        { own: dz }, { own: c.convOut }, { own: c.stats }, { variable: `${c.bn}.weight` }, { variable: `${c.bn}.bias` },
        { state: 'velocity', name: `${c.bn}.weight` }, { state: 'mask', name: `${c.bn}.weight` }, { hyper: true },
      ]);
      bwd(bnBackwardDx(positions, C), [{ own: dz }, { own: c.convOut }, { own: c.stats }, { own: dconv }]);
      if (inputGrad) {
        const sc = inputGrad.shortcut;
        bwd(convInputGrad(c.shape, sc ? { outChannels: sc.outChannels, padBefore: sc.padBefore } : null), [
          { own: dconv }, { variable: c.conv }, { own: c.input.buffer }, ...(sc ? [{ own: sc.gradient }] : []), { own: inputGrad.into },
        ]);
      }
      bwd(convFilterGradPartial(c.shape), [{ own: c.input.buffer }, { own: dconv }, { own: part }]);
      bwd(filterGradReduceSgd(c.shape, this.optimizer), [{ own: part }, { variable: c.conv }, { state: 'velocity', name: c.conv }, { state: 'mask', name: c.conv }, { hyper: true }]);
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
    this.allocateState(this.options.shareVelocityWith);
    return { scratch, features };
  }

  /**
   * One training step on a batch (images float32 [batch, height, width, 3], labels int32 [batch]): encodes and
   * submits it, and returns the batch's mean loss before the update (read back when the GPU is done).
   */
  step(images: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor, settings: CompiledStepSettings): Promise<number> {
    if (this.disposed) throw new Error('compiled step: used after dispose()');
    if (!(images instanceof tf.Tensor)) throw new Error('compiled step: ResNet-CIFAR takes one image tensor, not named inputs');
    const t0 = performance.now();
    const { batch, height, width } = this.shape;
    if (images.shape.join() !== [batch, height, width, 3].join() || images.dtype !== 'float32') {
      throw new Error(`compiled step: images must be float32 [${batch}, ${height}, ${width}, 3], got ${images.dtype} [${images.shape}]`);
    }
    if (labels.shape.join() !== String(batch)) throw new Error(`compiled step: labels must be [${batch}], got [${labels.shape}]`);
    if ((settings.kind ?? 'sgd') !== this.optimizer) throw new Error(`compiled step: compiled for ${this.optimizer}, given ${settings.kind ?? 'sgd'} settings`);
    const labelTensor = labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
    const temporaries = labelTensor !== labels ? [labelTensor] : [];
    try {
      const imageData = this.inputBuffer(images);
      const labelData = this.inputBuffer(labelTensor);
      return this.run(settings, (encoder) => {
        encoder.copyBufferToBuffer(imageData, 0, this.images, 0, batch * height * width * 3 * 4);
        encoder.copyBufferToBuffer(labelData, 0, this.labels, 0, batch * 4);
        return temporaries;
      }, { buffer: this.headScratch, offset: this.meanLossOffset }, t0);
    } catch (error) {
      tf.dispose(temporaries);
      throw error;
    }
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
}
