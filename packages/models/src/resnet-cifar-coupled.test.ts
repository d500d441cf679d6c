import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { traceLayers } from './family.js';
import { exportOnnx } from './onnx/index.js';
import { maxAbsDiff, onnxLogits } from './onnx/testing/compare.js';
import { createResNetCifar, optionAShortcut, resnetCifarArch, validateResNetCifarArch, type ResNetCifarArch } from './resnet-cifar.js';
import { resnetCifarStructure } from './resnet-cifar-structure.js';
import { loadModelFromSafetensors } from './saved-model.js';
import { saveSafetensors } from './state-dict.js';
import { StructureError } from './structure.js';
import { planForCounts, removalCountsForGoal, structuredCost } from './structure-plan.js';
import type { LayerSpec, Model } from './types.js';
import { randomResNetCifar } from './testing/random-resnet-cifar.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** ResNet-20's layout (three blocks per stage) at small widths 4 / 8 / 12. */
const ARCH: ResNetCifarArch = {
  family: 'resnet-cifar',
  depth: 20,
  numClasses: 5,
  stem: 4,
  stages: [4, 8, 12].map((width, s) => ({
    blocks: [0, 1, 2].map((b) => ({ mid: width - (b === 1 ? 1 : 0), out: width, stride: s > 0 && b === 0 ? 2 : 1 })),
  })),
};

function images(n: number, seed: number, size = 32): tf.Tensor4D {
  return tf.tensor4d(new SeededRng(seed).normalArray(n * size * size * 3), [n, size, size, 3]);
}

function headlineMacs(layers: LayerSpec[]): number {
  let macs = 0;
  for (const l of layers) {
    if (l.op === 'conv2d') macs += l.outShape[0] * l.outShape[1] * l.outShape[2] * 9 * l.inShape[2];
    if (l.op === 'linear') macs += l.inShape[0] * l.outShape[0];
  }
  return macs;
}

const macsOf = (m: Model) => headlineMacs(traceLayers(m.arch, [32, 32, 3]));
const paramsOf = (m: Model) => [...m.params.values()].reduce((n, v) => n + v.size, 0);
const logits = (m: Model, x: tf.Tensor) => tf.tidy(() => m.forward(x, { training: false })).dataSync() as Float32Array;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const without = (n: number, cut: number[]) => range(n).filter((i) => !cut.includes(i));

/** Set the entries of a variable where `pick(flatIndex)` holds to 0. */
function zeroWhere(v: tf.Variable, pick: (flatIndex: number) => boolean): void {
  const data = Float32Array.from(v.dataSync() as Float32Array);
  for (let i = 0; i < data.length; i++) if (pick(i)) data[i] = 0;
  v.assign(tf.tensor(data, v.shape, 'float32'));
}

/** Make stream channels carry zero: every producer's filter (stem conv1 / each block's conv2) and batch norm for them. */
function silenceStream(model: Model<ResNetCifarArch>, stage: number, channels: number[]): void {
  const blocks = model.arch.stages[stage - 1].blocks.length;
  const width = model.arch.stages[stage - 1].blocks[0].out;
  const producers = range(blocks).map((b) => [`layer${stage}.${b}.conv2.weight`, `layer${stage}.${b}.bn2`]);
  if (stage === 1) producers.push(['conv1.weight', 'bn1']);
  for (const [conv, bn] of producers) {
    zeroWhere(model.params.get(conv) as tf.Variable, (i) => channels.includes(i % width));
    zeroWhere(model.params.get(`${bn}.weight`) as tf.Variable, (i) => channels.includes(i));
    zeroWhere(model.params.get(`${bn}.bias`) as tf.Variable, (i) => channels.includes(i));
  }
}

describe('resnet-cifar coupled channel groups (stage streams)', () => {
  const model = randomResNetCifar(ARCH, 1);
  afterAll(() => model.dispose());

  it('are offered only when asked for, one per stage, with exact unit costs', () => {
    expect(resnetCifarStructure.channelGroups(model).every((g) => g.kind === 'filters')).toBe(true);
    const coupled = resnetCifarStructure.channelGroups(model, { coupled: true }).filter((g) => g.kind === 'coupled-channels');
    expect(coupled.map((g) => [g.id, g.size, g.minSize])).toEqual([['stage1', 4, 1], ['stage2', 8, 1], ['stage3', 12, 1]]);
    const dense = { macs: macsOf(model), params: paramsOf(model) };
    for (const group of coupled) {
      const cut = resnetCifarStructure.applySurgery(model, { keep: { [group.id]: range(group.size).slice(1, -1) } }); // first and last go
      expect(dense.macs - macsOf(cut)).toBe(2 * group.macsPerUnit);
      expect(dense.params - paramsOf(cut)).toBe(2 * group.paramsPerUnit);
      expect(resnetCifarStructure.totalMacs!(cut)).toBe(macsOf(cut));
      cut.dispose();
    }
  });

  it('planSize is the exact size of the surgered model, also where streams and mid channels share weights', () => {
    const plan = { keep: { stage1: [0, 2], 'layer1.1.conv1': [1], stage2: [1, 3, 4, 6, 7], 'layer2.0.conv1': [0, 5], stage3: without(12, [0, 11]) } };
    const cut = resnetCifarStructure.applySurgery(model, plan);
    expect(resnetCifarStructure.planSize!(model, plan)).toEqual({ macs: macsOf(cut), params: paramsOf(cut) });
    const groups = resnetCifarStructure.channelGroups(model, { coupled: true });
    const summed = groups.reduce((sum, g) => sum + (g.size - (plan.keep as Record<string, number[]>)[g.id]?.length || 0) * g.macsPerUnit, 0);
    expect(macsOf(model) - macsOf(cut)).toBeLessThan(summed); // the shared weights are counted once
    // removalCountsForGoal meets the goal exactly although the unit costs overlap
    const cost = structuredCost(resnetCifarStructure, { kind: 'flops-reduction', fraction: 0.5 });
    const counts = removalCountsForGoal(resnetCifarStructure, model, groups, new Map(groups.map((g) => [g.id, 1])), cost, cost.allowed(model));
    expect(resnetCifarStructure.planSize!(model, planForCounts(groups, counts)).macs).toBeLessThanOrEqual(cost.allowed(model));
    cut.dispose();
  });

  it('returns each stream after its stage\'s last block as [batch, channels, h, w]', () => {
    const x = images(2, 3, 16);
    const capture = resnetCifarStructure.forwardWithActivations(model, x, ['stage1', 'stage3', 'layer2.0.conv1']);
    expect(capture.activations.get('stage1')!.shape).toEqual([2, 4, 16, 16]);
    expect(capture.activations.get('stage3')!.shape).toEqual([2, 12, 4, 4]);
    expect(capture.activations.get('layer2.0.conv1')!.shape).toEqual([2, 8, 8, 8]);
    // the pooled features are the mean of the last stream
    const pooled = tf.mean(tf.transpose(capture.activations.get('stage3')!, [0, 2, 3, 1]), [1, 2]);
    expect(maxAbsDiff(pooled.dataSync() as Float32Array, capture.features.dataSync() as Float32Array)).toBeLessThan(1e-6);
    expect(() => resnetCifarStructure.forwardWithActivations(model, x, ['stage4'])).toThrow(StructureError);
    tf.dispose([x, pooled, capture.output, capture.features, ...capture.activations.values()]);
  });

  it('cutting stream channels that carry zero (with mid filters) leaves the logits unchanged, in tfjs and ONNX', async () => {
    const m = randomResNetCifar(ARCH, 2);
    // A stream channel carries zero when its producers are silenced and its shortcut brings it zero: stage 2's channels
    // 2..5 take stage 1's 0..3 (reference offset 2), stage 3's 2..9 take stage 2's 0..7; the others are padding.
    silenceStream(m, 1, [1, 2]);
    silenceStream(m, 2, [3, 4, 6, 7]);
    silenceStream(m, 3, [0, 5, 6, 8, 9, 11]);
    // stage 1 keeps its zero channel 2, whose shortcut target in stage 2 (channel 4) is cut: the map drops it
    const plan = { keep: { stage1: without(4, [1]), stage2: without(8, [3, 4, 6, 7]), stage3: without(12, [0, 5, 6, 8, 9, 11]), 'layer2.1.conv1': [0, 3, 6] } };
    zeroWhere(m.params.get('layer2.1.conv1.weight') as tf.Variable, (i) => ![0, 3, 6].includes(i % 7));
    zeroWhere(m.params.get('layer2.1.bn1.weight') as tf.Variable, (i) => ![0, 3, 6].includes(i));
    zeroWhere(m.params.get('layer2.1.bn1.bias') as tf.Variable, (i) => ![0, 3, 6].includes(i));
    const cut = resnetCifarStructure.applySurgery(m, plan);
    expect(cut.arch.stem).toBe(3);
    expect(cut.arch.stages.map((s) => s.blocks.map((b) => b.out))).toEqual([[3, 3, 3], [4, 4, 4], [6, 6, 6]]);
    // stage 1's kept 0, 2, 3 land at 2, 4, 5 of stage 2; stage 2 keeps 0, 1, 2, 5: positions 2, cut, 3
    expect(cut.arch.stages[1].blocks[0].shortcut).toEqual([2, -1, 3]);
    // stage 2's kept 0, 1, 2, 5 land at 2, 3, 4, 7 of stage 3, which keeps 1, 2, 3, 4, 7, 10: positions 1..4, the reference padding again
    expect(cut.arch.stages[2].blocks[0].shortcut).toBeUndefined();
    expect(m.params.get('layer1.0.conv1.weight')!.shape).toEqual([3, 3, 4, 4]); // the input model is untouched
    const x = images(3, 9);
    const expected = logits(m, x);
    expect(maxAbsDiff(logits(cut, x), expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await onnxLogits(await exportOnnx(cut), x), expected)).toBeLessThan(1e-4);
    x.dispose();
    m.dispose();
    cut.dispose();
  });

  it('a stream-cut model trains, re-creates from its arch, reloads, and cuts again', async () => {
    const plan = { keep: { stage1: [0, 3], 'layer1.2.conv1': [2], stage2: [1, 2, 3, 7], stage3: [0, 5, 6, 11], 'layer3.0.conv1': [4, 9] }, removeBlocks: ['layer2.1'] };
    const cut = resnetCifarStructure.applySurgery(model, plan);
    const again = createResNetCifar(cut.arch);
    expect([...again.params].map(([n, v]) => [n, v.shape])).toEqual([...cut.params].map(([n, v]) => [n, v.shape]));
    again.dispose();
    const x = images(8, 6, 8);
    const labels = tf.oneHot(tf.tensor1d(range(8).map((i) => i % 5), 'int32'), 5);
    const vars = [...cut.params.values()];
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, cut.forward(x, { training: true })) as tf.Scalar, vars);
      losses.push(value.dataSync()[0]);
      for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], 0.05)));
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
    const dir = mkdtempSync(join(tmpdir(), 'coupled-'));
    try {
      await saveSafetensors(join(dir, 'model.safetensors'), cut);
      const reloaded = await loadModelFromSafetensors(join(dir, 'model.safetensors'));
      expect(reloaded.arch).toEqual(cut.arch);
      const probe = images(2, 7);
      expect(maxAbsDiff(logits(reloaded, probe), logits(cut, probe))).toBe(0);
      expect(maxAbsDiff(await onnxLogits(await exportOnnx(cut, { foldBatchNorm: false }), probe), logits(cut, probe))).toBeLessThan(1e-4);
      // a second cut of the cut model: the maps compose
      const twice = resnetCifarStructure.applySurgery(reloaded as Model<ResNetCifarArch>, { keep: { stage1: [1], stage2: [0, 3] } });
      expect(twice.arch.stem).toBe(1);
      expect(maxAbsDiff(await onnxLogits(await exportOnnx(twice), probe), logits(twice, probe))).toBeLessThan(1e-4);
      twice.dispose();
      reloaded.dispose();
      probe.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    tf.dispose([x, labels]);
    cut.dispose();
  });

  it('unit weights: a filter\'s kh·kw·in weights; a stream\'s producing filters concatenated', () => {
    const filters = resnetCifarStructure.unitWeights!(model, 'layer2.0.conv1');
    expect(filters.shape).toEqual([8, 9 * 4]);
    const w = model.params.get('layer2.0.conv1.weight')!.arraySync() as number[][][][];
    expect(filters.arraySync()[3][0 * 12 + 2 * 4 + 2]).toBeCloseTo(w[0][2][2][3], 6); // row 3 = filter 3, at (kh 0, kw 2, in 2)
    const stream = resnetCifarStructure.unitWeights!(model, 'stage1');
    expect(stream.shape).toEqual([4, 27 + 9 * (4 + 3 + 4)]); // stem, then conv2 of layer1.0 / .1 / .2 (mid 4, 3, 4)
    tf.dispose([filters, stream]);
  });

  it('checks shortcut maps in archs, and the reference padding needs no map', () => {
    const arch = structuredClone(resnetCifarArch(20));
    arch.stages[1].blocks[0].shortcut = [0, 1];
    expect(() => validateResNetCifarArch(arch)).toThrow(/stages\[1\]\.blocks\[0\]\.shortcut must be an array of 16 output channels/);
    arch.stages[1].blocks[0].shortcut = Array.from({ length: 16 }, () => 0);
    expect(() => validateResNetCifarArch(arch)).toThrow(/maps two channels to 0/);
    const x = images(1, 4, 4);
    const reference = optionAShortcut(x, 2, 7);
    const mapped = optionAShortcut(x, 2, 7, [3, -1, 0]);
    const r = reference.arraySync()[0][1][1];
    const m = mapped.arraySync()[0][1][1];
    expect(r).toEqual([0, 0, ...x.arraySync()[0][2][2], 0, 0]); // ⌊(7 − 3)/2⌋ = 2 zeros before
    expect(m).toEqual([x.arraySync()[0][2][2][2], 0, 0, x.arraySync()[0][2][2][0], 0, 0, 0]);
    tf.dispose([x, reference, mapped]);
    // an uncut pretrained-shaped model keeps the reference arch (no maps written)
    const full = createResNetCifar(20);
    const cut = resnetCifarStructure.applySurgery(full, { keep: { 'layer1.0.conv1': range(8) } });
    expect(cut.arch.stages.every((s) => s.blocks.every((b) => b.shortcut === undefined))).toBe(true);
    full.dispose();
    cut.dispose();
  });
});
