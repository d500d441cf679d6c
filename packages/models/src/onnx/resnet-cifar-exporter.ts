/**
 * ONNX export of the CIFAR ResNet family (He et al. 2016, option-A shortcuts).
 *
 * Graph contract (PyTorch convention, so the file runs like the reference model's export):
 *   input  `input`  float32 [N, 3, H, W] NCHW, already normalised (x/255, then mean/std per channel);
 *                   H = W = `imageSize` (default 32); N symbolic (`N`) or fixed by `batch`.
 *   output `logits` float32 [N, numClasses].
 * Internally prunebench works in NHWC; use `nhwcToNchw` (runner.ts) to feed NHWC images.
 *
 * Widths come from the parameters themselves (and are checked against the arch), so a structurally
 * pruned model exports physically smaller; masked weights (unstructured) export dense with zeros. Blocks
 * removed by surgery (`removed: true`) export as their shortcut only.
 */
import type { Model } from '../types.js';
import { BN_EPS } from '../batchnorm.js';
import { resolveBlocks, shortcutPadBefore, shortcutSources, validateResNetCifarArch, type ResNetCifarArch } from '../resnet-cifar-arch.js';
import { registerOnnxExporter, type ResolvedOnnxExportOptions } from './export.js';
import { OnnxGraphBuilder, floatAttr, intAttr, intsAttr, stringAttr } from './graph-builder.js';
import { OnnxDataType, encodeModel, irVersionForOpset } from './onnx-proto.js';
import { expectShape, hwioToOihw, readParamValues } from './tensor-data.js';

const CONTEXT = 'exportOnnx(resnet-cifar)';
/** Largest int64: "to the end" for Slice. */
const INT64_MAX = (1n << 63n) - 1n;

class ResNetCifarGraph {
  readonly g = new OnnxGraphBuilder('resnet-cifar');
  constructor(private readonly model: Model, private readonly opts: ResolvedOnnxExportOptions) {}

  private read(name: string) {
    return readParamValues(this.opts.values, name, CONTEXT);
  }

  /** 3×3 conv (PyTorch padding 1, no bias) followed by inference-mode batch norm, folded or not. */
  convBn(x: string, conv: string, bn: string, inC: number, outC: number, stride: number): string {
    const weight = this.read(`${conv}.weight`);
    expectShape(weight, [3, 3, inC, outC], CONTEXT);
    const oihw = hwioToOihw(weight.data, weight.shape);
    const gamma = this.read(`${bn}.weight`);
    const beta = this.read(`${bn}.bias`);
    const mean = this.read(`${bn}.running_mean`);
    const variance = this.read(`${bn}.running_var`);
    for (const t of [gamma, beta, mean, variance]) expectShape(t, [outC], CONTEXT);

    const convAttrs = [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1]), intsAttr('strides', [stride, stride])];
    if (this.opts.foldBatchNorm) {
      // y = gamma * (conv(x, W) - mean) / sqrt(var + eps) + beta  ==  conv(x, W * s) + (beta - mean * s)
      const perOut = inC * 9;
      const bias = new Float32Array(outC);
      for (let o = 0; o < outC; o++) {
        const s = gamma.data[o] / Math.sqrt(variance.data[o] + BN_EPS);
        for (let k = 0; k < perOut; k++) oihw.data[o * perOut + k] *= s;
        bias[o] = beta.data[o] - mean.data[o] * s;
      }
      const w = this.g.addFloat(`${conv}.weight`, oihw.shape, oihw.data);
      const b = this.g.addFloat(`${conv}.bias`, [outC], bias);
      return this.g.node('Conv', conv, [x, w, b], convAttrs);
    }
    const w = this.g.addFloat(`${conv}.weight`, oihw.shape, oihw.data);
    const y = this.g.node('Conv', conv, [x, w], convAttrs);
    const bnInputs = [gamma, beta, mean, variance].map((t) => this.g.addFloat(t.name, [outC], t.data));
    return this.g.node('BatchNormalization', bn, [y, ...bnInputs], [floatAttr('epsilon', BN_EPS)]);
  }

  /** Option-A shortcut: subsample by `stride`, then zero-pad channels floor((out−in)/2) before, the rest after. */
  shortcut(x: string, prefix: string, inC: number, outC: number, stride: number, map?: readonly number[]): string {
    const general = map ? shortcutSources(map, outC) : null;
    if (stride === 1 && inC === outC && (!general || general.padding)) return x;
    if (outC < inC && (!general || general.padding)) {
      throw new Error(`${CONTEXT}: ${prefix} narrows ${inC} → ${outC} channels; the option-A shortcut can only widen`);
    }
    let y = x;
    if (stride !== 1) {
      const starts = this.g.addInt64(`${prefix}.shortcut.starts`, [0, 0]);
      const ends = this.g.addInt64(`${prefix}.shortcut.ends`, [INT64_MAX, INT64_MAX]);
      const axes = this.g.addInt64(`${prefix}.shortcut.axes`, [2, 3]);
      const steps = this.g.addInt64(`${prefix}.shortcut.steps`, [stride, stride]);
      y = this.g.node('Slice', `${prefix}.shortcut.subsample`, [y, starts, ends, axes, steps]);
    }
    if (general && !general.padding) {
      // a surgered channel map: one zero channel after the inputs, then gather each output channel's source
      const pads = this.g.addInt64(`${prefix}.shortcut.pads`, [0, 0, 0, 0, 0, 1, 0, 0]);
      y = this.g.node('Pad', `${prefix}.shortcut.pad`, [y, pads], [stringAttr('mode', 'constant')]);
      const indices = this.g.addInt64(`${prefix}.shortcut.channels`, general.sources.map((i) => (i < 0 ? inC : i)));
      return this.g.node('Gather', `${prefix}.shortcut.gather`, [y, indices], [intAttr('axis', 1)]);
    }
    if (outC !== inC) {
      const before = shortcutPadBefore(inC, outC);
      const after = outC - inC - before;
      // ONNX pads layout: [x1_begin, x2_begin, ..., x1_end, x2_end, ...] over N, C, H, W.
      const pads = this.g.addInt64(`${prefix}.shortcut.pads`, [0, before, 0, 0, 0, after, 0, 0]);
      y = this.g.node('Pad', `${prefix}.shortcut.pad`, [y, pads], [stringAttr('mode', 'constant')]);
    }
    return y;
  }

  build(arch: ResNetCifarArch): Uint8Array {
    const { opset, batch, imageSize } = this.opts;
    let x = 'input';
    x = this.g.node('Relu', 'relu', [this.convBn(x, 'conv1', 'bn1', 3, arch.stem, 1)]);
    let channels = arch.stem;
    for (const block of resolveBlocks(arch)) {
      const p = block.prefix;
      channels = block.out;
      if (block.removed) {
        // a block removed by surgery is its shortcut alone (its input is ≥ 0, so no ReLU is needed)
        x = this.shortcut(x, p, block.in, block.out, block.stride, block.shortcut);
        continue;
      }
      const h = this.g.node('Relu', `${p}.relu1`, [this.convBn(x, `${p}.conv1`, `${p}.bn1`, block.in, block.mid, block.stride)]);
      const residual = this.convBn(h, `${p}.conv2`, `${p}.bn2`, block.mid, block.out, 1);
      const sum = this.g.node('Add', `${p}.add`, [residual, this.shortcut(x, p, block.in, block.out, block.stride, block.shortcut)]);
      x = this.g.node('Relu', `${p}.relu2`, [sum]);
    }
    x = this.g.node('GlobalAveragePool', 'avgpool', [x]);
    x = this.g.node('Flatten', 'flatten', [x], [intAttr('axis', 1)]);
    const linearWeight = this.read('linear.weight');
    expectShape(linearWeight, [channels, arch.numClasses], CONTEXT);
    const linearBias = this.read('linear.bias');
    expectShape(linearBias, [arch.numClasses], CONTEXT);
    const w = this.g.addFloat('linear.weight', linearWeight.shape, linearWeight.data); // internal [in, out]: transB = 0
    const bias = this.g.addFloat('linear.bias', linearBias.shape, linearBias.data);
    this.g.node('Gemm', 'linear', [x, w, bias], [intAttr('transB', 0)], 'logits');

    const n = batch === 'dynamic' ? 'N' : batch;
    const graph = this.g.build(
      [{ name: 'input', elemType: OnnxDataType.FLOAT, shape: [n, 3, imageSize, imageSize] }],
      [{ name: 'logits', elemType: OnnxDataType.FLOAT, shape: [n, arch.numClasses] }],
    );
    return encodeModel({
      irVersion: irVersionForOpset(opset),
      opsetVersion: opset,
      producerName: 'prunebench',
      docString: 'CIFAR ResNet (option-A shortcuts). input: float32 NCHW [N,3,H,W], normalised; output: logits [N,classes].',
      graph,
    });
  }
}

export function exportResNetCifarOnnx(model: Model, opts: ResolvedOnnxExportOptions): Uint8Array {
  let arch: ResNetCifarArch;
  try {
    arch = validateResNetCifarArch(model.arch);
  } catch (err) {
    throw new Error(`${CONTEXT}: ${(err as Error).message}`);
  }
  return new ResNetCifarGraph(model, opts).build(arch);
}

registerOnnxExporter('resnet-cifar', exportResNetCifarOnnx);
