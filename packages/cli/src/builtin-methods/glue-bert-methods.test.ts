// The harness's GLUE BERT task with the built-in methods: every unstructured method to compression 2, and the
// structured ones (heads, FFN neurons, layers) to a FLOP target with real surgery, on the synthetic GLUE task.
// (The task's own tests, without methods, are packages/harness/src/tasks/glue-bert.test.ts.)
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@prunebench/engine';
import { RunStore, collectEnvironment, planSuite, runSuite, validateSuite } from '@prunebench/harness';
import {
  SYNTHETIC_GLUE_TASK_ID as TASK_ID,
  syntheticGlueEnvironment as environment,
  syntheticGlueTask as definition,
} from '@prunebench/harness/testing';
import { METHODS } from '../methods.js';

beforeAll(async () => {
  // wasm with the engine's training kernels (embedding gradients): several times faster than cpu for these steps
  await initEngine({ backend: 'wasm' });
});

describe('GLUE BERT tasks with the built-in methods', () => {
  it('runs every unstructured method (magnitude, random, lth, snip, safe) on BERT at compression 2', async () => {
    const env = environment();
    const tasks = new Map([[TASK_ID, definition]]);
    const suite = validateSuite({
      name: 'glue-synthetic',
      tasks: [TASK_ID],
      methods: ['magnitude', 'random', 'lth', 'snip', { name: 'safe', options: { batchSize: 8 } }],
      targets: [{ compression: 2 }],
      seeds: [0],
      budget: 192,
      flatness: { examples: 8 },
    }, { tasks, methods: METHODS });
    const { runs } = planSuite(suite, { tasks, methods: METHODS });
    const store = new RunStore(mkdtempSync(join(tmpdir(), 'glue-bert-store-')));
    const outcome = await runSuite({
      runs, store, environment: collectEnvironment({ backend: 'cpu', device: 'test', versions: {} }), taskEnvironment: env, chunkExamples: 32,
    });
    expect(outcome.failed.map((r) => `${r.description.method}: ${r.error}`)).toEqual([]);
    expect(outcome.completed.map((r) => r.description.method)).toEqual(['dense', 'magnitude', 'random', 'lth', 'snip', 'safe']);
    for (const record of outcome.completed.slice(1)) {
      expect(record.metrics.compressionRatio, record.description.method!).toBeGreaterThanOrEqual(2 * 0.995);
      expect(record.metrics.qualityName).toBe('accuracy');
      expect(record.budget.usedExamples).toBeLessThanOrEqual(192);
      expect(record.metrics.macs.effective).toBeLessThan(record.metrics.macs.dense);
      expect(Number.isFinite(record.metrics.flatness!.baseLoss)).toBe(true);
      expect(existsSync(join(store.runDir(record.id), 'model.safetensors'))).toBe(true);
    }
  });

  it('runs hrank and cka-hybrid on BERT (heads, FFN neurons, layers) to a FLOP target, with real surgery', async () => {
    const env = environment();
    const tasks = new Map([[TASK_ID, definition]]);
    const suite = validateSuite({
      name: 'glue-synthetic-structured',
      tasks: [TASK_ID],
      methods: [
        { name: 'hrank', options: { rankBatches: 2, rankBatchSize: 8 } },
        { name: 'cka-hybrid', options: { probeSize: 16, candidateExamples: 16 } },
      ],
      targets: [{ flopsReduction: 0.3 }],
      seeds: [0],
      budget: 192,
      flatness: false,
    }, { tasks, methods: METHODS });
    const { runs } = planSuite(suite, { tasks, methods: METHODS });
    const store = new RunStore(mkdtempSync(join(tmpdir(), 'glue-bert-structured-')));
    const outcome = await runSuite({
      runs, store, environment: collectEnvironment({ backend: 'cpu', device: 'test', versions: {} }), taskEnvironment: env, chunkExamples: 32,
    });
    expect(outcome.failed.map((r) => `${r.description.method}: ${r.error}`)).toEqual([]);
    const [dense, ...pruned] = outcome.completed;
    expect(pruned.map((r) => r.description.method)).toEqual(['hrank', 'cka-hybrid']);
    for (const record of pruned) {
      // The model really shrank: fewer parameters in total (not just zeros), MACs down by at least the target.
      expect(record.metrics.params.total, record.description.method).toBeLessThan(dense.metrics.params.total);
      expect(1 - record.metrics.macs.effective / record.metrics.macs.dense, record.description.method).toBeGreaterThanOrEqual(0.3 * 0.995);
      expect(record.budget.usedExamples).toBeLessThanOrEqual(192);
    }
  });
});
