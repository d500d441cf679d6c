import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { defineMethod, disposeBatch, disposeScores, globalMasks, keepCountForTarget, magnitudeScores, type BudgetedTrainer } from '@prunebench/pruning';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectEnvironment } from './environment.js';
import { createMethodRegistry } from './methods.js';
import { PhaseClock, RUN_PHASES, timedTrainer } from './phases.js';
import { planSuite } from './plan.js';
import { recordDefect } from './record-validation.js';
import { runSuite } from './run-suite.js';
import { RunStore } from './store.js';
import { validateSuite } from './suite.js';
import { fakeTask } from './testing/fake-task.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A clock that only moves when told: every timed call below advances it by a known amount. */
function manualClock() {
  let t = 0;
  return { now: () => t, advance: (seconds: number) => { t += seconds; } };
}

describe('PhaseClock', () => {
  it('charges each phase its own time, less the phases inside it, and keeps every phase in its totals', async () => {
    const time = manualClock();
    const clock = new PhaseClock(time.now);
    await clock.time('load', () => time.advance(1));
    await clock.time('method', async () => {
      time.advance(0.5);
      await clock.time('train', async () => {
        time.advance(3);
        await clock.time('gradients', () => time.advance(2));
      });
      time.advance(0.25);
    });
    // A phase that throws is still charged.
    await expect(clock.time('evaluation', () => { time.advance(4); throw new Error('boom'); })).rejects.toThrow('boom');
    const totals = clock.totals();
    expect(Object.keys(totals).sort()).toEqual(Object.keys(RUN_PHASES).sort());
    expect(totals).toMatchObject({ load: 1, method: 0.75, train: 3, gradients: 2, evaluation: 4, flatness: 0, export: 0 });
    const sum = Object.values(totals).reduce((a, b) => a + b, 0);
    expect(sum).toBe(10.75);
  });
});

describe('timedTrainer', () => {
  it('passes every call through and times train, gradients (also from inside train, as a mask-update hook) and validate', async () => {
    const time = manualClock();
    const clock = new PhaseClock(time.now);
    const calls: string[] = [];
    const inner: BudgetedTrainer = {
      totalExamples: 100,
      usedExamples: () => 40,
      remainingExamples: () => 60,
      async train(model, options) {
        calls.push(`train ${options.examples}`);
        time.advance(5);
        await wrapped.gradients(model, { inputs: tf.zeros([1]), labels: tf.zeros([1]), size: 1 });
        return { steps: 1, compiledSteps: 0, examples: options.examples, finalLoss: 0.5, losses: [0.5] };
      },
      async gradients(_model, batch) {
        calls.push(`gradients ${batch.size}`);
        disposeBatch(batch);
        time.advance(2);
        return { loss: 1, grads: new Map() };
      },
      sampleBatches(count, batchSize) {
        calls.push(`sample ${count}x${batchSize}`);
        time.advance(0.5);
        return [];
      },
      async validate() {
        calls.push('validate');
        time.advance(7);
        return 0.9;
      },
    };
    const wrapped = timedTrainer(inner, clock);
    const model = {} as never;
    expect([wrapped.totalExamples, wrapped.usedExamples(), wrapped.remainingExamples()]).toEqual([100, 40, 60]);
    const summary = await clock.time('method', async () => {
      wrapped.sampleBatches(2, 8, new SeededRng(1));
      const summary = await wrapped.train(model, { examples: 12 });
      expect(await wrapped.validate(model)).toBe(0.9);
      return summary;
    });
    expect(summary.examples).toBe(12);
    expect(calls).toEqual(['sample 2x8', 'train 12', 'gradients 1', 'validate']);
    // sampling counts as the method's own work; the hook's gradient call is out of train's seconds
    expect(clock.totals()).toMatchObject({ method: 0.5, train: 5, gradients: 2, validate: 7 });
  });
});

const gradientsThenTrain = defineMethod({
  name: 'fake-gradients',
  description: 'one gradient call, one validation, global magnitude masks, then one train call (tests only)',
  structured: false,
  targetKinds: ['compression'],
  options: {},
  async run({ model, trainer, target, prunable }) {
    const [batch] = trainer.sampleBatches(1, 8, new SeededRng(3));
    const { grads } = await trainer.gradients(model, batch);
    disposeBatch(batch);
    tf.dispose([...grads.values()]);
    await trainer.validate(model);
    const scores = magnitudeScores(model, prunable);
    const masks = await globalMasks(scores, keepCountForTarget(model, prunable, target));
    disposeScores(scores);
    await trainer.train(model, { examples: trainer.remainingExamples(), masks });
    return { model, masks };
  },
});

describe('a run record\'s phaseSeconds', () => {
  it('has every phase, the method\'s calls apart, summing to no more than the wall time; validation refuses a bad one', async () => {
    const registries = { tasks: new Map([['fake-blobs', fakeTask('fake-blobs')]]), methods: createMethodRegistry([gradientsThenTrain]) };
    const suite = { name: 'phases', tasks: ['fake-blobs'], methods: ['fake-gradients'], targets: [{ compression: 2 }], seeds: [0], budget: 40 };
    const { runs } = planSuite(validateSuite(suite, registries), registries);
    const store = new RunStore(mkdtempSync(join(tmpdir(), 'prunebench-phases-')));
    const outcome = await runSuite({
      runs, store, environment: collectEnvironment({ backend: 'cpu', device: 'test', versions: {} }),
      taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 16,
    });
    expect(outcome.failed).toEqual([]);
    const [dense, pruned] = outcome.completed;
    for (const record of [dense, pruned]) {
      const phases = record.phaseSeconds!;
      expect(Object.keys(phases).sort()).toEqual(Object.keys(RUN_PHASES).sort());
      for (const phase of ['load', 'evaluation', 'flatness', 'export'] as const) expect(phases[phase], phase).toBeGreaterThan(0);
      expect(phases.latency + phases.quantization + phases.reconstruction).toBe(0);
      const sum = Object.values(phases).reduce((a, b) => a + b, 0);
      expect(sum).toBeLessThanOrEqual(record.wallTimeSeconds + 1e-3);
      expect(recordDefect(store.readRecord(record.id), record.id)).toBeNull();
    }
    expect(dense.phaseSeconds).toMatchObject({ train: 0, gradients: 0, validate: 0, method: 0 });
    for (const phase of ['train', 'gradients', 'validate', 'method'] as const) expect(pruned.phaseSeconds![phase], phase).toBeGreaterThan(0);
    // The trainer's own figure is its loop, inside the train phase's.
    expect(pruned.training!.seconds).toBeLessThanOrEqual(pruned.phaseSeconds!.train + 1e-3);

    const bad = (phaseSeconds: unknown) => recordDefect({ ...pruned, phaseSeconds }, pruned.id);
    expect(bad({ ...pruned.phaseSeconds, flatness: -1 })).toBe('"phaseSeconds.flatness" must be a finite number of seconds >= 0 (got -1)');
    expect(bad({ ...pruned.phaseSeconds, train: null })).toBe('"phaseSeconds.train" must be a finite number of seconds >= 0 (got null)');
    expect(bad([1, 2])).toBe('"phaseSeconds" must be an object of seconds (got [1,2])');
    // a phase a later version adds is fine; old records without the field are too
    expect(bad({ ...pruned.phaseSeconds, someNewPhase: 2 })).toBeNull();
    // and the trainer's figures beside them
    const badTraining = (training: unknown) => recordDefect({ ...pruned, training }, pruned.id);
    expect(badTraining(pruned.training)).toBeNull();
    expect(badTraining({ ...pruned.training, batchSeconds: undefined })).toBeNull();
    expect(badTraining({ ...pruned.training, batchSeconds: Number.NaN })).toBe('"training.batchSeconds" must be a finite number of seconds >= 0 (got NaN)');
    expect(badTraining({ ...pruned.training, compiledSteps: 1.5 })).toBe('"training.compiledSteps" must be an integer >= 0 (got 1.5)');
    expect(badTraining('fast')).toBe('"training" must be an object (got "fast")');
    expect(bad(undefined)).toBeNull();
  });
});
