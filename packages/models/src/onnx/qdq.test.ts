import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { bertArch } from '../bert/arch.js';
import { createBert } from '../bert/model.js';
import { resnetCifarArch } from '../resnet-cifar-arch.js';
import { randomResNetCifar } from '../testing/random-resnet-cifar.js';
import type { Model } from '../types.js';
import { exportOnnx } from './index.js';
import { OnnxLogitsSession, onnxFeed } from './feeds.js';
import { decodeModel } from './onnx-decode.js';
import { OnnxGraphBuilder, intsAttr } from './graph-builder.js';
import { OnnxDataType, encodeModel, irVersionForOpset } from './onnx-proto.js';
import { runQdqReference } from './qdq-reference.js';
import { ortOptimizedOperators, quantizeOnnx, quantizeWeightPerChannel, uint8Params, type QuantizedOnnx } from './qdq.js';
import { runOnnxInTfjs } from './tfjs-executor.js';
import { CIFAR10_MEAN, CIFAR10_STD, readCifar10TestBatch } from '../cifar10-test-images.test-util.js';
import { loadPretrainedResNet } from '../weights.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * ONNX Runtime's int8 outputs against the integer reference (`runQdqReference`: its fused kernels in its own
 * arithmetic) are within this many steps of the output's 8-bit grid. Measured: 0 — every logit bitwise equal — on the
 * ResNet-20-shaped model and on the pretrained ResNet-20 with real CIFAR-10 images (640 / 640 logits, min-max and
 * percentile); on the tiny BERT 1e-5 steps (ORT's own float LayerNorm / Erf / Softmax kernels between the integer
 * MatMuls). The float fake-quantized model (`runOnnxInTfjs`: dequantize, float conv, round once) is 1.9 steps away on
 * the pretrained ResNet-20 (174 / 640 logits equal), since ORT rounds the int32 accumulator times a float32 multiplier.
 */
const END_TO_END_STEPS = 1;
/** Share of the ResNet logits that must be bitwise equal to the reference's (all of them, measured here). */
const RESNET_EQUAL_SHARE = 0.95;

/** The largest |a − b| and the output's quantization step: its range on an 8-bit grid ((max − min) / 255). */
function compare(ortLogits: Float32Array, fakeQuant: Float32Array): { maxDiff: number; step: number } {
  let maxDiff = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < fakeQuant.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(ortLogits[i] - fakeQuant[i]));
    min = Math.min(min, fakeQuant[i], 0);
    max = Math.max(max, fakeQuant[i], 0);
  }
  return { maxDiff, step: (max - min) / 255 };
}

/** How many of `a` and `b` are bitwise equal, and the largest difference in steps. */
function agreement(a: Float32Array, b: Float32Array, step: number): { equal: number; of: number; steps: number } {
  let equal = 0;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) equal++;
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  }
  return { equal, of: a.length, steps: maxDiff / step };
}

function argmaxes(logits: Float32Array, classes: number): number[] {
  return Array.from({ length: logits.length / classes }, (_, i) => {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
    return best;
  });
}

async function ortRun(bytes: Uint8Array, feed: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await OnnxLogitsSession.create(bytes);
  try {
    return await session.run(feed);
  } finally {
    await session.dispose();
  }
}

describe('per-channel symmetric int8 weights', () => {
  it('scale = max|w| / 127 per output channel, zeros stay exactly zero, the extremes map to ±127', () => {
    // [K = 3, N = 2], channels along axis 1
    const w = Float32Array.from([0.5, 0, -1, 0.01, 0, -0.04]);
    const { q, scales } = quantizeWeightPerChannel(w, [3, 2], 1);
    expect(Array.from(scales)).toEqual([Math.fround(1 / 127), Math.fround(0.04 / 127)]);
    expect(Array.from(q)).toEqual([64, 0, -127, 32, 0, -127]);
    // an all-zero channel keeps scale 1 and zeros
    const z = quantizeWeightPerChannel(new Float32Array(4), [2, 1, 1, 2], 0);
    expect(Array.from(z.q)).toEqual([0, 0, 0, 0]);
  });

  it('uint8 activation parameters hold 0 exactly (zero point 0 for ReLU ranges)', () => {
    expect(uint8Params({ min: 0, max: 2.55 })).toEqual({ scale: Math.fround(0.01), zeroPoint: 0 });
    const p = uint8Params({ min: -1, max: 3 });
    expect(p.zeroPoint).toBe(Math.round(1 / p.scale));
    expect(uint8Params({ min: 0.5, max: 1 }).zeroPoint).toBe(0); // widened to hold 0
  });
});

describe('QDQ export of a ResNet-20-shaped model', () => {
  let model: Model;
  let fp32: Uint8Array;
  let feeds: Array<{ input: ort.Tensor }>;
  let images: tf.Tensor4D;
  let quantized: QuantizedOnnx;
  beforeAll(async () => {
    model = randomResNetCifar(resnetCifarArch(20), 3);
    // prune half of every conv so the sparse path is exercised
    for (const [name, v] of model.params) {
      if (model.paramKinds.get(name) === 'conv2d') v.assign(tf.tidy(() => tf.mul(v, tf.cast(tf.greater(tf.abs(v), 0.05), 'float32'))));
    }
    fp32 = await exportOnnx(model);
    const rng = new SeededRng(5);
    const batch = (n: number) => tf.tensor4d(Array.from({ length: n * 32 * 32 * 3 }, () => rng.normal()), [n, 32, 32, 3]);
    const calib = [batch(16), batch(16)];
    feeds = await Promise.all(calib.map(async (b) => (await onnxFeed(b)) as { input: ort.Tensor }));
    tf.dispose(calib);
    images = batch(8);
    quantized = await quantizeOnnx(fp32, feeds, { calibration: 'minmax' });
  });
  afterAll(() => {
    model.dispose();
    images.dispose();
  });

  it('decodes the exporter\'s bytes back to the same model', () => {
    expect(encodeModel(decodeModel(fp32))).toEqual(fp32);
  });

  it('quantizes every conv and the classifier per channel, keeps pruned weights zero, absorbs every ReLU before a quantized tensor', () => {
    expect(quantized.weights.map((w) => w.op)).toEqual([...Array(19).fill('Conv'), 'Gemm']);
    for (const w of quantized.weights) expect(w.nonzeroInt8).toBeLessThanOrEqual(w.nonzero);
    expect(quantized.weights.some((w) => w.nonzero < w.elements)).toBe(true);
    expect(quantized.absorbedRelus).toBe(18);
    expect(quantized.calibration).toEqual({ method: 'minmax', examples: 32 });
  });

  it('the float graph in tfjs is the model\'s forward', async () => {
    const feed = await onnxFeed(images);
    const nchw = tf.tensor(feed.input.data as Float32Array, feed.input.dims as number[]);
    const out = runOnnxInTfjs(decodeModel(fp32), { input: nchw });
    const forward = tf.tidy(() => model.forward(images, { training: false }));
    const a = out.logits.dataSync();
    const b = forward.dataSync();
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    expect(diff).toBeLessThan(1e-3);
    tf.dispose([nchw, out.logits, forward]);
  });

  it('ONNX Runtime fuses the QDQ groups into its int8 kernels (QLinearConv ×19, QLinearAdd, QGemm)', async () => {
    const ops = await ortOptimizedOperators(quantized.bytes);
    expect(ops.QLinearConv).toBe(19);
    expect(ops.Conv ?? 0).toBe(0);
    expect(ops.QGemm).toBe(1);
    expect(ops.QLinearAdd).toBeGreaterThanOrEqual(6);
  });

  it(`ORT's int8 logits equal the integer reference's (≥ ${RESNET_EQUAL_SHARE * 100} % bitwise, all within ${END_TO_END_STEPS} step of the output), the same class for every image`, async () => {
    const feed = await onnxFeed(images);
    const ortLogits = await ortRun(quantized.bytes, feed);
    const nchw = tf.tensor(feed.input.data as Float32Array, feed.input.dims as number[]);
    const out = runQdqReference(quantized.model, { input: nchw });
    const ref = out.logits.dataSync() as Float32Array;
    tf.dispose([nchw, out.logits]);
    const { step } = compare(ortLogits, ref);
    const a = agreement(ortLogits, ref, step);
    expect(a.steps).toBeLessThanOrEqual(END_TO_END_STEPS);
    expect(a.equal / a.of).toBeGreaterThanOrEqual(RESNET_EQUAL_SHARE);
    expect(argmaxes(ortLogits, 10)).toEqual(argmaxes(ref, 10));
    // and the int8 model is not the float model: quantization error is visible, but small
    const floatLogits = await ortRun(fp32, feed);
    const q = compare(ortLogits, floatLogits);
    expect(q.maxDiff).toBeGreaterThan(0);
  });

  it('percentile calibration clips the tails: ranges within the min-max ranges', async () => {
    const p = await quantizeOnnx(fp32, feeds, { calibration: 'percentile', percentile: 99.9 });
    const byTensor = new Map(quantized.activations.map((a) => [a.tensor, a.range]));
    for (const a of p.activations) {
      const mm = byTensor.get(a.tensor)!;
      expect(a.range.max).toBeLessThanOrEqual(mm.max);
      expect(a.range.min).toBeGreaterThanOrEqual(mm.min);
    }
    expect(p.activations.some((a) => a.range.max < byTensor.get(a.tensor)!.max)).toBe(true);
    expect(p.calibration).toEqual({ method: 'percentile', percentile: 99.9, examples: 32 });
  });
});

describe('QDQ export of a tiny BERT', () => {
  const arch = bertArch({ layers: 2, hidden: 16, heads: 2, intermediate: 32, vocabSize: 40, maxPosition: 16, numLabels: 3 });
  let model: Model;
  let quantized: QuantizedOnnx;
  const rng = new SeededRng(9);
  const tokens = (n: number, s: number) => {
    const ids = Array.from({ length: n * s }, () => 1 + rng.int(39));
    const mask = Array.from({ length: n * s }, (_, i) => (i % s < s - (i / s) % 3 ? 1 : 0));
    return {
      input_ids: tf.tensor2d(ids, [n, s], 'int32'),
      attention_mask: tf.tensor2d(mask, [n, s], 'int32'),
      token_type_ids: tf.tensor2d(Array.from({ length: n * s }, (_, i) => (i % s >= s / 2 ? 1 : 0)), [n, s], 'int32'),
    };
  };
  beforeAll(async () => {
    model = createBert(arch, { seed: 4 });
    let i = 0;
    for (const v of model.params.values()) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 40 + i++));
    const calib = [tokens(8, 10), tokens(8, 10)];
    const feeds = await Promise.all(calib.map((b) => onnxFeed(b)));
    calib.forEach((b) => tf.dispose(Object.values(b)));
    quantized = await quantizeOnnx(await exportOnnx(model), feeds, { calibration: 'minmax' });
  });
  afterAll(() => model.dispose());

  it('quantizes every linear layer and the embedding tables; ORT runs the encoder\'s linears as MatMulIntegerToFloat and gathers 8-bit rows', async () => {
    expect(quantized.weights.map((w) => w.op)).toEqual(['Gather', 'Gather', 'Slice', ...Array(2 * 6 + 2).fill('MatMul')]);
    const ops = await ortOptimizedOperators(quantized.bytes);
    expect(ops.MatMulIntegerToFloat).toBe(12);
    // the tables' DequantizeLinear moved after the lookups: 3 row DQs + the pooler's and classifier's weights and inputs
    expect(ops.DequantizeLinear).toBe(3 + 4);
  });

  it(`ORT's int8 logits match the integer reference's within ${END_TO_END_STEPS} step of the output`, async () => {
    const batch = tokens(6, 10);
    const feed = await onnxFeed(batch);
    const ortLogits = await ortRun(quantized.bytes, feed);
    const out = runQdqReference(quantized.model, batch);
    const ref = out.logits.dataSync() as Float32Array;
    const forward = tf.tidy(() => model.forward(batch, { training: false }).dataSync() as Float32Array);
    const floatOut = runOnnxInTfjs(decodeModel(await exportOnnx(model)), batch);
    const floatDiff = compare(floatOut.logits.dataSync() as Float32Array, forward);
    expect(floatDiff.maxDiff).toBeLessThan(1e-3);
    const { step } = compare(ortLogits, ref);
    tf.dispose([...Object.values(batch), out.logits, floatOut.logits]);
    expect(agreement(ortLogits, ref, step).steps).toBeLessThanOrEqual(END_TO_END_STEPS);
  });
});

describe('one int8 kernel against its fake-quantized tfjs twin', () => {
  /** input [N, 8, 12, 12] → Conv 3×3 (16 out, bias) → Relu → output: ORT runs QLinearConv, dequantizes its uint8 output, Relu. */
  function convGraph(seed: number): Uint8Array {
    const rng = new SeededRng(seed);
    const g = new OnnxGraphBuilder('conv');
    const w = g.addFloat('w', [16, 8, 3, 3], rng.normalArray(16 * 8 * 9, 0.2));
    const b = g.addFloat('b', [16], rng.normalArray(16, 0.1));
    const y = g.node('Conv', 'conv', ['input', w, b], [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1]), intsAttr('strides', [1, 1])]);
    g.node('Relu', 'relu', [y], [], 'output');
    const graph = g.build(
      [{ name: 'input', elemType: OnnxDataType.FLOAT, shape: ['N', 8, 12, 12] }],
      [{ name: 'output', elemType: OnnxDataType.FLOAT, shape: ['N', 16, 12, 12] }],
    );
    return encodeModel({ irVersion: irVersionForOpset(17), opsetVersion: 17, producerName: 'test', graph });
  }

  it('QLinearConv\'s output equals the integer reference\'s at every element; the float fake-quantized conv\'s is within one step, and mostly equal', async () => {
    const rng = new SeededRng(21);
    const input = () => new ort.Tensor('float32', rng.normalArray(4 * 8 * 144), [4, 8, 12, 12]);
    const q = await quantizeOnnx(convGraph(20), [{ input: input() }, { input: input() }]);
    expect((await ortOptimizedOperators(q.bytes)).QLinearConv).toBe(1);
    const feed = { input: input() };
    const ortOut = await ortRun(q.bytes, feed);
    const x = tf.tensor(feed.input.data as Float32Array, [4, 8, 12, 12]);
    const fake = runOnnxInTfjs(q.model, { input: x });
    const f = fake.output.dataSync() as Float32Array;
    const ref = runQdqReference(q.model, { input: x });
    const r = ref.output.dataSync() as Float32Array;
    tf.dispose([x, fake.output, ref.output]);
    const step = q.activations.find((a) => a.tensor === 'conv_out')!.scale;
    expect(agreement(ortOut, r, step)).toEqual({ equal: r.length, of: r.length, steps: 0 });
    let maxDiff = 0;
    let equal = 0;
    for (let i = 0; i < f.length; i++) {
      const d = Math.abs(ortOut[i] - f[i]);
      maxDiff = Math.max(maxDiff, d);
      if (d < step / 2) equal++;
    }
    expect(maxDiff).toBeLessThanOrEqual(step * 1.0001);
    expect(equal / f.length).toBeGreaterThan(0.99);
  });
});

const weightsDir = process.env.PRUNEBENCH_WEIGHTS;
const dataDir = process.env.PRUNEBENCH_DATA;
const realAvailable = !!weightsDir && !!dataDir && existsSync(join(weightsDir, 'resnet-cifar10', 'resnet20.safetensors')) && existsSync(join(dataDir, 'cifar-10', 'cifar-10-binary.tar.gz'));
if (!realAvailable) console.warn('SKIPPED: pretrained ResNet-20 int8 test on CIFAR-10 images (set PRUNEBENCH_WEIGHTS and PRUNEBENCH_DATA)');

describe.skipIf(!realAvailable)('pretrained ResNet-20 on real CIFAR-10 test images', () => {
  it(`int8 logits equal the integer reference's (≥ ${RESNET_EQUAL_SHARE * 100} % bitwise, all within ${END_TO_END_STEPS} step), the same class in ≥ 95 % of images, min-max and percentile`, async () => {
    const model = await loadPretrainedResNet(20, { weightsDir, allowDownload: false });
    const { pixels } = readCifar10TestBatch(dataDir!);
    const images = (from: number, n: number) => {
      const out = new Float32Array(n * 3072);
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) out[i * 3072 + p * 3 + c] = (pixels[(from + i) * 3072 + c * 1024 + p] / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c];
      }
      return tf.tensor4d(out, [n, 32, 32, 3]);
    };
    const calibration = [images(0, 128), images(128, 128)];
    const feeds = await Promise.all(calibration.map((b) => onnxFeed(b)));
    const test = images(1000, 64);
    const feed = await onnxFeed(test);
    const nchw = tf.tensor(feed.input.data as Float32Array, feed.input.dims as number[]);
    try {
      const fp32 = await exportOnnx(model);
      for (const calibrationMethod of ['minmax', 'percentile'] as const) {
        const q = await quantizeOnnx(fp32, feeds, { calibration: calibrationMethod });
        const ortLogits = await ortRun(q.bytes, feed);
        const out = runQdqReference(q.model, { input: nchw });
        const ref = out.logits.dataSync() as Float32Array;
        out.logits.dispose();
        const { step } = compare(ortLogits, ref);
        const a = agreement(ortLogits, ref, step);
        expect(a.steps).toBeLessThanOrEqual(END_TO_END_STEPS);
        expect(a.equal / a.of).toBeGreaterThanOrEqual(RESNET_EQUAL_SHARE);
        const classes = argmaxes(ortLogits, 10);
        const refClasses = argmaxes(ref, 10);
        expect(classes.filter((k, i) => k === refClasses[i]).length / classes.length).toBeGreaterThanOrEqual(0.95);
      }
    } finally {
      tf.dispose([...calibration, test, nchw]);
      model.dispose();
    }
  }, 600_000);
});
