import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { createResNetCifar, getModelStructure, type Model, type ResNetCifarArch } from '@prunebench/models';
import { RandomImageTrainer, testMethodContext } from '@prunebench/pruning/testing';
import defaultExport, { FLOAT32_EPSILON, RankAccumulator, hrankMethod, matrixRank } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Row-major product of a (r × k) and b (k × c). */
function matmul(a: number[], b: number[], r: number, k: number, c: number): number[] {
  const out = new Array<number>(r * c).fill(0);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) for (let t = 0; t < k; t++) out[i * c + j] += a[i * k + t] * b[t * c + j];
  return out;
}

describe('matrixRank', () => {
  const rng = new SeededRng(3);
  const random = (n: number) => Array.from(rng.normalArray(n));

  it('gives the rank of known matrices', () => {
    const identity = (n: number) => Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
    expect(matrixRank(identity(7), 7, 7)).toBe(7);
    expect(matrixRank(new Array(12).fill(0), 3, 4)).toBe(0);
    expect(matrixRank([], 0, 5)).toBe(0);
    const u = random(6);
    const v = random(5);
    expect(matrixRank(matmul(u, v, 6, 1, 5), 6, 5)).toBe(1); // outer product
    expect(matrixRank(matmul(random(10 * 3), random(3 * 8), 10, 3, 8), 10, 8)).toBe(3);
    expect(matrixRank(matmul(random(4 * 4), random(4 * 9), 4, 4, 9), 4, 9)).toBe(4); // wide
    expect(matrixRank(random(32 * 32), 32, 32)).toBe(32);
    // a duplicated column and a zero row
    expect(matrixRank([1, 2, 1, 3, 4, 3, 0, 0, 0], 3, 3)).toBe(2);
  });

  it('gives each matrix the same rank whatever came before (its work arrays are reused across calls)', () => {
    // low-rank products of several shapes, large and small, in one order and reversed
    const shapes: Array<[number, number, number]> = [[32, 32, 5], [8, 8, 8], [16, 12, 3], [3, 20, 2], [32, 32, 31], [5, 5, 1]];
    const matrices = shapes.map(([r, c, k]) => ({ r, c, values: matmul(random(r * k), random(k * c), r, k, c) }));
    const forward = matrices.map((m) => matrixRank(m.values, m.r, m.c));
    const backward = [...matrices].reverse().map((m) => matrixRank(m.values, m.r, m.c)).reverse();
    expect(forward).toEqual([5, 8, 3, 2, 31, 1]);
    expect(backward).toEqual(forward);
  });

  it('uses torch\'s float32 tolerance σ_max · max(m, n) · ε, or an explicit one', () => {
    const base = matmul(random(8 * 2), random(2 * 8), 8, 2, 8);
    const scale = Math.max(...base.map(Math.abs));
    const tiny = base.map((x, i) => x + (i === 5 ? scale * FLOAT32_EPSILON * 1e-3 : 0)); // far below the tolerance
    expect(matrixRank(tiny, 8, 8)).toBe(2);
    const visible = base.map((x, i) => x + (i === 5 ? scale * 1e-2 : 0));
    expect(matrixRank(visible, 8, 8)).toBe(3);
    expect(matrixRank(visible, 8, 8, { tolerance: scale })).toBeLessThanOrEqual(2);
    expect(matrixRank([3, 0, 0, 1e-3], 2, 2, { tolerance: 1e-2 })).toBe(1);
  });

  it('reads strided views (offset, row stride, column stride) like a contiguous copy', () => {
    const big = random(5 * 9);
    const contiguous: number[] = [];
    for (let r = 0; r < 5; r++) for (let c = 2; c < 6; c++) contiguous.push(big[r * 9 + c]);
    expect(matrixRank(big, 5, 4, { offset: 2, rowStride: 9 })).toBe(matrixRank(contiguous, 5, 4));
    const lowRank = matmul(random(5 * 2), random(2 * 9), 5, 2, 9);
    expect(matrixRank(lowRank, 5, 4, { offset: 2, rowStride: 9 })).toBe(2);
    expect(matrixRank(lowRank, 9, 5, { rowStride: 1, colStride: 9 })).toBe(2); // the transpose
  });
});

describe('RankAccumulator', () => {
  it('averages per-example feature-map ranks, and ranks vector units across the batch', async () => {
    // [batch 2, units 3, 4, 4]: unit 0 zero, unit 1 rank 1, unit 2 identity (rank 4)
    const values: number[] = [];
    for (let n = 0; n < 2; n++) {
      values.push(...new Array(16).fill(0));
      values.push(...matmul([1, 2, 3, 4], [1, n + 1, 1, 1], 4, 1, 4));
      values.push(...Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? n + 1 : 0)));
    }
    const acc = new RankAccumulator();
    await acc.add('g', tf.tensor4d(values, [2, 3, 4, 4]));
    const r = acc.result('g');
    expect(Array.from(r.rank)).toEqual([0, 1, 4]);
    expect(r.norm[0]).toBe(0);
    expect(r.norm[2]).toBeCloseTo((2 + 4) / 2, 6);

    // vector units [batch 3, units 2, seq 4, 1]: unit 0 shows one pattern (scaled), unit 1 three independent ones
    const vec: number[] = [];
    const patterns = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]];
    for (let n = 0; n < 3; n++) vec.push(...[1, 2, 3, 4].map((x) => x * (n + 1)), ...patterns[n]);
    const vectors = new RankAccumulator();
    await vectors.add('ffn', tf.tensor4d(vec, [3, 2, 4, 1]));
    expect(Array.from(vectors.result('ffn').rank)).toEqual([1, 3]);
    expect(() => vectors.result('nope')).toThrow(/no activations seen for group "nope"/);
  });
});

const ARCH: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 8, numClasses: 3, stem: 4,
  stages: [{ blocks: [{ mid: 6, out: 4, stride: 1 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }],
};

describe('hrank method', () => {
  it('is registered by name with paper defaults and checks its options', () => {
    expect(defaultExport).toBe(hrankMethod);
    expect(hrankMethod.structured).toBe(true);
    expect(hrankMethod.targetKinds).toEqual(['flops-reduction', 'compression']);
    expect(hrankMethod.parseOptions(undefined)).toEqual({ rankBatches: 5, rankBatchSize: 128, coupledGroups: false, steps: 1, finetune: true });
    expect(() => hrankMethod.parseOptions({ rankBatches: 0 })).toThrow(/hrank: option rankBatches must be >= 1/);
    expect(() => hrankMethod.parseOptions({ limit: 5 })).toThrow(/hrank: unknown option "limit"/);
  });

  it('cuts the lowest-rank filters by surgery to the FLOP target and fine-tunes the smaller model within the budget', async () => {
    const model = createResNetCifar(ARCH, { seed: 2 });
    // filters 1 and 4 of layer1.0 and 0 of layer3.0 are silenced by their batch norm: all-zero maps, rank 0
    const silence = (prefix: string, units: number[]) => {
      for (const p of ['weight', 'bias']) {
        const v = model.params.get(`${prefix}.bn1.${p}`)!;
        const data = Float32Array.from(v.dataSync() as Float32Array);
        for (const u of units) data[u] = 0;
        v.assign(tf.tensor1d(data));
      }
    };
    silence('layer1.0', [1, 4]);
    silence('layer3.0', [0]);
    const structure = getModelStructure(model);
    const before = structure.totalMacs!(model);
    const trainer = new RandomImageTrainer(48);
    const context = testMethodContext(hrankMethod, {
      model, trainer, target: { kind: 'flops-reduction', fraction: 0.3 }, options: { rankBatches: 2, rankBatchSize: 4 },
    });
    const result = await hrankMethod.run(context);
    expect(result.masks).toBeUndefined();
    expect(result.model).not.toBe(model);
    const after = structure.totalMacs!(result.model);
    expect(1 - after / before).toBeGreaterThanOrEqual(0.3);
    expect(1 - after / before).toBeLessThan(0.4);
    expect(model.params.get('layer1.0.conv1.weight')!.shape).toEqual([3, 3, 4, 6]); // the input model is untouched
    const groups = (result.details!.steps as { groups: Record<string, { kept: number }> }[])[0].groups;
    expect(groups['layer1.0.conv1'].kept).toBeLessThanOrEqual(4);
    expect(trainer.usedExamples()).toBe(48);
    expect(trainer.calls).toHaveLength(1);
    expect(trainer.calls[0].arch).toEqual(result.model.arch); // fine-tuning trained the surgered model
    // the silenced filters (rank 0) went first: pruned without fine-tuning, no surviving filter has a zero gamma
    const pruneOnly = await hrankMethod.run(testMethodContext(hrankMethod, {
      model, trainer: new RandomImageTrainer(0), target: { kind: 'flops-reduction', fraction: 0.3 }, options: { rankBatches: 2, rankBatchSize: 4, finetune: false },
    }));
    for (const prefix of ['layer1.0', 'layer3.0']) {
      expect(Array.from(pruneOnly.model.params.get(`${prefix}.bn1.weight`)!.dataSync()).every((g) => g !== 0)).toBe(true);
    }
    pruneOnly.model.dispose();
    result.model.dispose();
    model.dispose();
  });

  it('follows per-layer ratios (unlisted groups stay whole), steps, and a compression target', async () => {
    const model = createResNetCifar(ARCH, { seed: 3 });
    const params = (m: Model) => [...m.params.values()].reduce((n, v) => n + v.size, 0);
    const trainer = new RandomImageTrainer(40);
    const context = testMethodContext(hrankMethod, {
      model, trainer, target: { kind: 'compression', ratio: 1.25 },
      options: { rankBatches: 1, rankBatchSize: 3, steps: 2, layerRatios: { 'layer2.0.conv1': 1, 'layer3.0.conv1': 0.5 } },
    });
    const result = await hrankMethod.run(context);
    expect(params(model) / params(result.model)).toBeGreaterThanOrEqual(1.25);
    const mids = (result.model.arch as ResNetCifarArch).stages.map((s) => s.blocks[0].mid);
    expect(mids[0]).toBe(6);
    expect(mids[1]).toBeLessThan(8);
    expect(8 - mids[2]).toBeLessThanOrEqual(8 - mids[1]);
    expect(trainer.calls.map((c) => [c.label, c.examples])).toEqual([['hrank-step-1', 20], ['hrank-step-2', 20]]);
    await expect(hrankMethod.run(testMethodContext(hrankMethod, {
      model, trainer: new RandomImageTrainer(0), target: { kind: 'flops-reduction', fraction: 0.2 }, options: { layerRatios: { 'layer9.0.conv1': 1 } },
    }))).rejects.toThrow(/layerRatios names "layer9.0.conv1", which is not a channel group/);
    result.model.dispose();
    model.dispose();
  });

  it('with coupledGroups also cuts the stage streams (ranked by the stream after the stage\'s last block) and still meets the target', async () => {
    const model = createResNetCifar(ARCH, { seed: 4 });
    const structure = getModelStructure(model);
    const before = structure.totalMacs!(model);
    const result = await hrankMethod.run(testMethodContext(hrankMethod, {
      model, trainer: new RandomImageTrainer(16), target: { kind: 'flops-reduction', fraction: 0.4 }, options: { rankBatches: 1, rankBatchSize: 4, coupledGroups: true },
    }));
    const after = structure.totalMacs!(result.model);
    expect(1 - after / before).toBeGreaterThanOrEqual(0.4);
    expect(1 - after / before).toBeLessThan(0.55);
    const groups = (result.details!.steps as { groups: Record<string, { kept: number; of: number }> }[])[0].groups;
    expect(Object.keys(groups)).toEqual(expect.arrayContaining(['stage1', 'stage2', 'stage3']));
    const arch = result.model.arch as ResNetCifarArch;
    expect([arch.stem, ...arch.stages.map((s) => s.blocks[0].out)]).toEqual([groups.stage1.kept, groups.stage1.kept, groups.stage2.kept, groups.stage3.kept]);
    result.model.dispose();
    model.dispose();
  });
});
