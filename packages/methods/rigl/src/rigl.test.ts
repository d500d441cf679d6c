import * as tf from '@tensorflow/tfjs';
import { countKept, keepCountForTarget } from '@prunebench/pruning';
import { createToyModel, SimpleBudgetedTrainer, testMethodContext, weightNames } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, { riglMethod } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('rigl', () => {
  it('has Evci et al.\'s defaults, regrows by the charged dense gradient and lands on the target', async () => {
    expect(defaultExport).toBe(riglMethod);
    expect(riglMethod.defaults).toMatchObject({ allocation: 'erk', dropFraction: 0.3, updateEvery: 12800, endFraction: 0.75, gradientBatch: 128, start: 'pretrained' });
    const model = createToyModel({ seed: 4 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 320, seed: 1 });
    const target = { kind: 'compression' as const, ratio: 3 };
    const result = await riglMethod.run(testMethodContext(riglMethod, { model, trainer, target, options: { updateEvery: 32, gradientBatch: 8 } }));
    const details = result.details as { updates: unknown[]; gradientExamples: number; trainExamples: number };
    expect(details.updates.length).toBeGreaterThan(0);
    expect(details.gradientExamples).toBe(8 * details.updates.length);
    expect(trainer.usedExamples()).toBe(details.trainExamples + details.gradientExamples);
    expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, weightNames(model), target));
    tf.dispose([...result.masks!.values()]);
    model.dispose();
  });
});
