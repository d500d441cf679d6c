import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { collectEnvironment } from './environment.js';
import { SuiteValidationError } from './errors.js';
import { LATENCY_DEFAULTS, latencyFigures, resolveLatency } from './latency.js';
import { createMethodRegistry } from './methods.js';
import { experimentId, planSuite } from './plan.js';
import type { LatencyRecord } from './record.js';
import { runSuite } from './run-suite.js';
import { RunStore } from './store.js';
import { validateSuite } from './suite.js';
import { fakeIterativeMagnitude } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

const registries = { tasks: new Map([['fake-blobs', fakeTask()]]), methods: createMethodRegistry([fakeIterativeMagnitude]) };
const suite = (latency: unknown) => ({
  name: 'mini', tasks: ['fake-blobs'], methods: ['fake-iterative'], targets: [{ compression: 2 }], seeds: [0], budget: 64,
  ...(latency === undefined ? {} : { latency }),
});
const ids = (latency: unknown) => planSuite(validateSuite(suite(latency), registries), registries).runs.map((r) => r.id);

function problems(latency: unknown): string[] {
  try {
    validateSuite(suite(latency), registries);
  } catch (error) {
    expect(error).toBeInstanceOf(SuiteValidationError);
    return (error as SuiteValidationError).problems;
  }
  throw new Error('expected a validation error');
}

describe('suite latency settings', () => {
  it('keeps old suites valid with their run ids: true and settings at their defaults describe runs as latency: true', () => {
    expect(validateSuite(suite(undefined), registries).latency).toBe(false);
    expect(validateSuite(suite(true), registries).latency).toEqual({});
    expect(validateSuite(suite({ providers: ['cpu'], threads: 2, throughputBatch: 128, rounds: 10 }), registries).latency).toEqual({});
    const withTrue = ids(true);
    expect(ids({})).toEqual(withTrue);
    expect(ids({ providers: ['cpu'], threads: 2 })).toEqual(withTrue);
    const plan = planSuite(validateSuite(suite(true), registries), registries);
    expect(plan.runs.every((r) => r.description.latency === true)).toBe(true);
    expect(experimentId({ ...plan.runs[0].description, latency: true })).toBe(plan.runs[0].id);
    expect(ids(false)).toEqual(ids(undefined));
    expect(ids(false)).not.toEqual(withTrue);
  });

  it('puts only the settings that differ from the defaults into the description (and the id)', () => {
    const plan = planSuite(validateSuite(suite({ providers: ['cpu', 'webgpu'], threads: 2, rounds: 12 }), registries), registries);
    expect(plan.runs[0].description.latency).toEqual({ providers: ['cpu', 'webgpu'], rounds: 12 });
    expect(plan.runs[0].id).not.toBe(ids(true)[0]);
    expect(ids({ providers: ['webgpu', 'cpu'] })).not.toEqual(ids({ providers: ['cpu', 'webgpu'] })); // order = column order
    expect(resolveLatency(plan.runs[0].description.latency)).toEqual({ ...LATENCY_DEFAULTS, providers: ['cpu', 'webgpu'], rounds: 12 });
    expect(resolveLatency(true)).toEqual(LATENCY_DEFAULTS);
    expect(resolveLatency(undefined)).toBeNull();
  });

  it('names the field of every bad setting', () => {
    expect(problems('yes')).toEqual(['suite.latency: must be true, false or an object { "providers", "threads", "throughputBatch", "rounds" }']);
    expect(problems({ providers: [] })).toEqual([expect.stringMatching(/^suite\.latency\.providers: must be a non-empty array .*cpu, webgpu, cuda, tensorrt/)]);
    expect(problems({ providers: ['cpu', 'tpu', 'cpu'] })).toEqual([
      'suite.latency.providers[1]: unknown execution provider "tpu"; known: cpu, webgpu, cuda, tensorrt',
      'suite.latency.providers[2]: provider "cpu" is listed twice',
    ]);
    expect(problems({ threads: 0, rounds: 5, throughputBatch: 1.5, batch: 8 })).toEqual([
      'suite.latency.threads: must be an integer in [1, 256], got 0',
      'suite.latency.rounds: must be an integer in [6, 1000], got 5',
      'suite.latency.throughputBatch: must be an integer in [1, 65536], got 1.5',
      'suite.latency.batch: unknown field; allowed: providers, threads, throughputBatch, rounds',
    ]);
  });
});

describe('latencyFigures', () => {
  const figure = (provider: string): LatencyRecord => ({ provider, device: 'd', batch1Ms: { p50: 1, p90: 1, p99: 1 }, throughputBatch: 8, throughputPerSecond: 10 });
  it('reads every provider of new records and the single figure of older ones', () => {
    expect(latencyFigures({ latency: figure('cpu'), latencies: { cpu: figure('cpu'), webgpu: figure('webgpu') } }).map((f) => f.provider)).toEqual(['cpu', 'webgpu']);
    expect(latencyFigures({ latency: figure('cpu') }).map((f) => f.provider)).toEqual(['cpu']);
    expect(latencyFigures({})).toEqual([]);
    expect(latencyFigures(undefined)).toEqual([]);
  });
});

describe('latency in run records', () => {
  it('keeps the first provider as metrics.latency and every provider in metrics.latencies, measured against the dense model', async () => {
    await tf.setBackend('cpu');
    const runs = planSuite(validateSuite(suite({ providers: ['cpu', 'webgpu'] }), registries), registries).runs;
    const store = new RunStore(mkdtempSync(join(tmpdir(), 'prunebench-latency-')));
    const calls: Array<{ run: string; providers: string[]; denseParams: number }> = [];
    const outcome = await runSuite({
      runs, store, environment: collectEnvironment({ backend: 'cpu', device: 'test', versions: {} }),
      taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 8,
      measureLatency: async (_model, run, task) => {
        const dense = await task.startingModel();
        const providers = resolveLatency(run.description.latency)!.providers;
        calls.push({ run: run.id, providers, denseParams: dense.params.size });
        dense.dispose();
        return providers.map((provider, i) => ({ provider, device: `device ${i}`, batch1Ms: { p50: i + 1, p90: i + 1, p99: i + 1 }, throughputBatch: 128, throughputPerSecond: 10 }));
      },
    });
    expect(outcome.failed).toEqual([]);
    expect(calls.map((c) => c.providers)).toEqual(runs.map(() => ['cpu', 'webgpu']));
    expect(calls.every((c) => c.denseParams > 0)).toBe(true);
    for (const record of outcome.completed) {
      expect(record.metrics.latency?.provider).toBe('cpu');
      expect(Object.keys(record.metrics.latencies ?? {})).toEqual(['cpu', 'webgpu']);
      expect(latencyFigures(record.metrics).map((f) => f.batch1Ms.p50)).toEqual([1, 2]);
    }
  });
});
