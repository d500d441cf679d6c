// Every unstructured method keeps a 2× pruned BERT-tiny (its real layer sizes, a small vocabulary) above chance on a
// small balanced task (the synthetic SST-2: label 1 iff a positive word occurs), with the harness's own recipe and
// each method's defaults for BERT. Chance is 0.5; the dense model reaches ~1. (This task is easy enough that SAFE
// with its CIFAR SGD stays above chance too: the SST-2 collapse needs the real vocabulary; reports/glue-sst2-bert-tiny-safe
// shows SAFE's BERT defaults there.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@prunebench/engine';
import { RunStore, collectEnvironment, planSuite, runSuite, validateSuite } from '@prunebench/harness';
import { syntheticGlueBertTinyTask, syntheticGlueEnvironment } from '@prunebench/harness/testing';
import { METHODS } from '../methods.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

describe('BERT-tiny at 2x on a small task', () => {
  it('every unstructured method stays above chance (SAFE with its BERT defaults included)', async () => {
    const tasks = new Map([[syntheticGlueBertTinyTask.id, syntheticGlueBertTinyTask]]);
    const suite = validateSuite({
      name: 'bert-tiny-above-chance',
      tasks: [syntheticGlueBertTinyTask.id],
      methods: ['magnitude', 'random', 'lth', { name: 'snip', options: { batchSize: 16 } }, { name: 'safe', options: { batchSize: 16 } }],
      targets: [{ compression: 2 }],
      seeds: [0],
      budget: 256,
      flatness: false,
    }, { tasks, methods: METHODS });
    const { runs } = planSuite(suite, { tasks, methods: METHODS });
    const outcome = await runSuite({
      runs, store: new RunStore(mkdtempSync(join(tmpdir(), 'bert-tiny-chance-'))), taskEnvironment: syntheticGlueEnvironment({ train: 400, dev: 64 }),
      environment: collectEnvironment({ backend: 'wasm', device: 'test', versions: {} }), chunkExamples: 64,
    });
    expect(outcome.failed.map((r) => `${r.description.method}: ${r.error}`)).toEqual([]);
    const quality = Object.fromEntries(outcome.completed.map((r) => [r.description.method, r.metrics.quality]));
    expect(quality.dense).toBeGreaterThan(0.9);
    for (const method of ['magnitude', 'random', 'lth', 'snip', 'safe']) expect(quality[method], method).toBeGreaterThan(0.6);
  }, 600_000);
});
