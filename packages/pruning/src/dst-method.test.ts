import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { DST_OPTIONS, RIGL_OPTIONS, defineDynamicSparseMethod, dstBudget } from './dst-method.js';
import { sparseLayerKeepCounts } from './dynamic-sparsity.js';
import { countKept } from './masks.js';
import { keepCountForTarget } from './target.js';
import { createToyModel, SimpleBudgetedTrainer, testMethodContext, weightNames } from './testing.js';
import type { Masks, TrainOptions, TrainSummary } from './types.js';

const riglMethod = defineDynamicSparseMethod({ name: 'rigl', description: 'test', grow: 'gradient', options: RIGL_OPTIONS });
const setMethod = defineDynamicSparseMethod({ name: 'set', description: 'test', grow: 'random', options: DST_OPTIONS });

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function keptPerLayer(masks: Masks): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, mask] of masks) out[name] = await countKept(new Map([[name, mask]]));
  return out;
}

/** Records, at every mask update, the kept count of each layer before and after and how many moved. */
class ObservingTrainer extends SimpleBudgetedTrainer {
  readonly updates: Array<{ before: Record<string, number>; after: Record<string, number>; changed: Record<string, { on: number; off: number }> }> = [];
  summary: TrainSummary | null = null;
  override async train(model: Model, options: TrainOptions): Promise<TrainSummary> {
    const hook = options.maskUpdate;
    const wrapped: TrainOptions = !hook ? options : {
      ...options,
      maskUpdate: {
        ...hook,
        update: async (event) => {
          const before = await keptPerLayer(event.masks);
          const next = await hook.update(event);
          if (next) {
            const changed: Record<string, { on: number; off: number }> = {};
            for (const [name, mask] of next) {
              const [a, b] = [await event.masks.get(name)!.data(), await mask.data()];
              let on = 0;
              let off = 0;
              for (let i = 0; i < a.length; i++) {
                if (a[i] === 0 && b[i] !== 0) on++;
                if (a[i] !== 0 && b[i] === 0) off++;
              }
              changed[name] = { on, off };
            }
            this.updates.push({ before, after: await keptPerLayer(next), changed });
          }
          return next;
        },
      },
    };
    this.summary = await super.train(model, wrapped);
    return this.summary;
  }
}

async function runDst(method: typeof riglMethod | typeof setMethod, options: Record<string, unknown>, budget: number, ratio = 4) {
  const model = createToyModel({ seed: 5, sizes: [8, 16, 16, 3] });
  const trainer = new ObservingTrainer({ totalExamples: budget, seed: 1 });
  const target = { kind: 'compression' as const, ratio };
  const context = testMethodContext(method as typeof riglMethod, { model, trainer, target, options });
  const result = await method.run(context as never);
  return { model, trainer, result, context, keep: keepCountForTarget(model, weightNames(model), target) };
}

describe('dynamic sparse training (rigl and set through defineDynamicSparseMethod)', () => {
  for (const method of [riglMethod, setMethod]) {
    it(`${method.name} keeps every layer's count exactly after every update and regrows exactly as many as it drops`, async () => {
      const { model, trainer, result, keep, context } = await runDst(method, { updateEvery: 32, dropFraction: 0.5, ...(method === riglMethod ? { gradientBatch: 16 } : {}) }, 640);
      const expected = Object.fromEntries(sparseLayerKeepCounts(model, weightNames(model), keep, 'erk'));
      expect(trainer.updates.length).toBeGreaterThan(3);
      for (const update of trainer.updates) {
        expect(update.before).toEqual(expected);
        expect(update.after).toEqual(expected);
        for (const { on, off } of Object.values(update.changed)) expect(on).toBe(off);
      }
      expect(Object.values(trainer.updates[0].changed).some((c) => c.on > 0)).toBe(true);
      expect(await countKept(result.masks!)).toBe(keep);
      expect(await keptPerLayer(result.masks!)).toEqual(expected);
      // Pruned weights are exactly zero at the end.
      for (const [name, mask] of result.masks!) {
        const [m, w] = [await mask.data(), await model.params.get(name)!.data()];
        m.forEach((v, i) => v === 0 && expect(Object.is(w[i], 0)).toBe(true));
      }
      const details = result.details as { updates: Array<{ moved: number; regrown: number }>; gradientExamples?: number; trainExamples: number };
      for (const u of details.updates) expect(u.regrown).toBe(u.moved);
      // The budget is spent: training plus (RigL) the charged gradient reads; RigL may leave less than one gradient batch.
      expect(trainer.usedExamples()).toBe(details.trainExamples + (details.gradientExamples ?? 0));
      expect(640 - trainer.usedExamples()).toBeLessThan(method === riglMethod ? 16 : 1);
      expect(trainer.usedExamples()).toBeLessThanOrEqual(640);
      if (method === riglMethod) expect(details.gradientExamples).toBe(16 * details.updates.length);
      else expect(details.gradientExamples).toBeUndefined();
      expect(context.messages.some((m) => m.includes(`${method.name} update 1/`))).toBe(true);
    });
  }

  it('the drop fraction decays on the cosine and stops at T_end; uniform allocation keeps the same sparsity per layer', async () => {
    const { result, model, keep } = await runDst(setMethod, { updateEvery: 64, allocation: 'uniform' }, 640);
    const details = result.details as { updates: Array<{ index: number; dropFraction: number }>; layerKeepCounts: Record<string, number> };
    // T_end = 0.75 · 640 = 480: updates at 64 … 448 (k = 1 … 7).
    expect(details.updates.map((u) => u.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    details.updates.forEach((u) => expect(u.dropFraction).toBeCloseTo(0.15 * (1 + Math.cos((Math.PI * u.index * 64) / 480)), 10));
    expect(details.layerKeepCounts).toEqual(Object.fromEntries(sparseLayerKeepCounts(model, weightNames(model), keep, 'uniform')));
  });

  it('budget: RigL trains what is left after its gradient reads, filling the budget where whole updates allow', () => {
    // 2560 examples, an update every 256 before 0.75 T: training 1920 has 5 updates (256 … 1280 < 1440) → 640 reads.
    expect(dstBudget(2560, { updateEvery: 256, endFraction: 0.75 }, 128)).toEqual({ examples: 1920, updates: 5, reserved: 640 });
    expect(dstBudget(2560, { updateEvery: 256, endFraction: 0.75 }, 0)).toEqual({ examples: 2560, updates: 7, reserved: 0 });
    expect(dstBudget(0, { updateEvery: 256, endFraction: 0.75 }, 128)).toEqual({ examples: 0, updates: 0, reserved: 0 });
  });

  it('random-init re-initialises and draws a random mask; rejects bad options and FLOPs targets', async () => {
    const { result, keep } = await runDst(riglMethod, { start: 'random-init', updateEvery: 64 }, 400);
    expect(await countKept(result.masks!)).toBe(keep);
    expect(() => riglMethod.parseOptions({ dropFraction: 0 })).toThrow(/rigl: option dropFraction/);
    expect(() => setMethod.parseOptions({ gradientBatch: 8 })).toThrow(/set: unknown option "gradientBatch"/);
    expect(() => setMethod.parseOptions({ allocation: 'global' })).toThrow(/option allocation/);
    expect(riglMethod.targetKinds).not.toContain('flops-reduction');
  });
});
