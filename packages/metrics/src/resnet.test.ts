import * as tf from '@tensorflow/tfjs';
import { createResNetCifar, exportOnnx, getModelFamily, loadPretrainedResNet, resnetCifarArch, type ResNetCifarArch } from '@prunebench/models';
import { describe, expect, it } from 'vitest';
import { measureLatency, toLatencyRecord } from './latency/measure.js';
import { countMacs, theoreticalSpeedup } from './macs.js';
import { compressionRatio, countParameters, prunableDensities } from './params.js';
import { sparseEncodingBytes } from './sparse-encoding.js';

await tf.setBackend('cpu');

const trace = (arch: ResNetCifarArch) => getModelFamily('resnet-cifar').traceLayers(arch, [32, 32, 3]);
const weightsRoot = process.env.PRUNEBENCH_WEIGHTS;
if (!weightsRoot) console.warn('SKIPPED: pretrained ResNet parameter counts need PRUNEBENCH_WEIGHTS');

describe('CIFAR ResNets: published parameter and MAC counts', () => {
  it('ResNet-20: 269,722 parameters, 40,551,040 conv + linear MACs', async () => {
    const model = createResNetCifar(20, { seed: 1 });
    const counts = await countParameters(model);
    expect(counts.total).toBe(269_722);
    expect(counts.prunable).toBe(269_722 - 1_376 - 10); // minus batch-norm scales/shifts and the classifier bias
    expect(countMacs(trace(model.arch)).dense).toBe(40_551_040);
    model.dispose();
  });

  it('ResNet-56: 853,018 parameters (848,944 conv + linear weights), 125,485,696 MACs', async () => {
    const model = createResNetCifar(56, { seed: 1 });
    const counts = await countParameters(model);
    expect(counts.total).toBe(853_018);
    expect(counts.prunable).toBe(848_944);
    expect(countMacs(trace(model.arch)).dense).toBe(125_485_696);
    model.dispose();
  });

  it('ResNet-20 full count, by op, counted by hand', () => {
    // BN and ReLU: 16,384 (stem) + 6·16,384 + 6·8,192 + 6·4,096 = 188,416 elements each;
    // residual adds 3·(16,384 + 8,192 + 4,096) = 86,016; average pool reads 8·8·64 = 4,096; classifier bias 10
    const full = countMacs(trace(resnetCifarArch(20)), { full: true }).full!;
    expect(full.byOp).toMatchObject({ conv2d: 40_550_400, linear: 640, batchnorm: 188_416, relu: 188_416, add: 86_016, avgpool: 4_096, bias: 10, shortcut: 0 });
    expect(full.dense).toBe(40_551_040 + 188_416 * 2 + 86_016 + 4_096 + 10);
  });
});

describe('effective and structural counts on a real trace', () => {
  it('a mask removing half of one conv removes half of its MACs', async () => {
    const model = createResNetCifar(20, { seed: 2 });
    const weight = model.params.get('layer1.0.conv1.weight')!;
    const mask = tf.concat([tf.zeros([weight.size / 2]), tf.ones([weight.size / 2])]).reshape(weight.shape);
    const counts = await countParameters(model, { masks: new Map([['layer1.0.conv1.weight', mask]]) });
    expect(counts.byLayer['layer1.0.conv1.weight'].density).toBe(0.5);
    const macs = countMacs(trace(model.arch), { weightDensity: prunableDensities(counts) });
    // layer1.0.conv1: 32·32·16 · 9 · 16 = 2,359,296 MACs, half of them gone
    expect(macs.dense - macs.effective).toBe(1_179_648);
    expect(theoreticalSpeedup(macs)).toBeCloseTo(40_551_040 / (40_551_040 - 1_179_648), 12);
    expect(compressionRatio(counts)).toBe(counts.total / counts.nonzero);
    expect((await sparseEncodingBytes(model, { masks: new Map([['layer1.0.conv1.weight', mask]]) })).byTensor['layer1.0.conv1.weight'])
      .toEqual({ elements: 2304, nonzero: 1152, denseBytes: 9216, sparseBytes: 288 + 4608 });
    mask.dispose();
    model.dispose();
  });

  it('structural: every block halved inside (mid channels) halves the block convs', async () => {
    const arch = resnetCifarArch(20);
    const slim = structuredClone(arch);
    for (const stage of slim.stages) for (const block of stage.blocks) block.mid /= 2;
    // blocks hold 40,551,040 − 442,368 (stem) − 640 (linear) = 40,108,032 MACs; both convs of a block scale with mid
    const dense = countMacs(trace(arch));
    const pruned = countMacs(trace(slim));
    expect(pruned.dense).toBe(442_368 + 640 + 40_108_032 / 2);
    expect(theoreticalSpeedup(pruned, dense)).toBeCloseTo(40_551_040 / 20_497_024, 12);
    // parameters: block conv weights 267,264 → 133,632; the blocks' bn1 scale+shift 2·336 → 2·168
    const model = createResNetCifar(slim, { seed: 3 });
    expect((await countParameters(model)).total).toBe(269_722 - 133_632 - 336);
    model.dispose();
  });
});

describe('measureLatency on an exported ResNet-20 (structure only, no speed asserted)', () => {
  it('times the exported model at batch 1 and a small throughput batch', async () => {
    const model = createResNetCifar(20, { seed: 4 });
    const onnx = await exportOnnx(model);
    model.dispose();
    const report = await measureLatency(onnx, {
      inputShape: [3, 32, 32], batchSizes: { latency: 1, throughput: 4 }, threads: 1, warmupIterations: 2, minIterations: 10, throughputMinIterations: 3, minTimeMs: 0,
    });
    expect(report.inputName).toBe('input');
    expect(report.modelBytes).toBe(onnx.length);
    expect(report.latency.iterations).toBeGreaterThanOrEqual(10);
    expect(report.throughput.iterations).toBeGreaterThanOrEqual(3);
    expect(report.latency.ms.p50).toBeLessThanOrEqual(report.latency.ms.p90);
    expect(report.latency.ms.p90).toBeLessThanOrEqual(report.latency.ms.p99);
    expect(toLatencyRecord(report).throughputBatch).toBe(4);
  });
});

describe.skipIf(!weightsRoot)('pretrained CIFAR ResNets (PRUNEBENCH_WEIGHTS)', () => {
  it('ResNet-56 weights: 853,018 parameters, 848,944 prunable', async () => {
    const model = await loadPretrainedResNet(56, { weightsDir: weightsRoot!, allowDownload: false });
    const counts = await countParameters(model);
    expect(counts.total).toBe(853_018);
    expect(counts.prunable).toBe(848_944);
    expect(counts.nonzeroPrunable).toBeGreaterThan(0.99 * 848_944);
    model.dispose();
  });
});
