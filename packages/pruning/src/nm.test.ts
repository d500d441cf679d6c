import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyMasks, countKept } from './masks.js';
import { checkNmPattern, nmKeepCount, nmMasks, parseNmPattern } from './nm.js';
import { defineScoreMethod } from './score-method.js';
import { magnitudeScores } from './scores.js';
import { keepCountForTarget } from './target.js';
import { createToyConvModel, createToyModel, SimpleBudgetedTrainer, testMethodContext, weightNames } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Nonzero count of every N:M group of a [..., in, out] array, by brute force over the index formula. */
function groupCounts(values: ArrayLike<number>, shape: number[], m: number): number[] {
  const [inSize, outSize] = shape.slice(-2);
  const leading = values.length / (inSize * outSize);
  const counts: number[] = [];
  for (let lead = 0; lead < leading; lead++) {
    for (let o = 0; o < outSize; o++) {
      for (let g = 0; g < inSize / m; g++) {
        let c = 0;
        for (let k = 0; k < m; k++) if (values[(lead * inSize + g * m + k) * outSize + o] !== 0) c++;
        counts.push(c);
      }
    }
  }
  return counts;
}

describe('N:M patterns', () => {
  it('parse "N:M" and name the field in errors', () => {
    expect(parseNmPattern('2:4')).toEqual({ n: 2, m: 4 });
    expect(parseNmPattern('4:8')).toEqual({ n: 4, m: 8 });
    expect(() => parseNmPattern('4:4', 'suite.targets[0].nm')).toThrow(/^suite\.targets\[0\]\.nm must have 1 ≤ N < M ≤ 32, got "4:4"$/);
    expect(() => parseNmPattern(0.5)).toThrow(/^nm must be "N:M" such as "2:4", got 0.5$/);
  });

  it('masks keep exactly N of every M along the input dimension (linear and conv layouts), the highest scores', async () => {
    const rng = new SeededRng(4);
    for (const [shape, pattern] of [
      [[16, 6], '2:4'],
      [[3, 3, 8, 5], '2:4'],
      [[3, 3, 8, 5], '1:4'],
      [[16, 3], '4:8'],
    ] as const) {
      const { n, m } = parseNmPattern(pattern);
      const size = shape.reduce((a, b) => a * b, 1);
      const values = rng.uniformArray(size, 0, 1);
      const scores = new Map([['w', tf.tensor(values, [...shape])]]);
      const mask = (await nmMasks(scores, { n, m })).get('w')!;
      const kept = await mask.data();
      expect(groupCounts(kept, [...shape], m).every((c) => c === n)).toBe(true);
      expect(Array.from(kept).reduce((a, b) => a + b, 0)).toBe((size / m) * n);
      // Every kept weight scores at least as high as every pruned one of its group.
      const [inSize, outSize] = shape.slice(-2);
      for (let i = 0; i < size; i++) {
        const o = i % outSize;
        const row = Math.floor(i / outSize);
        const start = row - (row % inSize % m);
        for (let k = 0; k < m; k++) {
          const j = (start + k) * outSize + o;
          if (kept[i] === 1 && kept[j] === 0) expect(values[i]).toBeGreaterThanOrEqual(values[j]);
        }
      }
      tf.dispose([...scores.values(), mask]);
    }
  });

  it('ties go to the earliest position; layers whose input dimension is not a multiple of M stay dense', async () => {
    const scores = new Map([
      ['tied', tf.ones([4, 1])],
      ['odd', tf.ones([3, 3, 3, 2])],
    ]);
    const masks = await nmMasks(scores, { n: 2, m: 4 });
    expect(Array.from(await masks.get('tied')!.data())).toEqual([1, 1, 0, 0]);
    expect(await countKept(new Map([['odd', masks.get('odd')!]]))).toBe(54);
    tf.dispose([...scores.values(), ...masks.values()]);
  });

  it('a score method reaches an N:M target in one step; the check on the weights passes, and finds a violation when broken', async () => {
    const model = createToyConvModel({ seed: 2 });
    const prunable = weightNames(model);
    const target = { kind: 'n-of-m' as const, n: 2, m: 4 };
    // conv1 has 2 input channels (left dense), conv2 4 and fc 6 → conv2 takes the pattern, conv1 and fc do not.
    expect(keepCountForTarget(model, prunable, target)).toBe(nmKeepCount(model, prunable, target));
    expect(nmKeepCount(model, prunable, target)).toBe(72 + 108 + 18);
    const method = defineScoreMethod({ name: 'mag', description: 'm', options: {}, score: ({ model: m }, names) => magnitudeScores(m, names) });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 0 });
    const result = await method.run(testMethodContext(method, { model, trainer, target, options: { finetune: false } }));
    expect(await countKept(result.masks!)).toBe(198);
    const check = await checkNmPattern(model, prunable, target);
    expect(check).toEqual({ pattern: '2:4', eligibleLayers: 1, groups: 3 * 3 * 6, violations: 0, denseLayers: ['conv1.weight', 'fc.weight'] });
    model.params.get('conv2.weight')!.assign(tf.onesLike(model.params.get('conv2.weight')!));
    expect((await checkNmPattern(model, prunable, target)).violations).toBe(54);
    const iterative = testMethodContext(method, { model, trainer, target, options: { schedule: 'iterative' } });
    await expect(method.run(iterative)).rejects.toThrow(/^mag: an N:M target needs schedule "one-shot", got "iterative"$/);
    // The allocation does not matter to an N:M target: layer-wise gives the same masks.
    const again = createToyConvModel({ seed: 2 });
    const layerwise = await method.run(testMethodContext(method, { model: again, trainer, target, options: { allocation: 'layerwise', finetune: false } }));
    for (const [name, mask] of result.masks!) expect(Array.from(await layerwise.masks!.get(name)!.data())).toEqual(Array.from(await mask.data()));
  });

  it('the toy MLP at 2:4 keeps half of fc1 (8 inputs) and of fc2 (16 inputs)', async () => {
    const model = createToyModel({ seed: 1 });
    const masks = await nmMasks(magnitudeScores(model, weightNames(model)), { n: 2, m: 4 });
    applyMasks(model, masks);
    expect(await countKept(masks)).toBe(88);
    expect((await checkNmPattern(model, weightNames(model), { n: 2, m: 4 })).violations).toBe(0);
  });
});
