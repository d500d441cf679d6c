import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cosineDropFraction, dropAndGrow, dropAndGrowLayer, erkDensities, sparseLayerKeepCounts } from './dynamic-sparsity.js';
import { createToyConvModel, createToyModel, weightNames } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('ERK densities', () => {
  it('match a hand computation on the toy MLP [8, 16, 3]', () => {
    const model = createToyModel({ seed: 0 });
    // fc1 [8, 16]: 128 weights, (8 + 16) / 128 = 0.1875; fc2 [16, 3]: 48 weights, (16 + 3) / 48 = 19 / 48.
    // Keep 88: ε = 88 / (0.1875 · 128 + 19/48 · 48) = 88 / 43.
    const densities = erkDensities(new Map([['fc1.weight', [8, 16]], ['fc2.weight', [16, 3]]]), 88);
    expect(densities.get('fc1.weight')).toBeCloseTo((88 / 43) * 0.1875, 12);
    expect(densities.get('fc2.weight')).toBeCloseTo(((88 / 43) * 19) / 48, 12);
    // 49.116… and 38.883… → 49 + 38 = 87, the one left to the larger fraction (fc2).
    expect(Object.fromEntries(sparseLayerKeepCounts(model, weightNames(model), 88, 'erk'))).toEqual({ 'fc1.weight': 49, 'fc2.weight': 39 });
    // Keep 141: ε = 141 / 43 gives fc2 a density of 1.30 > 1 → fc2 dense (48), fc1 keeps the other 93.
    const dense = erkDensities(new Map([['fc1.weight', [8, 16]], ['fc2.weight', [16, 3]]]), 141);
    expect(dense.get('fc2.weight')).toBe(1);
    expect(dense.get('fc1.weight')).toBeCloseTo(93 / 128, 12);
    expect(Object.fromEntries(sparseLayerKeepCounts(model, weightNames(model), 141, 'erk'))).toEqual({ 'fc1.weight': 93, 'fc2.weight': 48 });
    model.dispose();
  });

  it('use the kernel dimensions of a conv (HWIO: kh + kw + in + out over their product) and sum exactly to the keep count', () => {
    const model = createToyConvModel({ seed: 0 });
    // conv1 [3,3,2,4] 72: 12/72; conv2 [3,3,4,6] 216: 16/216; fc [6,3] 18: 9/18. Keep 100: ε = 100 / (12 + 16 + 9).
    const shapes = new Map([['conv1.weight', [3, 3, 2, 4]], ['conv2.weight', [3, 3, 4, 6]], ['fc.weight', [6, 3]]]);
    const eps = 100 / 37;
    // fc: ε · 0.5 = 1.35 > 1 → dense (18); ε' = (100 − 18) / 28.
    const d = erkDensities(shapes, 100);
    expect(d.get('fc.weight')).toBe(1);
    expect(eps * 0.5).toBeGreaterThan(1);
    expect(d.get('conv1.weight')).toBeCloseTo((82 / 28) * (12 / 72), 12);
    expect(d.get('conv2.weight')).toBeCloseTo((82 / 28) * (16 / 216), 12);
    const counts = sparseLayerKeepCounts(model, weightNames(model), 100, 'erk');
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(100);
    // 35.14… and 46.85… → 35 and 47.
    expect(Object.fromEntries(counts)).toEqual({ 'conv1.weight': 35, 'conv2.weight': 47, 'fc.weight': 18 });
    model.dispose();
  });
});

describe('drop and grow', () => {
  it('drops the smallest active weights and regrows as many by score, just-dropped positions included', () => {
    const w = [0.1, -0.5, 0.2, 0, 0, 0.9];
    const m = [1, 1, 1, 0, 0, 1];
    // Drop 2: |0.1| (0) and |0.2| (2). Inactive now: 0, 2, 3, 4; scores 5, ·, 1, 3, 4 → grow 0 and 4.
    expect(Array.from(dropAndGrowLayer(w, m, [5, 0, 1, 3, 4, 0], 2))).toEqual([1, 1, 0, 0, 1, 1]);
    // Ties go to the lower index, in both the drop and the grow.
    expect(Array.from(dropAndGrowLayer([1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0], 1))).toEqual([1, 1, 1, 0]);
    expect(Array.from(dropAndGrowLayer(w, m, [0, 0, 0, 0, 0, 0], 0))).toEqual(m);
    expect(() => dropAndGrowLayer(w, m, w, 5)).toThrow(/drop count/);
  });

  it('keeps every layer\'s kept count over a whole model', async () => {
    const model = createToyModel({ seed: 3 });
    const masks = new Map(weightNames(model).map((name) => {
      const size = model.params.get(name)!.size;
      return [name, tf.tensor(Float32Array.from({ length: size }, (_, i) => (i % 4 === 0 ? 1 : 0)), model.params.get(name)!.shape)];
    }));
    const scores = new Map(weightNames(model).map((name) => [name, tf.randomUniform(model.params.get(name)!.shape, 0, 1, 'float32', 1)]));
    const { masks: next, moved } = await dropAndGrow(model, masks, scores, 0.3);
    for (const [name, mask] of next) {
      const before = Array.from(await masks.get(name)!.data()).reduce((a, b) => a + b, 0);
      expect(Array.from(await mask.data()).reduce((a, b) => a + b, 0)).toBe(before);
      expect(moved.get(name)).toBe(Math.round(0.3 * before));
    }
    tf.dispose([...masks.values(), ...scores.values(), ...next.values()]);
    model.dispose();
  });

  it('the drop fraction is α/2 · (1 + cos(π t / T_end)), 0 from T_end on', () => {
    expect(cosineDropFraction(0.3, 0, 10)).toBeCloseTo(0.3, 12);
    expect(cosineDropFraction(0.3, 5, 10)).toBeCloseTo(0.15, 12);
    expect(cosineDropFraction(0.3, 10, 10)).toBe(0);
    expect(cosineDropFraction(0.3, 12, 10)).toBe(0);
  });
});
