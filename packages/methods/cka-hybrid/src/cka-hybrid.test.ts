import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { createResNetCifar, getModelStructure, type Model, type ResNetCifarArch } from '@prunebench/models';
import { RandomImageTrainer, testMethodContext } from '@prunebench/pruning/testing';
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
