import { describe, expect, it } from 'vitest';
import { createMethodRegistry } from './methods.js';
import { DENSE_METHOD, describeTarget } from './labels.js';
import { parseShard, planSuite, shardRuns } from './plan.js';
import { validateSuite } from './suite.js';
import { fakeGreedy, fakeIterativeMagnitude, fakeStructured } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

const registries = {
  tasks: new Map([['fake-blobs', fakeTask()], ['fake-other', fakeTask('fake-other')]]),
  methods: createMethodRegistry([fakeIterativeMagnitude, fakeGreedy, fakeStructured]),
};
const suite = validateSuite({
  name: 'plan',
  tasks: ['fake-blobs', 'fake-other'],
  methods: ['fake-iterative', 'fake-greedy', 'fake-structured'],
  targets: [{ compression: 2 }, { compression: 4 }, { flopsReduction: 0.5 }],
  seeds: [0, 1],
  budget: 32,
}, registries);

describe('planning', () => {
  const plan = planSuite(suite, registries);

  it('has a dense row per task plus seeds × methods × accepted targets', () => {
    // per task: 1 dense + 2 seeds × (2 unstructured × 2 compression + 1 structured × 1 flops) = 11
    expect(plan.runs).toHaveLength(22);
    expect(plan.runs.filter((r) => r.description.method === DENSE_METHOD).map((r) => r.description.task)).toEqual(['fake-blobs', 'fake-other']);
    expect(new Set(plan.runs.map((r) => r.id)).size).toBe(22);
    expect(plan.skipped).toEqual(expect.arrayContaining([expect.stringContaining('fake-iterative accepts only compression')]));
  });

  it('keeps the ids of compression runs (pinned) and gives sparsity targets their own', () => {
    const one = validateSuite({ name: 'plan', tasks: ['fake-blobs'], methods: ['fake-greedy'], targets: [{ compression: 4 }, { sparsity: 0.75 }], seeds: [0], budget: 32 }, registries);
    const runs = planSuite(one, registries).runs;
    expect(runs.map((r) => r.id).slice(0, 2)).toEqual(['7f1edd05e073', '945c8b0f60f5']);
    expect(runs[2].description.target).toEqual({ kind: 'sparsity', fraction: 0.75 });
    expect(new Set(runs.map((r) => r.id)).size).toBe(3);
    expect(describeTarget(runs[2].description.target)).toBe('75% sparse');
    // Structured-only methods do not take a sparsity target.
    const structured = planSuite({ ...one, methods: [{ name: 'fake-structured', options: {} }] }, registries);
    expect(structured.skipped).toContain('fake-blobs × fake-structured × 75% sparse: fake-structured accepts only flops-reduction targets');
  });

  it('leaves default flatness out of the ids and puts changed settings in', () => {
    const other = planSuite({ ...suite, flatness: { samples: 8 } }, registries);
    const off = planSuite({ ...suite, flatness: false }, registries);
    expect(plan.runs.every((r) => !('flatness' in r.description))).toBe(true);
    expect(other.runs[0].description.flatness).toEqual({ samples: 8 });
    expect(off.runs[0].description.flatness).toBe(false);
    expect(new Set([plan.runs[0].id, other.runs[0].id, off.runs[0].id]).size).toBe(3);
  });

  it('splits into shards that cover every run exactly once', () => {
    for (const count of [1, 2, 3, 5, 30]) {
      const seen = [];
      for (let index = 1; index <= count; index++) seen.push(...shardRuns(plan.runs, { index, count }).map((r) => r.id));
      expect(seen.sort()).toEqual(plan.runs.map((r) => r.id).sort());
    }
  });

  it('parses --shard and rejects bad values', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(() => parseShard('0/4')).toThrow(/need 1 <= i <= n/);
    expect(() => parseShard('5/4')).toThrow(/need 1 <= i <= n/);
    expect(() => parseShard('two')).toThrow(/--shard must look like i\/n/);
  });
});
