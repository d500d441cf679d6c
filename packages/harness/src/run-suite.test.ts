import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectEnvironment } from './environment.js';
import { RunInterruptedError } from './errors.js';
import { mergeStores } from './merge.js';
import { createMethodRegistry } from './methods.js';
import { planSuite, shardRuns, type PlannedRun } from './plan.js';
import type { RunRecord } from './record.js';
import { runSuite } from './run-suite.js';
import { RunStore } from './store.js';
import { validateSuite } from './suite.js';
import { fakeGreedy, fakeIterativeMagnitude } from './testing/fake-methods.js';
import { fakeTask, type FakeTaskFaults } from './testing/fake-task.js';
import { defineScoreMethod, magnitudeScores } from '@prunebench/pruning';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SUITE = {
  name: 'fake-smoke',
  tasks: [{ id: 'fake-blobs', testSize: 30 }],
  methods: ['fake-iterative', 'fake-greedy'],
  targets: [{ compression: 2 }, { compression: 4 }],
  seeds: [5],
  budget: 48,
};

function setup(faults: FakeTaskFaults = { batchesDrawn: 0 }, suiteJson: object = SUITE) {
  const registries = { tasks: new Map([['fake-blobs', fakeTask('fake-blobs', faults)]]), methods: createMethodRegistry([fakeIterativeMagnitude, fakeGreedy]) };
  return planSuite(validateSuite(suiteJson, registries), registries).runs;
}

const environment = collectEnvironment({ backend: 'cpu', device: 'test', versions: {} });

function execute(runs: PlannedRun[], store: RunStore, extra: { signal?: AbortSignal; onExamples?: (used: number) => void } = {}) {
  return runSuite({
    runs, store, environment, taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 8, signal: extra.signal,
    progress: { runProgress: (_run, used) => extra.onExamples?.(used) },
  });
}

const newStore = () => new RunStore(mkdtempSync(join(tmpdir(), 'prunebench-store-')));
const byId = (records: RunRecord[]) => Object.fromEntries(records.map((r) => [r.id, r]));
const comparable = (r: RunRecord) => ({ status: r.status, metrics: r.metrics, layerDensity: r.layerDensity, budget: r.budget, error: r.error });

describe('runSuite', () => {
  it('records every run, keeps budgets, fails the over-spender, and repeats exactly with the same seed', async () => {
    const runs = setup();
    const store = newStore();
    const outcome = await execute(runs, store);
    expect(outcome.completed.map((r) => r.description.method)).toEqual(['dense', 'fake-iterative', 'fake-iterative']);
    expect(outcome.failed.map((r) => r.description.method)).toEqual(['fake-greedy', 'fake-greedy']);
    expect(outcome.failed[0].error).toMatch(/^BudgetExceededError: training budget exceeded: requested 49 examples, 48 of 48 remain/);
    for (const record of [...outcome.completed, ...outcome.failed]) {
      expect(record.budget.usedExamples).toBeLessThanOrEqual(record.budget.totalExamples);
      expect(store.state(record.id)).toBe(record.status);
    }
    const [dense, c2, c4] = outcome.completed;
    expect(dense.budget).toEqual({ totalExamples: 0, usedExamples: 0 });
    expect(c2.budget.usedExamples).toBe(48);
    // ShrinkBench's ratio over all 67 parameters, rounded to whole weights: 34 and 17 nonzero.
    expect(c2.metrics.params).toEqual({ total: 67, prunable: 56, nonzero: 34, nonzeroPrunable: 23 });
    expect(c4.metrics.params.nonzero).toBe(17);
    expect(c4.metrics.compressionRatio).toBeCloseTo(67 / 17);
    expect(c4.metrics.macs.effective).toBeLessThan(c4.metrics.macs.dense);
    expect(c4.layerDensity['fc1.weight']).toBeLessThan(1);
    // Flatness on the 24 validation blobs, every run: perturbing can only be measured, never NaN.
    for (const record of outcome.completed) {
      const f = record.metrics.flatness!;
      expect(f).toMatchObject({ radius: 0.05, examples: 24, samples: 3, gradientRadius: 0.005 });
      expect(Number.isFinite(f.baseLoss) && Number.isFinite(f.lossIncrease) && Number.isFinite(f.worstCaseLossIncrease)).toBe(true);
      // A step up the gradient cannot lower the loss (first order) for a model that still learns.
      expect(f.worstCaseLossIncrease).toBeGreaterThanOrEqual(0);
    }
    expect(dense.metrics.flatness!.worstCaseLossIncrease).toBeGreaterThan(0);
    expect(store.readLog(c2.id).map((row) => row.call)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(existsSync(join(store.runDir(c2.id), 'checkpoint'))).toBe(false); // dropped once completed

    const again = newStore();
    await execute(setup(), again);
    expect(again.records().map(comparable)).toEqual(store.records().map(comparable));

    const rerun = await execute(runs, store);
    expect(rerun.skipped).toHaveLength(3);
    expect(rerun.completed).toHaveLength(0);
  });

  it('resumes a killed run from its checkpoint without redoing finished runs or corrupting records', async () => {
    const reference = newStore();
    await execute(setup(), reference);

    const store = newStore();
    const runs = setup();
    const abort = new AbortController();
    const killed = execute(runs, store, { signal: abort.signal, onExamples: (used) => { if (used >= 32) abort.abort(); } });
    await expect(killed).rejects.toBeInstanceOf(RunInterruptedError);
    // Killed in round 2 of the first pruned run: dense completed, the pruned run has checkpoints and no record.
    const [dense, first] = runs;
    expect(store.state(dense.id)).toBe('completed');
    expect(store.state(first.id)).toBe('interrupted');
    expect(store.hasCheckpoints(first.id)).toBe(true);
    const denseRecord = JSON.stringify(store.readRecord(dense.id));

    const seen: number[] = [];
    const resumed = await execute(runs, store, { onExamples: (used) => seen.push(used) });
    expect(seen[0]).toBe(24); // round 1 restored from its checkpoint, not retrained
    expect(resumed.skipped).toEqual([dense.id]);
    expect(JSON.stringify(store.readRecord(dense.id))).toBe(denseRecord);
    const record = store.readRecord(first.id);
    expect(record.resumed).toBe(true);
    expect(comparable(record)).toEqual(comparable(reference.readRecord(first.id)));
    expect(store.readLog(first.id)).toHaveLength(6);
    expect(byId(store.records())).toEqual(expect.objectContaining({ [first.id]: expect.objectContaining({ status: 'completed' }) }));
    for (const id of store.ids()) expect(readdirSync(store.runDir(id)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('records a crashed run as failed, goes on, and completes it from its checkpoint next time', async () => {
    const faults: FakeTaskFaults = { batchesDrawn: 0, killAfterBatches: 4 };
    const runs = setup(faults);
    const store = newStore();
    const outcome = await execute(runs, store);
    expect(outcome.failed.map((r) => [r.description.method, r.error?.slice(0, 22)])).toContainEqual(['fake-iterative', 'Error: simulated kill']);
    expect(outcome.completed.map((r) => r.description.method)).toEqual(['dense']);
    faults.killAfterBatches = undefined;
    const again = await execute(runs, store);
    expect(again.completed.map((r) => r.description.method)).toEqual(['fake-iterative', 'fake-iterative']);
    expect(again.completed[0].resumed).toBe(true);
  });

  it('records a NaN loss as a failed run without touching the others', async () => {
    const store = newStore();
    const outcome = await execute(setup({ batchesDrawn: 0, nanAfterBatches: 2 }), store);
    const nan = outcome.failed.filter((r) => r.description.method === 'fake-iterative');
    expect(nan).toHaveLength(2);
    expect(nan[0].error).toMatch(/NonFiniteLossError: training loss became (NaN|Infinity)/);
    expect(store.readRecord(outcome.completed[0].id).status).toBe('completed');
  });

  it('merges shard stores into one with every run exactly once', async () => {
    const runs = setup();
    const shards = [newStore(), newStore()];
    await execute(shardRuns(runs, { index: 1, count: 2 }), shards[0]);
    await execute(shardRuns(runs, { index: 2, count: 2 }), shards[1]);
    const merged = newStore();
    const outcome = mergeStores(shards.map((s) => s.root), merged.root);
    expect(outcome.copied.sort()).toEqual(runs.map((r) => r.id).sort());
    expect(merged.records()).toHaveLength(runs.length);
    const single = newStore();
    await execute(runs, single);
    expect(merged.records().map(comparable)).toEqual(single.records().map(comparable));
    const twice = mergeStores([shards[0].root], merged.root);
    expect(twice.copied).toEqual([]);
    expect(twice.kept.length).toBe(shards[0].ids().length);
  });

  it('an N:M target: planned from { "nm": "2:4" }, reached, and the pattern recorded as checked on the final weights', async () => {
    const magnitude = defineScoreMethod({ name: 'fake-magnitude', description: '|w| (tests only)', options: {}, score: ({ model }, names) => magnitudeScores(model, names) });
    const registries = { tasks: new Map([['fake-blobs', fakeTask('fake-blobs', { batchesDrawn: 0 })]]), methods: createMethodRegistry([magnitude, fakeIterativeMagnitude]) };
    const suite = { ...SUITE, methods: ['fake-magnitude', 'fake-iterative'], targets: [{ nm: '2:4' }] };
    const plan = planSuite(validateSuite(suite, registries), registries);
    expect(plan.runs.map((r) => r.description.target)).toEqual([null, { kind: 'n-of-m', n: 2, m: 4 }]);
    expect(plan.skipped).toEqual(['fake-blobs × fake-iterative × 2:4: fake-iterative accepts only compression, sparsity targets']);
    const outcome = await execute(plan.runs, newStore());
    const run = outcome.completed.find((r) => r.description.method === 'fake-magnitude')!;
    expect(run.metrics.nmPattern).toEqual({ pattern: '2:4', eligibleLayers: 2, groups: 8 + 6, violations: 0, denseLayers: [] });
    expect(run.metrics.params.nonzeroPrunable).toBe(28);
    expect(() => validateSuite({ ...suite, targets: [{ nm: '3:2' }] }, registries)).toThrow(/suite\.targets\[0\]\.nm: must have 1 ≤ N < M ≤ 32, got "3:2"/);
  });

  it('records the layer reconstruction error of unstructured runs when the suite asks, and not of the dense row', async () => {
    const registries = { tasks: new Map([['fake-blobs', fakeTask('fake-blobs', { batchesDrawn: 0 })]]), methods: createMethodRegistry([fakeIterativeMagnitude]) };
    const suite = { ...SUITE, methods: ['fake-iterative'], targets: [{ compression: 2 }], reconstruction: { examples: 20 } };
    const plan = planSuite(validateSuite(suite, registries), registries);
    expect(plan.runs.map((r) => r.description.reconstruction)).toEqual([undefined, { examples: 20 }]);
    const outcome = await execute(plan.runs, newStore());
    expect(outcome.failed.map((r) => r.error)).toEqual([]);
    const [dense, pruned] = outcome.completed;
    expect(dense.metrics.reconstruction).toBeUndefined();
    const r = pruned.metrics.reconstruction!;
    expect(r.examples).toBe(20);
    expect(Object.keys(r.perLayer)).toEqual(['fc1.weight', 'fc2.weight']);
    expect(r.sum).toBeCloseTo(r.perLayer['fc1.weight'] + r.perLayer['fc2.weight'], 12);
    expect(r.perLayer['fc1.weight']).toBeGreaterThan(0);
    expect(() => validateSuite({ ...suite, reconstruction: { examples: 0 } }, registries)).toThrow(/suite\.reconstruction\.examples: must be an integer in \[1, 100000\], got 0/);
    // Without the field the run descriptions, and so the ids, are those of before.
    expect(planSuite(validateSuite({ ...suite, reconstruction: undefined }, registries), registries).runs[1].description).not.toHaveProperty('reconstruction');
  });
});
