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

describe('set: the start option', () => {
  /** The toy model's weights before the run, the run's masks and its final weights, with no training (budget 0). */
  async function start(startFrom: 'pretrained' | 'random-init', seed = 0) {
    const model = createToyModel({ seed: 4 });
    const names = weightNames(model);
    const before = new Map(names.map((n) => [n, Array.from(model.params.get(n)!.dataSync())]));
    const trainer = new SimpleBudgetedTrainer({ totalExamples: 0, seed: 1 });
    const target = { kind: 'compression' as const, ratio: 3 };
    const result = await setMethod.run(testMethodContext(setMethod, { model, trainer, target, options: { start: startFrom }, seed }));
    const masks = new Map([...result.masks!].map(([n, m]) => [n, Array.from(m.dataSync())]));
    const after = new Map(names.map((n) => [n, Array.from(model.params.get(n)!.dataSync())]));
    expect((result.details as { start: string }).start).toBe(startFrom);
    expect(await countKept(result.masks!)).toBe(keepCountForTarget(model, names, target));
    tf.dispose([...result.masks!.values()]);
    model.dispose();
    return { names, before, masks, after };
  }

  it('pretrained keeps the starting weights and each layer\'s largest; random-init re-initialises them and draws the mask at random', async () => {
    const pre = await start('pretrained');
    for (const n of pre.names) {
      const mask = pre.masks.get(n)!;
      const kept = pre.before.get(n)!.filter((_, i) => mask[i] !== 0).map(Math.abs);
      const dropped = pre.before.get(n)!.filter((_, i) => mask[i] === 0).map(Math.abs);
      if (dropped.length > 0) expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...dropped));
      pre.after.get(n)!.forEach((v, i) => expect(v).toBe(mask[i] !== 0 ? pre.before.get(n)![i] : 0));
    }
    const rnd = await start('random-init');
    const flat = (m: Map<string, number[]>) => rnd.names.flatMap((n) => m.get(n)!);
    expect(rnd.before).toEqual(pre.before); // the same starting model
    // every kept weight is new (re-initialised), and the mask is not the starting weights' magnitude mask
    for (const n of rnd.names) rnd.after.get(n)!.forEach((v, i) => { if (rnd.masks.get(n)![i] !== 0) expect(v).not.toBe(rnd.before.get(n)![i]); });
    expect(flat(rnd.masks)).not.toEqual(flat(pre.masks));
    // the per-layer kept counts are the allocation's, whatever the start
    for (const n of rnd.names) expect(rnd.masks.get(n)!.filter((v) => v !== 0).length).toBe(pre.masks.get(n)!.filter((v) => v !== 0).length);
    // the random mask and weights follow the run's seed
    const again = await start('random-init');
    expect(flat(again.masks)).toEqual(flat(rnd.masks));
    expect(flat(again.after)).toEqual(flat(rnd.after));
    expect(flat((await start('random-init', 1)).masks)).not.toEqual(flat(rnd.masks));
  });
});
