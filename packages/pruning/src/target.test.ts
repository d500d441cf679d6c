import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalMasks, layerwiseMasks } from './allocation.js';
import { magnitudeScores } from './scores.js';
import { countKept } from './masks.js';
import { compressionRatioOfMasks, countPrunableParams, keepCountForTarget, layerKeepCountsForTarget } from './target.js';
import { createToyConvModel, createToyModel, weightNames } from './testing.js';
import type { Model } from '@prunebench/models';

let mlp: Model;
beforeAll(async () => {
  await tf.setBackend('cpu');
  mlp = createToyModel({ seed: 1 });
});
afterAll(() => mlp.dispose());

describe('keepCountForTarget (ShrinkBench: total / nonzero over the whole model)', () => {
  it('counts non-prunable parameters as nonzero', () => {
    // 8·16 + 16 + 16·3 + 3 = 195 params; weights 176 prunable, biases 19 not.
    const names = weightNames(mlp);
    expect(countPrunableParams(mlp, names)).toEqual({ total: 195, prunable: 176, nonPrunable: 19 });
    // r = 5 → 39 nonzero in total → 20 prunable weights kept.
    expect(keepCountForTarget(mlp, names, { kind: 'compression', ratio: 5 })).toBe(20);
    expect(keepCountForTarget(mlp, names, { kind: 'compression', ratio: 1 })).toBe(176);
  });

  it('achieves the ratio on the resulting masks', async () => {
    const names = weightNames(mlp);
    for (const ratio of [1.5, 2, 4, 8]) {
      const keep = keepCountForTarget(mlp, names, { kind: 'compression', ratio });
      const masks = await globalMasks(magnitudeScores(mlp, names), keep);
      // Within one weight of the exact ratio.
      const achieved = await compressionRatioOfMasks(mlp, names, masks);
      expect(Math.abs(195 / achieved - 195 / ratio)).toBeLessThanOrEqual(0.5);
    }
  });

  it('errors clearly when the ratio is unreachable or malformed', () => {
    const names = weightNames(mlp);
    expect(() => keepCountForTarget(mlp, names, { kind: 'compression', ratio: 20 })).toThrow(/target.ratio 20 is unreachable.*highest reachable compression is 9.750/);
    expect(() => keepCountForTarget(mlp, names, { kind: 'compression', ratio: 0.5 })).toThrow(/target.ratio/);
    expect(() => keepCountForTarget(mlp, names, { kind: 'flops-reduction', fraction: 0.5 })).toThrow(/flops-reduction/);
    expect(() => keepCountForTarget(mlp, names, { kind: 'sparsity', fraction: 1 })).toThrow(/target.fraction \(sparsity\) must be a number in \[0, 1\), got 1/);
    expect(() => keepCountForTarget(mlp, names, { kind: 'sparsity', fraction: -0.1 })).toThrow(/target.fraction/);
    expect(() => keepCountForTarget(mlp, names, { kind: 'bogus' } as never)).toThrow(/target.kind must be "compression", "sparsity" or "n-of-m"/);
    expect(() => keepCountForTarget(mlp, ['nope.weight'], { kind: 'compression', ratio: 2 })).toThrow(/unknown parameter "nope.weight"/);
    expect(() => keepCountForTarget(mlp, ['fc1.weight', 'fc1.weight'], { kind: 'compression', ratio: 2 })).toThrow(/twice/);
  });

  it('works on a conv model with norm parameters', () => {
    const conv = createToyConvModel({ seed: 2 });
    const names = weightNames(conv);
    const counts = countPrunableParams(conv, names);
    expect(counts.prunable).toBe(72 + 216 + 18);
    expect(keepCountForTarget(conv, names, { kind: 'compression', ratio: 3 })).toBe(Math.round(counts.total / 3) - counts.nonPrunable);
    conv.dispose();
  });
});

describe('the layer-wise rounding convention', () => {
  it('sparsity s: each layer prunes round(s · nᵢ); the total kept is the sum over layers', () => {
    // fc1.weight has 8·16 = 128 weights, fc2.weight 16·3 = 48.
    const names = weightNames(mlp);
    expect(names).toEqual(['fc1.weight', 'fc2.weight']);
    const perLayer = layerKeepCountsForTarget(mlp, names, { kind: 'sparsity', fraction: 0.7 });
    // round(0.7 · 128) = round(89.6) = 90 pruned → 38 kept; round(0.7 · 48) = round(33.6) = 34 → 14 kept.
    expect(Object.fromEntries(perLayer)).toEqual({ 'fc1.weight': 38, 'fc2.weight': 14 });
    expect(keepCountForTarget(mlp, names, { kind: 'sparsity', fraction: 0.7 })).toBe(52);
    // Rounding per layer can differ from rounding the whole: round(0.7 · 176) = round(123.2) = 123 pruned → 53.
    expect(176 - Math.round(0.7 * 176)).toBe(53);
    // 0.5 · 128 = 64 and 0.5 · 48 = 24 exactly; 0.3 · 128 = 38.4 → 38 pruned, 0.3 · 48 = 14.4 → 14.
    expect(Object.fromEntries(layerKeepCountsForTarget(mlp, names, { kind: 'sparsity', fraction: 0.5 }))).toEqual({ 'fc1.weight': 64, 'fc2.weight': 24 });
    expect(Object.fromEntries(layerKeepCountsForTarget(mlp, names, { kind: 'sparsity', fraction: 0.3 }))).toEqual({ 'fc1.weight': 90, 'fc2.weight': 34 });
    expect(keepCountForTarget(mlp, names, { kind: 'sparsity', fraction: 0 })).toBe(176);
  });

  it('compression r: the global count K is spread over the layers by largest remainder', () => {
    const names = weightNames(mlp);
    // r = 5 → K = 20 kept: shares 20 · 128/176 = 14.55 and 20 · 48/176 = 5.45 → floors 14 + 5, the one left
    // goes to the larger remainder (fc1's .55).
    const perLayer = layerKeepCountsForTarget(mlp, names, { kind: 'compression', ratio: 5 });
    expect(Object.fromEntries(perLayer)).toEqual({ 'fc1.weight': 15, 'fc2.weight': 5 });
    expect([...perLayer.values()].reduce((a, b) => a + b, 0)).toBe(keepCountForTarget(mlp, names, { kind: 'compression', ratio: 5 }));
  });

  it('layer-wise masks built from these counts keep exactly them, and a global allocation the same total', async () => {
    const names = weightNames(mlp);
    const target = { kind: 'sparsity', fraction: 0.9 } as const;
    const counts = layerKeepCountsForTarget(mlp, names, target);
    const layerwise = await layerwiseMasks(magnitudeScores(mlp, names), { keepCounts: Object.fromEntries(counts) });
    for (const [name, count] of counts) expect(await countKept(new Map([[name, layerwise.get(name)!]]))).toBe(count);
    const global = await globalMasks(magnitudeScores(mlp, names), keepCountForTarget(mlp, names, target));
    expect(await countKept(global)).toBe(await countKept(layerwise));
    // 128 − round(115.2) = 13, 48 − round(43.2) = 5: sparsity reached (176 − 18) / 176.
    expect(await countKept(global)).toBe(18);
  });
});
