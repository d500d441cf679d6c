// A sparsity target end to end: suite → plan → run → record with the sparsity and compression reached.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectEnvironment } from './environment.js';
import { createMethodRegistry } from './methods.js';
import { planSuite } from './plan.js';
import { runSuite } from './run-suite.js';
import { RunStore } from './store.js';
import { validateSuite } from './suite.js';
import { fakeIterativeMagnitude } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('a sparsity target', () => {
  it('records the sparsity, the compression and the nonzero prunable count reached', async () => {
    const registries = { tasks: new Map([['fake-blobs', fakeTask('fake-blobs')]]), methods: createMethodRegistry([fakeIterativeMagnitude]) };
    const suite = validateSuite({
      name: 'sparsity', tasks: [{ id: 'fake-blobs', testSize: 30 }], methods: ['fake-iterative'],
      targets: [{ sparsity: 0.7 }, { compression: 2 }], seeds: [3], budget: 32,
    }, registries);
    const runs = planSuite(suite, registries).runs;
    const outcome = await runSuite({
      runs, store: new RunStore(mkdtempSync(join(tmpdir(), 'prunebench-sparsity-'))),
      environment: collectEnvironment({ backend: 'cpu', device: 'test', versions: {} }),
      taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 8,
    });
    expect(outcome.failed).toEqual([]);
    const [dense, sparse, compressed] = outcome.completed;
    expect(sparse.description.target).toEqual({ kind: 'sparsity', fraction: 0.7 });

    const { total, prunable, nonzero, nonzeroPrunable } = sparse.metrics.params;
    expect(prunable).toBe(dense.metrics.params.prunable);
    // Per layer round(0.7 · nᵢ) pruned, so the whole is within half a weight per layer of 0.7 · prunable.
    const layers = Object.keys(sparse.layerDensity!).length;
    expect(Math.abs(prunable - nonzeroPrunable! - 0.7 * prunable)).toBeLessThanOrEqual(layers / 2);
    expect(sparse.metrics.sparsity).toBeCloseTo(1 - nonzeroPrunable! / prunable, 12);
    expect(sparse.metrics.compressionRatio).toBeCloseTo(total / nonzero, 12);
    expect(nonzero - nonzeroPrunable!).toBe(total - prunable); // biases stay dense

    // A compression run carries its sparsity too, and the dense row sparsity 0.
    expect(compressed.metrics.compressionRatio).toBeCloseTo(2, 1);
    expect(compressed.metrics.sparsity).toBeCloseTo(1 - compressed.metrics.params.nonzeroPrunable! / prunable, 12);
    expect(dense.metrics.sparsity).toBe(0);
  });
});
