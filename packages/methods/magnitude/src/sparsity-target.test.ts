// Magnitude pruning to a sparsity target: layer-wise allocation prunes round(s · nᵢ) in every layer.
import * as tf from '@tensorflow/tfjs';
import { countKept, keepCountForTarget, layerKeepCountsForTarget } from '@prunebench/pruning';
import { createToyConvModel, SimpleBudgetedTrainer, testMethodContext } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { magnitudeMethod } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const sparsity = (fraction: number) => ({ kind: 'sparsity' as const, fraction });

async function pruneToSparsity(options: Record<string, unknown>, fraction: number) {
  const model = createToyConvModel({ seed: 5 });
  const trainer = new SimpleBudgetedTrainer({ totalExamples: 96, seed: 4 });
  const context = testMethodContext(magnitudeMethod, { model, trainer, target: sparsity(fraction), options });
  const result = await magnitudeMethod.run(context);
  const kept: Record<string, number> = {};
  for (const [name, mask] of result.masks!) kept[name] = await countKept(new Map([[name, mask]]));
  const expected = Object.fromEntries(layerKeepCountsForTarget(model, context.prunable, sparsity(fraction)));
  const total = keepCountForTarget(model, context.prunable, sparsity(fraction));
  model.dispose();
  return { kept, expected, total };
}

describe('magnitude with a sparsity target', () => {
  it('accepts sparsity targets', () => {
    expect(magnitudeMethod.targetKinds).toContain('sparsity');
  });

  for (const schedule of ['one-shot', 'iterative', 'cubic'] as const) {
    it(`layer-wise, ${schedule}: every layer keeps nᵢ − round(s · nᵢ)`, async () => {
      const { kept, expected } = await pruneToSparsity({ allocation: 'layerwise', schedule }, 0.7);
      expect(kept).toEqual(expected);
    });
  }

  it('global: the same total, spread by one threshold', async () => {
    const { kept, total } = await pruneToSparsity({ allocation: 'global' }, 0.9);
    expect(Object.values(kept).reduce((a, b) => a + b, 0)).toBe(total);
  });
});
