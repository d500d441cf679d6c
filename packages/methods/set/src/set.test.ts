import * as tf from '@tensorflow/tfjs';
import { countKept, keepCountForTarget } from '@prunebench/pruning';
import { createToyModel, SimpleBudgetedTrainer, testMethodContext, weightNames } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, { setMethod } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function masksOf(seed: number): Promise<number[]> {
  const model = createToyModel({ seed: 4 });
  const trainer = new SimpleBudgetedTrainer({ totalExamples: 320, seed: 1 });
  const target = { kind: 'compression' as const, ratio: 3 };
  const result = await setMethod.run(testMethodContext(setMethod, { model, trainer, target, options: { updateEvery: 32 }, seed }));
  expect(trainer.usedExamples()).toBe(320); // no gradient reads: the whole budget trains
  expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, weightNames(model), target));
  const values = [...result.masks!.values()].flatMap((m) => Array.from(m.dataSync()));
  tf.dispose([...result.masks!.values()]);
  model.dispose();
  return values;
}

describe('set', () => {
  it('regrows at random from the run\'s seed: the same seed the same masks, and the whole budget trains', async () => {
    expect(defaultExport).toBe(setMethod);
    expect(setMethod.defaults).not.toHaveProperty('gradientBatch');
    const a = await masksOf(0);
    expect(await masksOf(0)).toEqual(a);
    expect(await masksOf(1)).not.toEqual(a);
  });
});
