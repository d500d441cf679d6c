import * as tf from '@tensorflow/tfjs';
import { countKept, keepCountForTarget } from '@prunebench/pruning';
import { createToyModel, SimpleBudgetedTrainer, testMethodContext, weightNames } from '@prunebench/pruning/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import defaultExport, { randomMethod } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function prune(options: Record<string, unknown>, ratio: number, seed = 0) {
  const model = createToyModel({ seed: 31 });
  const trainer = new SimpleBudgetedTrainer({ totalExamples: 160, seed: 1 });
  const target = { kind: 'compression' as const, ratio };
  const result = await randomMethod.run(testMethodContext(randomMethod, { model, trainer, target, options, seed }));
  return { model, trainer, result, keep: keepCountForTarget(model, weightNames(model), target) };
}

describe('random method', () => {
  it('keeps exactly the target count, spends the budget, and pruned weights stay zero', async () => {
    expect(defaultExport).toBe(randomMethod);
    const { model, trainer, result, keep } = await prune({}, 3);
    expect(await countKept(result.masks!)).toBe(keep);
    expect(trainer.usedExamples()).toBe(160);
    for (const [name, m] of result.masks!) {
      const w = model.params.get(name)!.dataSync();
      m.dataSync().forEach((v, i) => v === 0 && expect(w[i]).toBe(0));
    }
  });

  it('is random (seed-dependent) yet reproducible, and not magnitude-driven', async () => {
    const a = await prune({ finetune: false }, 2, 1);
    const b = await prune({ finetune: false }, 2, 1);
    const c = await prune({ finetune: false }, 2, 2);
    const flat = (r: typeof a) => [...r.result.masks!.values()].flatMap((m) => Array.from(m.dataSync()));
    expect(flat(a)).toEqual(flat(b));
    expect(flat(a)).not.toEqual(flat(c));
    expect(a.trainer.usedExamples()).toBe(0);
  });

  it('layerwise keeps the same sparsity in every layer within one weight', async () => {
    const { result, keep } = await prune({ allocation: 'layerwise' }, 2);
    const k1 = await countKept(new Map([['a', result.masks!.get('fc1.weight')!]]));
    const k2 = await countKept(new Map([['b', result.masks!.get('fc2.weight')!]]));
    expect(k1 + k2).toBe(keep);
    expect(Math.abs(k1 - (128 * keep) / 176)).toBeLessThan(1);
  });

  it('rejects bad options and FLOPs targets', async () => {
    expect(() => randomMethod.parseOptions({ allocation: 'uniform' })).toThrow(/random: option allocation/);
    expect(() => randomMethod.parseOptions({ finetune: 1 })).toThrow(/option finetune/);
    const model = createToyModel({ seed: 1 });
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 0 });
    const context = testMethodContext(randomMethod, { model, trainer, target: { kind: 'flops-reduction', fraction: 0.3 } });
    await expect(randomMethod.run(context)).rejects.toThrow(/flops-reduction/);
  });
});
