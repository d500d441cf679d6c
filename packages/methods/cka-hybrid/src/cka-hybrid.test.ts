import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import {
  bertArch, createBert, createResNetCifar, getModelStructure, planForCounts, structuredCost, traceLayers,
  type BertArch, type Model, type ResNetCifarArch,
} from '@prunebench/models';
import { countMacs, countParameters } from '@prunebench/metrics';
import type { Batch } from '@prunebench/pruning';
import { RandomImageTrainer, testMethodContext } from '@prunebench/pruning/testing';
import { unitCandidate } from './cka-hybrid.js';
import defaultExport, { ckaHybridMethod, linearCka } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Row-major product of a (r × k) and b (k × c). */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, r: number, k: number, c: number): number[] {
  const out = new Array<number>(r * c).fill(0);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) for (let t = 0; t < k; t++) out[i * c + j] += a[i * k + t] * b[t * c + j];
  return out;
}

/** A random p × p orthogonal matrix: the product of a few Householder reflections. */
function randomOrthogonal(p: number, rng: SeededRng): number[] {
  let q: number[] = Array.from({ length: p * p }, (_, i) => (i % (p + 1) === 0 ? 1 : 0));
  for (let k = 0; k < 4; k++) {
    const v = rng.normalArray(p);
    const vv = v.reduce((s, x) => s + x * x, 0);
    const h = Array.from({ length: p * p }, (_, i) => (i % (p + 1) === 0 ? 1 : 0) - (2 * v[Math.floor(i / p)] * v[i % p]) / vv);
    q = matmul(q, h, p, p, p);
  }
  return q;
}

describe('linearCka', () => {
  const rng = new SeededRng(5);
  const n = 40;
  const p = 6;
  const x = Array.from(rng.normalArray(n * p));

  it('is 1 for identical representations', () => {
    expect(linearCka(x, x, n)).toBeCloseTo(1, 12);
  });

  it('is invariant to orthogonal transforms and isotropic scaling, not to anisotropic scaling', () => {
    const rotated = matmul(x, randomOrthogonal(p, rng), n, p, p);
    expect(linearCka(x, rotated, n)).toBeCloseTo(1, 10);
    expect(linearCka(x, x.map((v) => -3.5 * v), n)).toBeCloseTo(1, 12);
    const y = Array.from(rng.normalArray(n * 4));
    const reference = linearCka(x, y, n);
    expect(linearCka(matmul(x, randomOrthogonal(p, rng), n, p, p).map((v) => 0.01 * v), y, n)).toBeCloseTo(reference, 10);
    expect(linearCka(x, x.map((v, i) => (i % p === 0 ? 10 * v : v)), n)).toBeLessThan(0.99);
  });

  it('lies in [0, 1], is low for unrelated data, and compares representations of different widths', () => {
    const unrelated = Array.from(rng.normalArray(n * 3));
    const value = linearCka(x, unrelated, n);
    expect(value).toBeGreaterThanOrEqual(0);
    expect(value).toBeLessThan(0.5);
    expect(linearCka(x, new Array(n * 2).fill(7), n)).toBe(0);
    expect(() => linearCka(x, x, 7)).toThrow(/do not split into 7 rows/);
  });
});

const ARCH: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 8, numClasses: 3, stem: 4,
  stages: [{ blocks: [{ mid: 6, out: 4, stride: 1 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }],
};

/** Two blocks per stage, so several steps of a few blocks' worth each are needed. */
const DEEPER: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 14, numClasses: 3, stem: 4,
  stages: [
    { blocks: [{ mid: 3, out: 4, stride: 1 }, { mid: 3, out: 4, stride: 1 }] },
    { blocks: [{ mid: 8, out: 8, stride: 2 }, { mid: 8, out: 8, stride: 1 }] },
    { blocks: [{ mid: 8, out: 8, stride: 2 }, { mid: 8, out: 8, stride: 1 }] },
  ],
};

describe('cka-hybrid method', () => {
  it('is registered by name with defaults and checks its options', () => {
    expect(defaultExport).toBe(ckaHybridMethod);
    expect(ckaHybridMethod.structured).toBe(true);
    expect(ckaHybridMethod.parseOptions(undefined)).toEqual(ckaHybridMethod.defaults);
    expect(() => ckaHybridMethod.parseOptions({ stepFraction: 0 })).toThrow(/cka-hybrid: option stepFraction must be > 0/);
    expect(() => ckaHybridMethod.parseOptions({ probe: 3 })).toThrow(/cka-hybrid: unknown option "probe"/);
    expect(ckaHybridMethod.defaults.coupledGroups).toBe(false);
    expect(() => ckaHybridMethod.parseOptions({ coupledGroups: 1 })).toThrow(/cka-hybrid: option coupledGroups must be true or false/);
  });

  it('steps to the FLOP target by the more CKA-similar candidate, charging every candidate\'s training', async () => {
    const model = createResNetCifar(DEEPER, { seed: 4 });
    const structure = getModelStructure(model);
    const before = structure.totalMacs!(model);
    const trainer = new RandomImageTrainer(400);
    const context = testMethodContext(ckaHybridMethod, {
      model, trainer, target: { kind: 'flops-reduction', fraction: 0.4 },
      options: { probeSize: 12, stepFraction: 0.1, candidateExamples: 8, finalFraction: 0.5 },
    });
    const result = await ckaHybridMethod.run(context);
    expect(result.masks).toBeUndefined();
    expect(1 - structure.totalMacs!(result.model) / before).toBeGreaterThanOrEqual(0.4);
    expect(model.params.get('layer1.0.conv1.weight')!.shape).toEqual([3, 3, 4, 3]); // the input model is untouched
    const steps = result.details!.steps as { choice: string; cka: Record<string, number> }[];
    expect(steps.length).toBeGreaterThanOrEqual(2);
    for (const s of steps) {
      // the winner is the candidate with the higher CKA
      const scores = Object.entries(s.cka);
      expect(s.choice).toBe(scores.reduce((best, c) => (c[1] > best[1] ? c : best))[0]);
    }
    // each step trained both candidates (charged), then the winner; the rest went to the final fine-tuning
    const labels = trainer.calls.map((c) => c.label);
    expect(labels.filter((l) => /^cka-step-1-(blocks|units)$/.test(l!))).toHaveLength(2);
    expect(labels.at(-1)).toBe('cka-final');
    expect(trainer.calls.filter((c) => /-(blocks|units)$/.test(c.label!)).every((c) => c.examples === 8)).toBe(true);
    expect(trainer.usedExamples()).toBe(400);
    expect(trainer.calls.at(-1)!.arch).toEqual(result.model.arch);
    result.model.dispose();
    model.dispose();
  });

  it('prunes without training when finetune is false, and meets a compression target', async () => {
    const model = createResNetCifar(ARCH, { seed: 6 });
    const params = (m: Model) => [...m.params.values()].reduce((n, v) => n + v.size, 0);
    const trainer = new RandomImageTrainer(100);
    const result = await ckaHybridMethod.run(testMethodContext(ckaHybridMethod, {
      model, trainer, target: { kind: 'compression', ratio: 1.5 }, options: { probeSize: 6, finetune: false, stepFraction: 0.15 },
    }));
    expect(params(model) / params(result.model)).toBeGreaterThanOrEqual(1.5);
    expect(trainer.usedExamples()).toBe(0);
    result.model.dispose();
    model.dispose();
  });
});

/** Every channel group of this arch (stem, the stage streams, each block's mid channels) has eight units. */
const EVEN: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 14, numClasses: 3, stem: 8,
  stages: [0, 1, 2].map((s) => ({ blocks: [0, 1].map((b) => ({ mid: 8, out: 8, stride: s > 0 && b === 0 ? 2 : 1 })) })),
};

/** The units of every group of EVEN that carry zero in `silencedModel`. */
const ZERO = [1, 3, 4, 6];

/** Zero output channels `channels` of a conv (HWIO) and of the batch norm after it, so those units carry zero. */
function silence(model: Model, conv: string, bn: string, channels: readonly number[]): void {
  const zero = (name: string) => {
    const v = model.params.get(name) as tf.Variable;
    const every = v.shape[v.shape.length - 1]!;
    const data = Float32Array.from(v.dataSync() as Float32Array);
    for (let i = 0; i < data.length; i++) if (channels.includes(i % every)) data[i] = 0;
    v.assign(tf.tensor(data, v.shape, 'float32'));
  };
  for (const name of [`${conv}.weight`, `${bn}.weight`, `${bn}.bias`]) zero(name);
}

/**
 * EVEN with the ZERO channels of every stream and every block's mid silenced: the stem's and each block's conv2 /
 * conv1 filters and batch norms, and the option-A shortcuts carry stage S's channel c into stage S + 1's c (offset 0).
 */
function silencedModel(seed: number): Model {
  const model = createResNetCifar(EVEN, { seed });
  silence(model, 'conv1', 'bn1', ZERO);
  for (const s of [1, 2, 3]) {
    for (const b of [0, 1]) {
      silence(model, `layer${s}.${b}.conv1`, `layer${s}.${b}.bn1`, ZERO);
      silence(model, `layer${s}.${b}.conv2`, `layer${s}.${b}.bn2`, ZERO);
    }
  }
  return model;
}

const images = (n: number, seed: number) => tf.tensor4d(new SeededRng(seed).normalArray(n * 32 * 32 * 3), [n, 32, 32, 3]);
const logitsOf = (m: Model, x: tf.Tensor) => tf.tidy(() => m.forward(x, { training: false })).dataSync() as Float32Array;
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((d, v, i) => Math.max(d, Math.abs(v - b[i])), 0);
const macsCounted = (m: Model) => countMacs(traceLayers(m.arch, [32, 32, 3])).dense;

describe('cka-hybrid with coupled groups', () => {
  it('cuts all-zero stream and mid channels first, sized by planSize, and the logits do not move, also after an option-A block is dropped', async () => {
    const model = silencedModel(8);
    const structure = getModelStructure(model);
    const cost = structuredCost(structure, { kind: 'flops-reduction', fraction: 0.5 });
    const dropped = structure.applySurgery(model, { removeBlocks: ['layer2.0'] }); // the option-A block: its shortcut map stays
    const [probe] = new RandomImageTrainer(0).sampleBatches(1, 6, new SeededRng(1));
    const x = images(3, 2);
    try {
      for (const parent of [model, dropped]) {
        const groups = structure.channelGroups(parent, { coupled: true });
        expect(groups.filter((g) => g.kind === 'coupled-channels').map((g) => g.id)).toEqual(['stage1', 'stage2', 'stage3']);
        expect(groups.every((g) => g.size === 8)).toBe(true);
        // the saving of one unit per group, exactly; the summed unit costs overstate it (streams and mids share weights)
        const expected = structure.planSize!(parent, planForCounts(groups, new Map(groups.map((g) => [g.id, 1]))));
        const amount = structure.totalMacs!(parent) - expected.macs;
        expect(amount).toBeLessThan(groups.reduce((sum, g) => sum + g.macsPerUnit, 0));
        const candidate = (await unitCandidate(structure, parent, probe, amount, cost, { coupled: true }))!;
        try {
          expect(candidate.removed).toEqual(Object.fromEntries(groups.map((g) => [g.id, 1])));
          expect(candidate.saving).toBe(amount);
          expect(structure.totalMacs!(candidate.model)).toBe(expected.macs);
          expect(macsCounted(candidate.model)).toBe(expected.macs);
          expect((await countParameters(candidate.model)).total).toBe(expected.params);
          const arch = candidate.model.arch as ResNetCifarArch;
          expect([arch.stem, ...arch.stages.flatMap((st) => st.blocks.map((b) => b.out))]).toEqual([7, 7, 7, 7, 7, 7, 7]);
          // the lowest mean |activation| is a zero unit: channel 1 went, everywhere
          expect(maxDiff(logitsOf(candidate.model, x), logitsOf(parent, x))).toBeLessThan(1e-5);
        } finally {
          candidate.model.dispose();
        }
      }
      // without the option only the mid channels are candidates
      const independent = (await unitCandidate(structure, model, probe, 1, cost, {}))!;
      expect(Object.keys(independent.removed).every((id) => id.endsWith('.conv1'))).toBe(true);
      independent.model.dispose();
    } finally {
      tf.dispose([x, probe.inputs, probe.labels]);
      dropped.dispose();
      model.dispose();
    }
  });

  it('steps to the FLOP target cutting only the zero channels (CKA 1 beats every block drop): the logits do not move, the size is what metrics count', async () => {
    const model = silencedModel(9);
    const structure = getModelStructure(model);
    const cost = structuredCost(structure, { kind: 'flops-reduction', fraction: 0.4 });
    const x = images(3, 4);
    const result = await ckaHybridMethod.run(testMethodContext(ckaHybridMethod, {
      model, trainer: new RandomImageTrainer(0), target: { kind: 'flops-reduction', fraction: 0.4 },
      options: { probeSize: 8, stepFraction: 0.1, finetune: false, coupledGroups: true },
    }));
    try {
      const after = structure.totalMacs!(result.model);
      expect(after).toBe(macsCounted(result.model));
      expect(after).toBeLessThanOrEqual(cost.allowed(model));
      expect(structure.planSize!(result.model, {})).toEqual({ macs: after, params: (await countParameters(result.model)).total });
      expect(result.details!.coupledGroups).toBe(true);
      const steps = result.details!.steps as { choice: string; removed: Record<string, number>; cka: Record<string, number> }[];
      expect(steps.length).toBeGreaterThan(0);
      for (const step of steps) {
        expect(step.choice).toBe('units');
        expect(step.cka.units).toBeCloseTo(1, 4);
        expect(['stage1', 'stage2', 'stage3'].every((id) => step.removed[id] > 0)).toBe(true);
      }
      const arch = result.model.arch as ResNetCifarArch;
      expect(arch.stem).toBeGreaterThanOrEqual(8 - ZERO.length);
      expect(arch.stem).toBeLessThan(8);
      expect(maxDiff(logitsOf(result.model, x), logitsOf(model, x))).toBeLessThan(1e-5);
    } finally {
      x.dispose();
      result.model.dispose();
      model.dispose();
    }
  });
});

/** RandomImageTrainer's budget, with random token sequences (length 8, vocabulary 30) as probe batches for BERT. */
class RandomTokenTrainer extends RandomImageTrainer {
  override sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[] {
    return Array.from({ length: count }, () => ({
      inputs: {
        input_ids: tf.tensor2d(Array.from({ length: batchSize * 8 }, () => rng.int(30)), [batchSize, 8], 'int32'),
        attention_mask: tf.ones([batchSize, 8], 'int32'),
        token_type_ids: tf.zeros([batchSize, 8], 'int32'),
      },
      labels: tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % 2), 'int32'),
      size: batchSize,
    }));
  }
}

describe('cka-hybrid with coupled groups on BERT', () => {
  it('meets the FLOP target at the size metrics count; its units candidate cuts the hidden size with the heads and neurons', async () => {
    const model = createBert({ ...bertArch({ layers: 3, hidden: 16, heads: 4, intermediate: 24, vocabSize: 30, maxPosition: 8 }), seqLength: 8 }, { seed: 5 });
    const structure = getModelStructure(model);
    const cost = structuredCost(structure, { kind: 'flops-reduction', fraction: 0.3 });
    const result = await ckaHybridMethod.run(testMethodContext(ckaHybridMethod, {
      model, trainer: new RandomTokenTrainer(0), target: { kind: 'flops-reduction', fraction: 0.3 },
      options: { probeSize: 8, stepFraction: 0.1, finetune: false, coupledGroups: true },
    }));
    try {
      const after = structure.totalMacs!(result.model);
      expect(after).toBe(countMacs(traceLayers(result.model.arch, [8])).dense);
      expect(after).toBeLessThanOrEqual(cost.allowed(model));
      expect(structure.planSize!(result.model, {})).toEqual({ macs: after, params: (await countParameters(result.model)).total });
      // the units candidate itself: the hidden size is cut with the heads and neurons, sized exactly
      const [calibration] = new RandomTokenTrainer(0).sampleBatches(1, 8, new SeededRng(4));
      const amount = 0.1 * structure.totalMacs!(model);
      const units = (await unitCandidate(structure, model, calibration, amount, cost, { coupled: true }))!;
      const removed = units.removed as Record<string, number>;
      try {
        expect(removed['bert.hidden']).toBeGreaterThan(0);
        expect(Object.keys(removed).some((id) => id.endsWith('.attention'))).toBe(true);
        expect((units.model.arch as BertArch).hidden).toBe(16 - removed['bert.hidden']);
        expect(units.saving).toBeGreaterThanOrEqual(amount);
        expect(structure.totalMacs!(units.model)).toBe(countMacs(traceLayers(units.model.arch, [8])).dense);
        expect(structure.planSize!(model, planForCounts(structure.channelGroups(model, { coupled: true }), new Map(Object.entries(removed)))).macs)
          .toBe(structure.totalMacs!(units.model));
      } finally {
        units.model.dispose();
        tf.dispose([...Object.values(calibration.inputs as Record<string, tf.Tensor>), calibration.labels]);
      }
      const [probe] = new RandomTokenTrainer(0).sampleBatches(1, 2, new SeededRng(3));
      const logits = tf.tidy(() => result.model.forward(probe.inputs, { training: false }));
      expect(logits.shape).toEqual([2, 2]);
      expect(Array.from(await logits.data()).every(Number.isFinite)).toBe(true);
      tf.dispose([logits, ...Object.values(probe.inputs as Record<string, tf.Tensor>), probe.labels]);
    } finally {
      result.model.dispose();
      model.dispose();
    }
  });
});
