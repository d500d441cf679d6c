import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { BN_EPS, batchNormTraining, updatedRunningStats } from './batchnorm.js';
import { disposeCompiledTrainingSteps } from './compiled-step-cache.js';
import {
  convOutSize,
  finalWidth,
  resnetCifarArch,
  resolveBlocks,
  shortcutPadBefore,
  shortcutSources,
  validateResNetCifarArch,
  type ResNetCifarArch,
  type ResolvedBlock,
} from './resnet-cifar-arch.js';
import type { ForwardOptions, LayerInputTap, LayerSpec, Model, ParamKind } from './types.js';

export * from './resnet-cifar-arch.js';

/**
 * ResNet for CIFAR (He et al. 2016, §4.2) as in the `pytorch_resnet_cifar10` reference: 3×3 stem,
 * BasicBlocks with option-A (subsample + zero-pad) shortcuts, global average pool, `linear`.
 * Parameter names match that reference's state dict.
 */
export class ResNetCifarModel implements Model<ResNetCifarArch> {
  readonly params = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();
  readonly paramKinds = new Map<string, ParamKind>();
  private disposed = false;

  constructor(readonly arch: ResNetCifarArch, seed: number) {
    validateResNetCifarArch(arch);
    const rng = new SeededRng(seed);
    const conv = (name: string, k: number, cin: number, cout: number) => {
      // kaiming_normal_ (fan_in, gain √2); each parameter draws from its own fork of the seed.
      const data = rng.fork(name).normalArray(k * k * cin * cout, Math.sqrt(2 / (k * k * cin)));
      this.addParam(name, 'conv2d', tf.tensor4d(data, [k, k, cin, cout]));
    };
    const bn = (prefix: string, c: number) => {
      this.addParam(`${prefix}.weight`, 'norm-scale', tf.ones([c]));
      this.addParam(`${prefix}.bias`, 'norm-shift', tf.zeros([c]));
      this.addBuffer(`${prefix}.running_mean`, tf.zeros([c]));
      this.addBuffer(`${prefix}.running_var`, tf.ones([c]));
    };
    conv('conv1.weight', 3, 3, arch.stem);
    bn('bn1', arch.stem);
    for (const block of resolveBlocks(arch)) {
      if (block.removed) continue;
      conv(`${block.prefix}.conv1.weight`, 3, block.in, block.mid);
      bn(`${block.prefix}.bn1`, block.mid);
      conv(`${block.prefix}.conv2.weight`, 3, block.mid, block.out);
      bn(`${block.prefix}.bn2`, block.out);
    }
    const features = finalWidth(arch);
    const w = rng.fork('linear.weight').normalArray(features * arch.numClasses, Math.sqrt(2 / features));
    this.addParam('linear.weight', 'linear', tf.tensor2d(w, [features, arch.numClasses]));
    const bound = 1 / Math.sqrt(features);
    this.addParam('linear.bias', 'bias', tf.tensor1d(rng.fork('linear.bias').uniformArray(arch.numClasses, -bound, bound)));
  }

  private addParam(name: string, kind: ParamKind, value: tf.Tensor): void {
    this.params.set(name, tf.variable(value, true));
    this.paramKinds.set(name, kind);
    value.dispose();
  }

  private addBuffer(name: string, value: tf.Tensor): void {
    this.buffers.set(name, tf.variable(value, false));
    value.dispose();
  }

  private param<R extends tf.Rank>(name: string): tf.Tensor<R> {
    return this.params.get(name) as unknown as tf.Tensor<R>;
  }

  forward(input: tf.Tensor | Record<string, tf.Tensor>, opts: ForwardOptions): tf.Tensor {
    return this.run(input, opts.training, null, opts.tap).logits;
  }

  /**
   * Inference-mode forward that also returns, for the blocks named in `capture` (prefixes like `layer1.0`), the
   * feature maps after `bn1` + ReLU (NHWC, the filters of `conv1`), and the pooled features fed to `linear`.
   * The caller disposes every returned tensor.
   */
  forwardCapturing(
    input: tf.Tensor,
    capture: ReadonlySet<string>,
    captureOutputs: ReadonlySet<string> = new Set(),
  ): { logits: tf.Tensor; mids: Map<string, tf.Tensor4D>; outputs: Map<string, tf.Tensor4D>; features: tf.Tensor2D } {
    const blocks = resolveBlocks(this.arch);
    const known = new Set(blocks.filter((b) => !b.removed).map((b) => b.prefix));
    for (const prefix of capture) {
      if (!known.has(prefix)) throw new Error(`resnet-cifar: no live block "${prefix}" to capture`);
    }
    const knownOutputs = new Set(['stem', ...blocks.map((b) => b.prefix)]);
    for (const name of captureOutputs) {
      if (!knownOutputs.has(name)) throw new Error(`resnet-cifar: no block output "${name}" to capture (blocks or "stem")`);
    }
    const mids = new Map<string, tf.Tensor4D>();
    const outputs = new Map<string, tf.Tensor4D>();
    const { logits, features } = this.run(input, false, { blocks: capture, mids, outputNames: captureOutputs, outputs });
    return { logits, mids, outputs, features: features! };
  }

  /**
   * Pooled features (forwardCapturing's `features`) of the models without one block each: for every prefix in
   * `blocks`, the model `applySurgery(model, { removeBlocks: [prefix] })` gives, in inference mode. The same
   * operations on the same weights, so the same numbers; but the blocks before the removed one run once for all
   * (each candidate runs only the blocks after it), and no model is built. The caller disposes the features.
   */
  featuresWithoutEachBlock(input: tf.Tensor, blocks: readonly string[]): Map<string, tf.Tensor2D> {
    this.checkInput(input, false);
    const resolved = resolveBlocks(this.arch);
    const live = new Set(resolved.filter((b) => !b.removed).map((b) => b.prefix));
    for (const prefix of blocks) if (!live.has(prefix)) throw new Error(`resnet-cifar: no live block "${prefix}" to remove`);
    const wanted = new Set(blocks);
    const layers = this.layers(false, null);
    const features = new Map<string, tf.Tensor2D>();
    let x = tf.tidy(() => layers.stem(input as tf.Tensor4D));
    try {
      for (const [i, block] of resolved.entries()) {
        if (wanted.has(block.prefix)) {
          features.set(block.prefix, tf.tidy(() => {
            let y = layers.block(x, { ...block, removed: true });
            for (const later of resolved.slice(i + 1)) y = layers.block(y, later);
            return layers.pool(y);
          }));
        }
        const next = tf.tidy(() => layers.block(x, block));
        // a removed block without option-A shortcut hands its input back
        if (next !== x) {
          x.dispose();
          x = next;
        }
      }
    } catch (error) {
      tf.dispose([...features.values()]);
      throw error;
    } finally {
      x.dispose();
    }
    return features;
  }

  private checkInput(input: tf.Tensor | Record<string, tf.Tensor>, training: boolean): void {
    if (this.disposed) throw new Error('resnet-cifar: forward on a disposed model');
    if (!(input instanceof tf.Tensor)) throw new Error('resnet-cifar: input must be an image tensor [batch, height, width, 3]');
    if (input.rank !== 4 || input.shape[3] !== 3) {
      throw new Error(`resnet-cifar: input must be NHWC [batch, height, width, 3], got shape [${input.shape}]`);
    }
    if (input.dtype !== 'float32') throw new Error(`resnet-cifar: input must be float32, got ${input.dtype}`);
    const [batch, height, width] = input.shape as [number, number, number, number];
    if (training && batch * height * width < 2) {
      throw new Error('resnet-cifar: training-mode batch norm needs more than one value per channel');
    }
  }

  /**
   * The network's pieces (stem, one block, pooling), the one definition `run` and `featuresWithoutEachBlock` share.
   * In training mode the running-stat updates are pushed to `pending` (assigned once the forward is done).
   */
  private layers(training: boolean, pending: [tf.Variable, tf.Tensor][] | null, tap?: LayerInputTap) {
    const batchNorm = (x: tf.Tensor4D, prefix: string): tf.Tensor4D => {
      const gamma = this.param<tf.Rank.R1>(`${prefix}.weight`);
      const beta = this.param<tf.Rank.R1>(`${prefix}.bias`);
      const runningMean = this.buffers.get(`${prefix}.running_mean`) as unknown as tf.Tensor1D;
      const runningVar = this.buffers.get(`${prefix}.running_var`) as unknown as tf.Tensor1D;
      // training only: eval-mode batch norm is folded into the convolution below
      const { y, mean, variance } = batchNormTraining(x, gamma, beta);
      const n = x.shape[0] * x.shape[1] * x.shape[2];
      const next = updatedRunningStats(runningMean, runningVar, mean, variance, n);
      mean.dispose();
      variance.dispose();
      pending!.push([this.buffers.get(`${prefix}.running_mean`)!, tf.keep(next.mean)]);
      pending!.push([this.buffers.get(`${prefix}.running_var`)!, tf.keep(next.variance)]);
      return y;
    };
    // conv → batch norm (→ relu). In eval mode the batch norm folds into the convolution (scaled filter +
    // bias, one fused kernel); in training mode it needs the batch statistics.
    const convBn = (x: tf.Tensor4D, convName: string, bnPrefix: string, stride: number, relu: boolean): tf.Tensor4D => {
      const filter = this.param<tf.Rank.R4>(convName);
      tap?.({ weight: convName, input: x, conv: { stride, pad: 1 } });
      if (training) {
        const y = batchNorm(tf.conv2d(x, filter, stride, 1), bnPrefix);
        return relu ? tf.relu(y) : y;
      }
      const scale = tf.mul(
        this.param<tf.Rank.R1>(`${bnPrefix}.weight`),
        tf.rsqrt(tf.add(this.buffers.get(`${bnPrefix}.running_var`)! as tf.Tensor, BN_EPS)),
      );
      const shift = tf.sub(this.param(`${bnPrefix}.bias`), tf.mul(this.buffers.get(`${bnPrefix}.running_mean`)! as tf.Tensor, scale));
      return tf.fused.conv2d({
        x, filter: tf.mul(filter, scale) as tf.Tensor4D, strides: stride, pad: 1, bias: shift,
        activation: relu ? 'relu' : 'linear',
      });
    };
    return {
      stem: (input: tf.Tensor4D) => convBn(input, 'conv1.weight', 'bn1', 1, true),
      /** One block on the stream `x`; `onMid` sees the feature maps after bn1 + ReLU. */
      block: (x: tf.Tensor4D, block: ResolvedBlock, onMid?: (mid: tf.Tensor4D) => void): tf.Tensor4D => {
        const p = block.prefix;
        const shortcut = block.optionA ? optionAShortcut(x, block.stride, block.out, block.shortcut) : x;
        // A removed block is its shortcut; x ≥ 0 (after a ReLU), so the block's final ReLU would change nothing.
        if (block.removed) return shortcut;
        const mid = convBn(x, `${p}.conv1.weight`, `${p}.bn1`, block.stride, true);
        onMid?.(mid);
        const h = convBn(mid, `${p}.conv2.weight`, `${p}.bn2`, 1, false);
        return tf.relu(tf.add(h, shortcut)) as tf.Tensor4D;
      },
      pool: (x: tf.Tensor4D) => tf.mean(x, [1, 2]) as tf.Tensor2D,
    };
  }

  private run(
    input: tf.Tensor | Record<string, tf.Tensor>,
    training: boolean,
    capture: {
      blocks: ReadonlySet<string>; mids: Map<string, tf.Tensor4D>; outputNames?: ReadonlySet<string>; outputs?: Map<string, tf.Tensor4D>;
    } | null,
    tap?: LayerInputTap,
  ): { logits: tf.Tensor; features?: tf.Tensor2D } {
    this.checkInput(input, training);
    // Running-stat updates are computed during the forward and assigned once it is done (also inside
    // tf.variableGrads / optimizer.minimize, where the buffers are not trainable and take no gradient).
    const pending: [tf.Variable, tf.Tensor][] = [];
    const layers = this.layers(training, pending, tap);
    let features: tf.Tensor2D | undefined;
    const logits = tf.tidy(() => {
      const keepOutput = (name: string, t: tf.Tensor4D) => {
        if (capture?.outputNames?.has(name)) capture.outputs!.set(name, tf.keep(t));
      };
      let x = layers.stem(input as tf.Tensor4D);
      keepOutput('stem', x);
      for (const block of resolveBlocks(this.arch)) {
        const p = block.prefix;
        x = layers.block(x, block, capture?.blocks.has(p) ? (mid) => capture.mids.set(p, tf.keep(mid)) : undefined);
        keepOutput(p, x);
      }
      const pooled = layers.pool(x);
      if (capture) features = tf.keep(pooled);
      tap?.({ weight: 'linear.weight', input: pooled });
      return tf.add(tf.matMul(pooled, this.param<tf.Rank.R2>('linear.weight')), this.param('linear.bias'));
    });
    for (const [variable, value] of pending) {
      variable.assign(value);
      value.dispose();
    }
    return { logits, features };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void disposeCompiledTrainingSteps(this);
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
  }
}

/**
 * Option-A shortcut: keep every `stride`-th row and column (x[:, ::s, ::s, :]) and zero-pad channels to
 * `outChannels`, ⌊(out − in)/2⌋ zeros before the identity channels and the rest after — or, with a channel `map`
 * (input channel → output channel, −1 dropped; see ResNetCifarBlock.shortcut), put each input channel where the map
 * says and zeros elsewhere (a gather over the channels plus one zero channel).
 * Built from reshape + slice (both have gradients on every backend; strided slice has none).
 */
export function optionAShortcut(x: tf.Tensor4D, stride: number, outChannels: number, map?: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    let y = x;
    if (stride > 1) {
      const oh = Math.ceil(h / stride);
      const ow = Math.ceil(w / stride);
      if (oh * stride !== h || ow * stride !== w) y = tf.pad(y, [[0, 0], [0, oh * stride - h], [0, ow * stride - w], [0, 0]]);
      // Rank 4 ([n·oh, stride, ow, stride·c]), not 6: the slice's gradient is a pad of the same rank, and tfjs's
      // webgpu pad generates invalid WGSL above rank 4. Same elements either way.
      const grid = tf.reshape(y, [n * oh, stride, ow, stride * c]);
      y = tf.reshape(tf.slice(grid, [0, 0, 0, 0], [n * oh, 1, ow, c]), [n, oh, ow, c]);
    }
    if (map) {
      if (map.length !== c) throw new Error(`option-A shortcut: the channel map has ${map.length} entries for ${c} channels`);
      const { sources, padding } = shortcutSources(map, outChannels);
      if (!padding) {
        const withZero = tf.concat([y, tf.zeros([n, y.shape[1], y.shape[2], 1])], 3);
        return tf.gather(withZero, tf.tensor1d(sources.map((i) => (i < 0 ? c : i)), 'int32'), 3) as tf.Tensor4D;
      }
    }
    if (outChannels === c) return y;
    if (outChannels < c) throw new Error(`option-A shortcut cannot shrink ${c} channels to ${outChannels}`);
    const before = shortcutPadBefore(c, outChannels);
    return tf.pad(y, [[0, 0], [0, 0], [0, 0], [before, outChannels - c - before]]);
  });
}

/** A fresh ResNet-CIFAR with the reference initialisation; the same seed gives the same weights. */
export function createResNetCifar(archOrDepth: ResNetCifarArch | number, options: { seed?: number } = {}): ResNetCifarModel {
  const arch = typeof archOrDepth === 'number' ? resnetCifarArch(archOrDepth) : validateResNetCifarArch(archOrDepth);
  return new ResNetCifarModel(structuredClone(arch), options.seed ?? 0);
}

/** Every layer for one example of shape [h, w, c], in execution order. */
export function traceResNetCifar(arch: ResNetCifarArch, inputShape: number[]): LayerSpec[] {
  validateResNetCifarArch(arch);
  if (inputShape.length !== 3 || inputShape[2] !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`resnet-cifar: inputShape must be [height, width, 3], got [${inputShape}]`);
  }
  const layers: LayerSpec[] = [];
  let [h, w] = inputShape;
  const conv = (name: string, cin: number, cout: number, stride: number) => {
    const oh = convOutSize(h, 3, stride);
    const ow = convOutSize(w, 3, stride);
    layers.push({
      name, op: 'conv2d', weight: `${name}.weight`, inShape: [h, w, cin], outShape: [oh, ow, cout],
      kernel: [3, 3], stride: [stride, stride], groups: 1,
    });
    return [oh, ow] as const;
  };
  const pointwise = (name: string, op: LayerSpec['op'], shape: number[], extra: Partial<LayerSpec> = {}) =>
    layers.push({ name, op, inShape: [...shape], outShape: [...shape], ...extra });
  const bn = (name: string, shape: number[]) => pointwise(name, 'batchnorm', shape, { weight: `${name}.weight`, bias: `${name}.bias` });

  [h, w] = conv('conv1', 3, arch.stem, 1);
  bn('bn1', [h, w, arch.stem]);
  pointwise('relu', 'relu', [h, w, arch.stem]);
  for (const block of resolveBlocks(arch)) {
    const p = block.prefix;
    const [ih, iw] = [h, w];
    if (block.removed) {
      // only the shortcut is left: nothing at all for an identity, subsample + pad for an option-A block
      if (block.optionA) {
        [h, w] = [convOutSize(ih, 1, block.stride), convOutSize(iw, 1, block.stride)];
        layers.push({
          name: `${p}.shortcut`, op: 'shortcut', inShape: [ih, iw, block.in], outShape: [h, w, block.out],
          stride: [block.stride, block.stride],
        });
      }
      continue;
    }
    [h, w] = conv(`${p}.conv1`, block.in, block.mid, block.stride);
    bn(`${p}.bn1`, [h, w, block.mid]);
    pointwise(`${p}.relu1`, 'relu', [h, w, block.mid]);
    conv(`${p}.conv2`, block.mid, block.out, 1);
    bn(`${p}.bn2`, [h, w, block.out]);
    if (block.optionA) {
      layers.push({
        name: `${p}.shortcut`, op: 'shortcut', inShape: [ih, iw, block.in], outShape: [h, w, block.out],
        stride: [block.stride, block.stride],
      });
    }
    pointwise(`${p}.add`, 'add', [h, w, block.out]);
    pointwise(`${p}.relu2`, 'relu', [h, w, block.out]);
  }
  const features = finalWidth(arch);
  layers.push({ name: 'avgpool', op: 'avgpool', inShape: [h, w, features], outShape: [features] });
  layers.push({
    name: 'linear', op: 'linear', weight: 'linear.weight', bias: 'linear.bias', inShape: [features], outShape: [arch.numClasses],
  });
  return layers;
}

/** The image size MACs are counted at when no input shape is given (CIFAR: 32×32 RGB). */
export const RESNET_CIFAR_REFERENCE_INPUT: readonly number[] = [32, 32, 3];
