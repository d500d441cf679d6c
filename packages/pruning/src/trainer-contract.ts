/**
 * The BudgetedTrainer contract as vitest tests, run against every implementation (the harness's trainer and each
 * test trainer), so they cannot drift apart. Not a test file itself: a test file calls
 * `describeBudgetedTrainerContract` (after setting its backend).
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import type { Model } from '@prunebench/models';
import { describe, expect, it } from 'vitest';
import { disposeBatch } from './batch.js';
import { lossAndGradients } from './loss.js';
import { getParam } from './masks.js';
import { BudgetExceededError, type BudgetedTrainer, type Masks } from './types.js';

export interface TrainerContractSetup {
  trainer: BudgetedTrainer;
  /** A fresh model the trainer can train (disposed by the contract). */
  model: Model;
  /** Parameters the masks test prunes (default: the conv2d and linear weights). */
  maskable?: readonly string[];
  /** Frees what else the setup made (the trainer's data). */
  dispose?: () => void;
}

export interface TrainerContractOptions {
  /** Examples per train call in the tests (default 24). */
  trainExamples?: number;
  /** Batch size for the gradients and sampleBatches tests (default 8). */
  batchSize?: number;
}

/**
 * Registers the contract's tests under `BudgetedTrainer contract: <name>`. `setup(totalExamples)` makes a trainer
 * with that budget and a fresh model; each test makes its own.
 */
export function describeBudgetedTrainerContract(
  name: string,
  setup: (totalExamples: number) => TrainerContractSetup | Promise<TrainerContractSetup>,
  options: TrainerContractOptions = {},
): void {
  const examples = options.trainExamples ?? 24;
  const batchSize = options.batchSize ?? 8;

  const withSetup = async (budget: number, body: (s: TrainerContractSetup) => Promise<void>) => {
    const s = await setup(budget);
    try {
      expect(s.trainer.totalExamples).toBe(budget);
      await body(s);
      expect(s.trainer.usedExamples() + s.trainer.remainingExamples()).toBe(budget);
    } finally {
      s.model.dispose();
      s.dispose?.();
    }
  };

  describe(`BudgetedTrainer contract: ${name}`, () => {
    it('train charges exactly the examples asked and reports them', async () => {
      await withSetup(2 * examples + 5, async ({ trainer, model }) => {
        expect(trainer.usedExamples()).toBe(0);
        const summary = await trainer.train(model, { examples, label: 'contract' });
        expect(trainer.usedExamples()).toBe(examples);
        expect(trainer.remainingExamples()).toBe(examples + 5);
        expect(summary.examples).toBe(examples);
        expect(summary.steps).toBeGreaterThanOrEqual(1);
        expect(summary.steps).toBeLessThanOrEqual(examples);
        expect(Number.isFinite(summary.finalLoss)).toBe(true);
        expect(summary.losses.length).toBeGreaterThanOrEqual(1);
        expect(summary.losses.every(Number.isFinite)).toBe(true);
        await trainer.train(model, { examples, lrScale: 0.5 });
        expect(trainer.usedExamples()).toBe(2 * examples);
      });
    });

    it('refuses a train call over the budget with BudgetExceededError before any work', async () => {
      await withSetup(examples, async ({ trainer, model, maskable }) => {
        const masks = everyThirdPruned(model, maskable);
        const before = await modelValues(model);
        const refused = await trainer.train(model, { examples: examples + 1, masks }).then(() => null, (e: unknown) => e);
        expect(refused).toBeInstanceOf(BudgetExceededError);
        expect(refused).toMatchObject({ requested: examples + 1, remaining: examples, total: examples });
        expect(trainer.usedExamples()).toBe(0);
        expectSameValues(await modelValues(model), before); // not even the masks were applied
        await trainer.train(model, { examples });
        expect(trainer.remainingExamples()).toBe(0);
        await expect(trainer.train(model, { examples: 1 })).rejects.toBeInstanceOf(BudgetExceededError);
        expect(trainer.usedExamples()).toBe(examples);
        tf.dispose([...masks.values()]);
      });
    });

    it('refuses examples that are not a positive integer, and lrScale <= 0, with an Error before any work', async () => {
      await withSetup(examples, async ({ trainer, model }) => {
        const before = await modelValues(model);
        for (const bad of [0, -8, 2.5, Number.NaN]) {
          const error = await trainer.train(model, { examples: bad }).then(() => null, (e: unknown) => e);
          expect(error, `examples: ${bad}`).toBeInstanceOf(Error);
          expect(error).not.toBeInstanceOf(BudgetExceededError);
          expect((error as Error).message).toMatch(/examples/);
        }
        for (const bad of [0, -1, Number.POSITIVE_INFINITY]) {
          await expect(trainer.train(model, { examples, lrScale: bad }), `lrScale: ${bad}`).rejects.toThrow(/lrScale/);
        }
        expect(trainer.usedExamples()).toBe(0);
        expectSameValues(await modelValues(model), before);
      });
    });

    it('keeps pruned weights exactly +0 through train, leaves the masks as they were, and trains the kept ones', async () => {
      await withSetup(examples, async ({ trainer, model, maskable }) => {
        const masks = everyThirdPruned(model, maskable);
        const before = await modelValues(model);
        await trainer.train(model, { examples, masks });
        let moved = 0;
        for (const [name, mask] of masks) {
          const m = await mask.data();
          const w = await getParam(model, name).data();
          const w0 = before.get(`param/${name}`)!;
          for (let i = 0; i < m.length; i++) {
            if (m[i] === 0) {
              if (!Object.is(w[i], 0)) expect.fail(`${name}[${i}] is ${w[i]} after training, its mask is 0`);
            } else if (w[i] !== w0[i]) moved++;
          }
          expect(Array.from(m).every((v, i) => v === (i % 3 === 0 ? 0 : 1)), `mask of ${name} unchanged`).toBe(true);
        }
        expect(moved).toBeGreaterThan(0);
        tf.dispose([...masks.values()]);
      });
    });

    it('gradients charges batch.size and returns the dense loss gradient of every parameter, changing no parameter', async () => {
      await withSetup(batchSize + batchSize - 1, async ({ trainer, model, maskable }) => {
        // Zeroed weights still get their gradient: the trainer masks nothing.
        const masks = everyThirdPruned(model, maskable);
        for (const [name, mask] of masks) tf.tidy(() => getParam(model, name).assign(tf.mul(getParam(model, name), mask)));
        const [batch] = trainer.sampleBatches(1, batchSize, new SeededRng(3));
        try {
          const before = await modelValues(model);
          const { loss, grads } = await trainer.gradients(model, batch);
          expect(trainer.usedExamples()).toBe(batchSize);
          expectSameValues(await modelValues(model), before, 'param/');
          expect(Number.isFinite(loss)).toBe(true);
          expect([...grads.keys()].sort()).toEqual([...model.params.keys()].sort());
          const reference = await lossAndGradients(model, batch);
          for (const [name, g] of grads) {
            expect(g.shape, name).toEqual(getParam(model, name).shape);
            const [got, want] = [await g.data(), await reference.grads.get(name)!.data()];
            let scale = 0;
            for (const v of want) scale = Math.max(scale, Math.abs(v));
            for (let i = 0; i < want.length; i++) {
              if (Math.abs(got[i] - want[i]) > 1e-5 * (1 + scale)) expect.fail(`${name}[${i}]: gradient ${got[i]}, the loss gradient is ${want[i]}`);
            }
          }
          let atZeroedWeights = 0;
          for (const [name, mask] of masks) {
            const m = await mask.data();
            const g = await grads.get(name)!.data();
            for (let i = 0; i < m.length; i++) if (m[i] === 0 && g[i] !== 0) atZeroedWeights++;
          }
          if (masks.size > 0) expect(atZeroedWeights).toBeGreaterThan(0);
          tf.dispose([...grads.values(), ...reference.grads.values(), ...masks.values()]);
          // Over the budget: refused before the pass, nothing charged.
          await expect(trainer.gradients(model, batch)).rejects.toBeInstanceOf(BudgetExceededError);
          expect(trainer.usedExamples()).toBe(batchSize);
        } finally {
          disposeBatch(batch);
        }
      });
    });

    it('maskUpdate: the hook runs for every k with k · every < examples, its masks apply at once and to the end, its charges are reserved', async () => {
      const every = examples / 3;
      await withSetup(examples + 2 * batchSize, async ({ trainer, model, maskable }) => {
        const masks = everyThirdPruned(model, maskable);
        const given = await maskValues(masks);
        const events: Array<{ index: number; examples: number; zeroedBefore: boolean }> = [];
        const summary = await trainer.train(model, {
          examples,
          masks,
          maskUpdate: {
            every,
            reservedExamples: 2 * batchSize,
            async update(event) {
              // The weights the current masks prune are +0 when the hook runs.
              let zeroed = true;
              for (const [name, mask] of event.masks) {
                const [m, w] = [await mask.data(), await getParam(event.model, name).data()];
                for (let i = 0; i < m.length; i++) if (m[i] === 0 && !Object.is(w[i], 0)) zeroed = false;
              }
              events.push({ index: event.index, examples: event.examples, zeroedBefore: zeroed });
              expect(event.totalExamples).toBe(examples);
              const [batch] = trainer.sampleBatches(1, batchSize, new SeededRng(event.index));
              try {
                const { grads } = await trainer.gradients(event.model, batch);
                tf.dispose([...grads.values()]);
              } finally {
                disposeBatch(batch);
              }
              return shiftedPruned(event.model, [...event.masks.keys()], event.index);
            },
          },
        });
        expect(events.map((e) => e.index)).toEqual([1, 2]);
        for (const e of events) {
          expect(e.examples).toBeGreaterThanOrEqual(e.index * every);
          expect(e.zeroedBefore).toBe(true);
        }
        expect(trainer.usedExamples()).toBe(examples + 2 * batchSize);
        expect(await maskValues(masks)).toEqual(given); // the caller's masks are untouched
        const final = summary.masks!;
        expect(await maskValues(final)).toEqual(await maskValues(shiftedPruned(model, [...masks.keys()], 2)));
        for (const [name, mask] of final) {
          const [m, w] = [await mask.data(), await getParam(model, name).data()];
          for (let i = 0; i < m.length; i++) if (m[i] === 0 && !Object.is(w[i], 0)) expect.fail(`${name}[${i}] is ${w[i]}, the last mask is 0`);
        }
        expect(summary.maskUpdates!.map((u) => u.index)).toEqual([1, 2]);
        for (const u of summary.maskUpdates!) expect(u.grown + u.dropped).toBeGreaterThan(0);
        tf.dispose([...masks.values(), ...final.values()]);
      });
    });

    it('maskUpdate: refuses reservedExamples over the budget before any work, and a hook without masks', async () => {
      await withSetup(examples, async ({ trainer, model, maskable }) => {
        const masks = everyThirdPruned(model, maskable);
        const before = await modelValues(model);
        let calls = 0;
        const maskUpdate = { every: 8, reservedExamples: 1, update: async () => { calls++; return undefined; } };
        const refused = await trainer.train(model, { examples, masks, maskUpdate }).then(() => null, (e: unknown) => e);
        expect(refused).toBeInstanceOf(BudgetExceededError);
        await expect(trainer.train(model, { examples, maskUpdate })).rejects.toThrow(/maskUpdate needs masks/);
        expect(trainer.usedExamples()).toBe(0);
        expect(calls).toBe(0);
        expectSameValues(await modelValues(model), before);
        tf.dispose([...masks.values()]);
      });
    });

    it('validate is not charged, changes no parameter or buffer, and is a deterministic score in [0, 1]', async () => {
      await withSetup(0, async ({ trainer, model }) => {
        const before = await modelValues(model);
        const score = await trainer.validate(model);
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(1);
        expect(await trainer.validate(model)).toBe(score);
        expectSameValues(await modelValues(model), before);
        expect(trainer.usedExamples()).toBe(0);
      });
    });

    it('sampleBatches is not charged and gives the batches asked, the same for the same seed', async () => {
      await withSetup(0, async ({ trainer }) => {
        const first = trainer.sampleBatches(2, batchSize, new SeededRng(5));
        const again = trainer.sampleBatches(2, batchSize, new SeededRng(5));
        try {
          expect(first).toHaveLength(2);
          for (const [i, batch] of first.entries()) {
            expect(batch.size).toBe(batchSize);
            expect(batch.labels.shape[0]).toBe(batchSize);
            expect(await batchValues(again[i])).toEqual(await batchValues(batch));
          }
          expect(trainer.usedExamples()).toBe(0);
        } finally {
          [...first, ...again].forEach(disposeBatch);
        }
      });
    });
  });
}

/** Masks over `names` (default: conv2d and linear weights) with every third entry pruned. */
function everyThirdPruned(model: Model, names?: readonly string[]): Masks {
  const chosen = names ?? [...model.paramKinds].filter(([, kind]) => kind === 'conv2d' || kind === 'linear').map(([name]) => name);
  const masks: Masks = new Map();
  for (const name of chosen) {
    const param = getParam(model, name);
    masks.set(name, tf.tensor(Float32Array.from({ length: param.size }, (_, i) => (i % 3 === 0 ? 0 : 1)), param.shape));
  }
  return masks;
}

/** Masks over `names` with the entries i ≡ shift (mod 3) pruned (the hook's k-th masks: shift k). */
function shiftedPruned(model: Model, names: readonly string[], shift: number): Masks {
  const masks: Masks = new Map();
  for (const name of names) {
    const param = getParam(model, name);
    masks.set(name, tf.tensor(Float32Array.from({ length: param.size }, (_, i) => (i % 3 === shift % 3 ? 0 : 1)), param.shape));
  }
  return masks;
}

async function maskValues(masks: Masks): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, mask] of masks) out[name] = Array.from(await mask.data());
  return out;
}

/** Copies of every parameter (`param/<name>`) and buffer (`buffer/<name>`). */
async function modelValues(model: Model): Promise<Map<string, Float32Array | Int32Array>> {
  const values = new Map<string, Float32Array | Int32Array>();
  for (const [kind, table] of [['param', model.params], ['buffer', model.buffers]] as const) {
    for (const [name, v] of table) values.set(`${kind}/${name}`, ((await v.data()) as Float32Array | Int32Array).slice());
  }
  return values;
}

function expectSameValues(now: Map<string, Float32Array | Int32Array>, before: Map<string, Float32Array | Int32Array>, prefix = ''): void {
  for (const [key, values] of before) {
    if (!key.startsWith(prefix)) continue;
    const current = now.get(key)!;
    for (let i = 0; i < values.length; i++) if (!Object.is(current[i], values[i])) expect.fail(`${key}[${i}] changed from ${values[i]} to ${current[i]}`);
  }
}

async function batchValues(batch: { inputs: tf.Tensor | Record<string, tf.Tensor>; labels: tf.Tensor }): Promise<unknown> {
  const inputs = batch.inputs instanceof tf.Tensor ? { input: batch.inputs } : batch.inputs;
  const out: Record<string, number[]> = { labels: Array.from(await batch.labels.data()) };
  for (const [key, t] of Object.entries(inputs)) out[key] = Array.from(await t.data());
  return out;
}
