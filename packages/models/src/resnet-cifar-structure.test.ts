import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { getModelStructure, traceLayers } from './family.js';
import { exportOnnx } from './onnx/index.js';
import { maxAbsDiff, onnxLogits } from './onnx/testing/compare.js';
import { validateResNetCifarArch, type ResNetCifarArch } from './resnet-cifar.js';
import { resnetCifarStructure } from './resnet-cifar-structure.js';
import { loadModelFromSafetensors } from './saved-model.js';
import { saveSafetensors } from './state-dict.js';
import { StructureError } from './structure.js';
import { removalCountsForAmount, keepIndicesByScore } from './structure-plan.js';
import type { LayerSpec, Model } from './types.js';
import { randomResNetCifar } from './testing/random-resnet-cifar.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Two blocks per stage, three stages; the first block of stages 2 and 3 is stride 2 with option-A padding. */
const ARCH: ResNetCifarArch = {
  family: 'resnet-cifar',
  depth: 14,
  numClasses: 5,
  stem: 4,
  stages: [
    { blocks: [{ mid: 4, out: 4, stride: 1 }, { mid: 4, out: 4, stride: 1 }] },
    { blocks: [{ mid: 6, out: 8, stride: 2 }, { mid: 8, out: 8, stride: 1 }] },
    { blocks: [{ mid: 5, out: 12, stride: 2 }, { mid: 12, out: 12, stride: 1 }] },
  ],
};

function images(n: number, seed: number, size = 8): tf.Tensor4D {
  const rng = new SeededRng(seed);
  return tf.tensor4d(rng.normalArray(n * size * size * 3), [n, size, size, 3]);
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

/** Set some entries of a variable (flat indices where `pick(index)` holds) to `value`. */
function setWhere(v: tf.Variable, pick: (flatIndex: number) => boolean, value: number): void {
  const data = Float32Array.from(v.dataSync() as Float32Array);
  for (let i = 0; i < data.length; i++) if (pick(i)) data[i] = value;
  v.assign(tf.tensor(data, v.shape, 'float32'));
}

describe('resnet-cifar structure: groups, blocks and costs', () => {
  const model = randomResNetCifar(ARCH, 1);
  afterAll(() => model.dispose());

  it('is what getModelStructure returns for a resnet-cifar model', () => {
    expect(getModelStructure(model)).toBe(resnetCifarStructure);
  });

  it('offers every block\'s mid channels as a group and every block as removable, with exact costs', () => {
    const groups = resnetCifarStructure.channelGroups(model);
    expect(groups.map((g) => [g.id, g.size])).toEqual([
      ['layer1.0.conv1', 4], ['layer1.1.conv1', 4], ['layer2.0.conv1', 6], ['layer2.1.conv1', 8], ['layer3.0.conv1', 5], ['layer3.1.conv1', 12],
    ]);
    expect(groups.every((g) => g.kind === 'filters' && g.minSize === 1)).toBe(true);
    expect(resnetCifarStructure.totalMacs!(model)).toBe(macsOf(model));
    const dense = { macs: macsOf(model), params: paramsOf(model) };
    for (const group of groups) {
      const keep = Array.from({ length: group.size - 2 }, (_, i) => i + 1); // cut the first and the last unit
      const cut = resnetCifarStructure.applySurgery(model, { keep: { [group.id]: keep } });
      expect(dense.macs - macsOf(cut)).toBe(2 * group.macsPerUnit);
      expect(dense.params - paramsOf(cut)).toBe(2 * group.paramsPerUnit);
      cut.dispose();
    }
    for (const block of resnetCifarStructure.removableBlocks(model)) {
      const cut = resnetCifarStructure.applySurgery(model, { removeBlocks: [block.id] });
      expect(dense.macs - macsOf(cut)).toBe(block.macs);
      expect(dense.params - paramsOf(cut)).toBe(block.params);
      expect(resnetCifarStructure.channelGroups(cut).map((g) => g.id)).not.toContain(`${block.id}.conv1`);
      cut.dispose();
    }
  });

  it('returns conv1 feature maps as [batch, filters, h, w] after bn1 + ReLU, and the pooled features', () => {
    const x = images(3, 5);
    const capture = resnetCifarStructure.forwardWithActivations(model, x, ['layer1.1.conv1', 'layer3.0.conv1']);
    expect(capture.activations.get('layer1.1.conv1')!.shape).toEqual([3, 4, 8, 8]);
    expect(capture.activations.get('layer3.0.conv1')!.shape).toEqual([3, 5, 2, 2]);
    expect(Math.min(...capture.activations.get('layer3.0.conv1')!.dataSync())).toBeGreaterThanOrEqual(0);
    expect(capture.features.shape).toEqual([3, 12]);
    expect(maxAbsDiff(capture.output.dataSync() as Float32Array, logits(model, x))).toBeLessThan(1e-6);
    const viaFeatures = tf.add(tf.matMul(capture.features, model.params.get('linear.weight')!), model.params.get('linear.bias')!);
    expect(maxAbsDiff(viaFeatures.dataSync() as Float32Array, logits(model, x))).toBeLessThan(1e-5);
    expect(() => resnetCifarStructure.forwardWithActivations(model, x, ['layer1.0.conv2'])).toThrow(/unknown channel group "layer1.0.conv2"/);
    tf.dispose([x, capture.output, capture.features, viaFeatures, ...capture.activations.values()]);
  });
});

describe('resnet-cifar surgery', () => {
  it('removing filters that are exactly zero (and silenced by their batch norm) leaves the logits unchanged, in tfjs and ONNX', async () => {
    const model = randomResNetCifar(ARCH, 2);
    const removed: Record<string, number[]> = { 'layer1.0.conv1': [0, 3], 'layer2.0.conv1': [1, 2, 5], 'layer3.1.conv1': [0, 4, 7, 11] };
    for (const [group, units] of Object.entries(removed)) {
      const prefix = group.slice(0, -'.conv1'.length);
      const mid = model.params.get(`${prefix}.bn1.weight`)!.size;
      setWhere(model.params.get(`${group}.weight`)!, (i) => units.includes(i % mid), 0); // HWIO: the filter index is the last axis
      setWhere(model.params.get(`${prefix}.bn1.weight`)!, (i) => units.includes(i), 0);
      setWhere(model.params.get(`${prefix}.bn1.bias`)!, (i) => units.includes(i), 0);
    }
    const keep = Object.fromEntries(Object.entries(removed).map(([group, units]) => {
      const size = resnetCifarStructure.channelGroups(model).find((g) => g.id === group)!.size;
      return [group, Array.from({ length: size }, (_, i) => i).filter((i) => !units.includes(i))];
    }));
    const cut = resnetCifarStructure.applySurgery(model, { keep });
    expect(cut.arch.stages.map((s) => s.blocks.map((b) => b.mid))).toEqual([[2, 4], [3, 8], [5, 8]]);
    expect(model.params.get('layer1.0.conv1.weight')!.shape).toEqual([3, 3, 4, 4]); // the input model is untouched
    const x = images(4, 9, 32);
    const expected = logits(model, x);
    expect(maxAbsDiff(logits(cut, x), expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await onnxLogits(await exportOnnx(cut), x), expected)).toBeLessThan(1e-4);
    x.dispose();
    model.dispose();
    cut.dispose();
  });

  it('dropping blocks gives the model whose residual branches output zero (identity and option-A shortcuts)', async () => {
    const model = randomResNetCifar(ARCH, 3);
    const cut = resnetCifarStructure.applySurgery(model, { removeBlocks: ['layer1.1', 'layer2.0', 'layer3.0'] });
    // The hand-built reference: the same model with those blocks' conv2 / bn2 silenced, so each block outputs
    // relu(0 + shortcut(x)) = shortcut(x).
    for (const prefix of ['layer1.1', 'layer2.0', 'layer3.0']) {
      for (const name of [`${prefix}.conv2.weight`, `${prefix}.bn2.weight`, `${prefix}.bn2.bias`]) setWhere(model.params.get(name)!, () => true, 0);
    }
    expect(cut.arch.stages[1].blocks[0]).toEqual({ mid: 0, out: 8, stride: 2, removed: true });
    expect([...cut.params.keys()].some((n) => n.startsWith('layer2.0.'))).toBe(false);
    expect(cut.params.get('layer2.1.conv1.weight')!.shape).toEqual([3, 3, 8, 8]); // later names do not move
    const x = images(3, 4, 32);
    const expected = logits(model, x);
    expect(maxAbsDiff(logits(cut, x), expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await onnxLogits(await exportOnnx(cut), x), expected)).toBeLessThan(1e-4);
    const shortcuts = traceLayers(cut.arch, [32, 32, 3]).filter((l) => l.name.startsWith('layer2.0') || l.name.startsWith('layer1.1'));
    expect(shortcuts.map((l) => [l.name, l.op, l.outShape])).toEqual([['layer2.0.shortcut', 'shortcut', [16, 16, 8]]]);
    x.dispose();
    model.dispose();
    cut.dispose();
  });

  it('rejects invalid plans with a StructureError naming the group or block', () => {
    const model = randomResNetCifar(ARCH, 4);
    const bad = (plan: Parameters<typeof resnetCifarStructure.applySurgery>[1], message: RegExp) => {
      expect(() => resnetCifarStructure.applySurgery(model, plan)).toThrow(StructureError);
      expect(() => resnetCifarStructure.applySurgery(model, plan)).toThrow(message);
    };
    bad({ keep: { 'layer1.0.conv2': [0] } }, /group "layer1.0.conv2" is not a channel group/);
    bad({ keep: { conv1: [0] } }, /group "conv1" is not a channel group/);
    bad({ keep: { 'layer2.0.conv1': [0, 6] } }, /group "layer2.0.conv1": keep index 6 is outside \[0, 6\)/);
    bad({ keep: { 'layer2.0.conv1': [2, 1] } }, /group "layer2.0.conv1": keep indices must be ascending and unique/);
    bad({ keep: { 'layer2.0.conv1': [] } }, /group "layer2.0.conv1": keeping 0 of 6 units is below its minimum of 1/);
    bad({ removeBlocks: ['layer4.0'] }, /block "layer4.0" cannot be dropped/);
    bad({ removeBlocks: ['layer1.0', 'layer1.0'] }, /block "layer1.0" is listed twice/);
    bad({ keep: { 'layer1.0.conv1': [0] }, removeBlocks: ['layer1.0'] }, /group "layer1.0.conv1" is cut while its block "layer1.0" is dropped/);
    const dropped = resnetCifarStructure.applySurgery(model, { removeBlocks: ['layer1.0'] });
    expect(() => resnetCifarStructure.applySurgery(dropped, { removeBlocks: ['layer1.0'] })).toThrow(/block "layer1.0" cannot be dropped/);
    dropped.dispose();
    model.dispose();
  });

  it('a surgered model trains, shrinks, saves with its arch and exports to ONNX matching tfjs', async () => {
    const model = randomResNetCifar(ARCH, 5);
    const cut = resnetCifarStructure.applySurgery(model, {
      keep: { 'layer1.0.conv1': [1, 2], 'layer3.1.conv1': [0, 3, 5, 6, 9] },
      removeBlocks: ['layer2.1', 'layer3.0'],
    });
    expect(paramsOf(cut)).toBeLessThan(paramsOf(model));
    expect(macsOf(cut)).toBeLessThan(macsOf(model));
    // a few plain SGD steps on one batch (training-mode batch norm, running statistics updated)
    const x = images(16, 6);
    const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 5), 'int32'), 5);
    const vars = [...cut.params.values()];
    const losses: number[] = [];
    for (let step = 0; step < 8; step++) {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, cut.forward(x, { training: true })) as tf.Scalar, vars);
      losses.push(value.dataSync()[0]);
      for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], 0.05)));
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
    expect(cut.buffers.get('layer1.0.bn1.running_mean')!.shape).toEqual([2]);

    const dir = mkdtempSync(join(tmpdir(), 'surgery-'));
    try {
      await saveSafetensors(join(dir, 'model.safetensors'), cut);
      const reloaded = await loadModelFromSafetensors(join(dir, 'model.safetensors'));
      expect(reloaded.arch).toEqual(cut.arch);
      const probe = images(2, 7, 32);
      expect(maxAbsDiff(logits(reloaded, probe), logits(cut, probe))).toBe(0);
      expect(maxAbsDiff(await onnxLogits(await exportOnnx(cut, { foldBatchNorm: false }), probe), logits(cut, probe))).toBeLessThan(1e-4);
      reloaded.dispose();
      probe.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    tf.dispose([x, labels]);
    model.dispose();
    cut.dispose();
  });

  it('validates removed blocks in archs', () => {
    const arch = structuredClone(ARCH);
    arch.stages[0].blocks[1] = { mid: 4, out: 4, stride: 1, removed: true };
    expect(() => validateResNetCifarArch(arch)).toThrow(/stages\[0\]\.blocks\[1\]\.mid must be 0 for a removed block/);
    arch.stages[0].blocks[1] = { mid: 0, out: 4, stride: 1 };
    expect(() => validateResNetCifarArch(arch)).toThrow(/stages\[0\]\.blocks\[1\]\.mid/);
  });
});

describe('structure plan helpers', () => {
  const groups = [
    { id: 'a', kind: 'filters' as const, size: 10, minSize: 1, macsPerUnit: 100, paramsPerUnit: 1 },
    { id: 'b', kind: 'filters' as const, size: 20, minSize: 1, macsPerUnit: 10, paramsPerUnit: 1 },
  ];

  it('removalCountsForAmount scales the ratios to just reach the amount, keeping minSize', () => {
    const uniform = removalCountsForAmount(groups, new Map([['a', 1], ['b', 1]]), (g) => g.macsPerUnit, 600);
    expect(uniform).toEqual(new Map([['a', 5], ['b', 10]])); // 500 + 100 = 600, the same half of each
    const onlyB = removalCountsForAmount(groups, new Map([['b', 1]]), (g) => g.macsPerUnit, 55);
    expect(onlyB).toEqual(new Map([['b', 6]]));
    expect(removalCountsForAmount(groups, new Map([['a', 1], ['b', 1]]), (g) => g.macsPerUnit, 1090)).toEqual(new Map([['a', 9], ['b', 19]]));
    expect(() => removalCountsForAmount(groups, new Map([['a', 1], ['b', 1]]), (g) => g.macsPerUnit, 1091)).toThrow(StructureError);
  });

  it('keepIndicesByScore removes the lowest scores, ties by the next key, then by index', () => {
    expect(keepIndicesByScore([[3], [1], [2], [1]], 2)).toEqual([0, 2]);
    expect(keepIndicesByScore([[1, 5], [1, 2], [0, 9]], 2)).toEqual([0]);
    expect(keepIndicesByScore([[1], [1], [1]], 1)).toEqual([1, 2]);
  });
});

/** The reference: build each model by surgery and run it whole. */
function bySurgery(model: Model<ResNetCifarArch>, x: tf.Tensor, id: string): Float32Array {
  const without = resnetCifarStructure.applySurgery(model, { removeBlocks: [id] });
  try {
    const capture = resnetCifarStructure.forwardWithActivations(without, x, []);
    const features = capture.features.dataSync() as Float32Array;
    tf.dispose([capture.output, capture.features]);
    return features;
  } finally {
    without.dispose();
  }
}

function expectSameAsSurgery(model: Model<ResNetCifarArch>, x: tf.Tensor): string[] {
  const ids = resnetCifarStructure.removableBlocks(model).map((b) => b.id);
  const fast = resnetCifarStructure.featuresWithoutEachBlock!(model, x, ids);
  try {
    expect([...fast.keys()]).toEqual(ids);
    for (const id of ids) {
      // bit for bit: the same operations on the same weights
      expect(fast.get(id)!.dataSync(), id).toEqual(bySurgery(model, x, id));
    }
  } finally {
    tf.dispose([...fast.values()]);
  }
  return ids;
}

describe('resnet-cifar featuresWithoutEachBlock', () => {
  it('gives the pooled features of each one-block-removed model exactly, identity and option-A blocks alike', () => {
    const model = randomResNetCifar(ARCH, 3);
    const x = images(6, 1);
    const before = tf.memory().numTensors;
    expect(expectSameAsSurgery(model, x)).toEqual(['layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0', 'layer3.1']);
    expect(tf.memory().numTensors).toBe(before);
    // Removing a block changes the features (else the check above would prove nothing).
    const whole = resnetCifarStructure.forwardWithActivations(model, x, []);
    expect(whole.features.dataSync()).not.toEqual(bySurgery(model, x, 'layer2.1'));
    tf.dispose([whole.output, whole.features, x]);
    model.dispose();
  });

  it('matches surgery on a model already cut: units kept, a block dropped, a coupled stream narrowed (channel-mapped shortcuts)', () => {
    const start = randomResNetCifar(ARCH, 5);
    const cut = resnetCifarStructure.applySurgery(start, {
      keep: { 'layer1.0.conv1': [0, 2, 3], 'layer3.1.conv1': [1, 4, 5, 9], stage2: [0, 1, 3, 4, 6, 7] },
      removeBlocks: ['layer2.1'],
    });
    const x = images(5, 2);
    expect(expectSameAsSurgery(cut, x)).toEqual(['layer1.0', 'layer1.1', 'layer2.0', 'layer3.0', 'layer3.1']);
    expect(() => resnetCifarStructure.featuresWithoutEachBlock!(cut, x, ['layer2.1'])).toThrow('resnet-cifar: no live block "layer2.1" to remove');
    expect(() => resnetCifarStructure.featuresWithoutEachBlock!(cut, x, ['layer9.0'])).toThrow('resnet-cifar: no live block "layer9.0" to remove');
    tf.dispose(x);
    start.dispose();
    cut.dispose();
  });
});
