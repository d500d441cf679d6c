import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalMasks } from './allocation.js';
import { magnitudeScores } from './scores.js';
import { compressionRatio, countParams, keepCountForTarget } from './target.js';
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
    expect(countParams(mlp, names)).toEqual({ total: 195, prunable: 176, nonPrunable: 19 });
    // r = 5 → 39 nonzero in total → 20 prunable weights kept.
    expect(keepCountForTarget(mlp, names, { kind: 'compression', ratio: 5 })).toBe(20);
    expect(keepCountForTarget(mlp, names, { kind: 'compression', ratio: 1 })).toBe(176);
  });

  it('achieves the ratio on the resulting masks', () => {
    const names = weightNames(mlp);
    for (const ratio of [1.5, 2, 4, 8]) {
      const keep = keepCountForTarget(mlp, names, { kind: 'compression', ratio });
      const masks = globalMasks(magnitudeScores(mlp, names), keep);
      // Within one weight of the exact ratio.
      const achieved = compressionRatio(mlp, names, masks);
      expect(Math.abs(195 / achieved - 195 / ratio)).toBeLessThanOrEqual(0.5);
    }
  });

  it('errors clearly when the ratio is unreachable or malformed', () => {
    const names = weightNames(mlp);
    expect(() => keepCountForTarget(mlp, names, { kind: 'compression', ratio: 20 })).toThrow(/target.ratio 20 is unreachable.*highest reachable compression is 9.750/);
    expect(() => keepCountForTarget(mlp, names, { kind: 'compression', ratio: 0.5 })).toThrow(/target.ratio/);
    expect(() => keepCountForTarget(mlp, names, { kind: 'flops-reduction', fraction: 0.5 })).toThrow(/flops-reduction/);
    expect(() => keepCountForTarget(mlp, ['nope.weight'], { kind: 'compression', ratio: 2 })).toThrow(/unknown parameter "nope.weight"/);
    expect(() => keepCountForTarget(mlp, ['fc1.weight', 'fc1.weight'], { kind: 'compression', ratio: 2 })).toThrow(/twice/);
  });

  it('works on a conv model with norm parameters', () => {
    const conv = createToyConvModel({ seed: 2 });
    const names = weightNames(conv);
    const counts = countParams(conv, names);
    expect(counts.prunable).toBe(72 + 216 + 18);
    expect(keepCountForTarget(conv, names, { kind: 'compression', ratio: 3 })).toBe(Math.round(counts.total / 3) - counts.nonPrunable);
    conv.dispose();
  });
});
