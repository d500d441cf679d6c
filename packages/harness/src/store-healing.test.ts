import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectEnvironment } from './environment.js';
import { RunInterruptedError, StoreNotWritableError } from './errors.js';
import { MergeConflictError, mergeStores } from './merge.js';
import { createMethodRegistry } from './methods.js';
import { planSuite, type PlannedRun } from './plan.js';
import type { RunRecord } from './record.js';
import { LOCK_FILE } from './run-files.js';
import { tryLockRun } from './run-lock.js';
import { runSuite, type SuiteOutcome } from './run-suite.js';
import { FINAL_MODEL_FILE } from './run-files.js';
import { RunStore } from './store.js';
import { validateSuite } from './suite.js';
import { TaskSizingError, checkSizingFits } from './tasks/sizing.js';
import type { TaskDefinition } from './tasks/types.js';
import { fakeGreedy, fakeIterativeMagnitude } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SUITE = {
  name: 'fake-healing',
  tasks: [{ id: 'fake-blobs', testSize: 30 }],
  methods: ['fake-iterative'],
  targets: [{ compression: 2 }],
  seeds: [5],
  budget: 48,
};

/** The fake task, with its starting weights changed by `start.change` (so a test can corrupt or replace them). */
function taskWithStart(start: { change: 'none' | 'nan' | 'shifted' }): TaskDefinition {
  const base = fakeTask('fake-blobs');
  return {
    ...base,
    load: async (sizing, env) => {
      const task = await base.load(sizing, env);
      return {
        ...task,
        startingModel: async () => {
          const model = await task.startingModel();
          const weight = model.params.get('fc1.weight')!;
          if (start.change === 'nan') weight.assign(tf.fill(weight.shape, NaN));
          if (start.change === 'shifted') weight.assign(tf.tidy(() => tf.add(weight, 0.25)));
          return model;
        },
      };
    },
  };
}

function plan(task: TaskDefinition = fakeTask('fake-blobs')): PlannedRun[] {
  const registries = { tasks: new Map([['fake-blobs', task]]), methods: createMethodRegistry([fakeIterativeMagnitude, fakeGreedy]) };
  return planSuite(validateSuite(SUITE, registries), registries).runs;
}

const environment = collectEnvironment({ backend: 'cpu', device: 'test', versions: {} });

function execute(runs: PlannedRun[], store: RunStore, extra: { signal?: AbortSignal; onFinished?: (record: RunRecord) => void; log?: string[] } = {}): Promise<SuiteOutcome> {
  return runSuite({
    runs, store, environment, taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 8, signal: extra.signal,
    log: (message) => extra.log?.push(message),
    progress: { runFinished: (_run, record) => extra.onFinished?.(record) },
  });
}

const newStore = () => new RunStore(mkdtempSync(join(tmpdir(), 'prunebench-heal-')));
const comparable = (r: RunRecord) => ({ status: r.status, metrics: r.metrics, layerDensity: r.layerDensity, budget: r.budget, error: r.error });
const recordFile = (store: RunStore, id: string) => join(store.runDir(id), 'record.json');

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('a store that heals itself', () => {
  it('records the starting weights\' hash and reruns a completed run when they change, saying why', async () => {
    const store = newStore();
    const start = { change: 'none' as 'none' | 'shifted' };
    const runs = plan(taskWithStart(start));
    const first = await execute(runs, store);
    expect(first.completed).toHaveLength(2);
    const sha = first.completed[0].startingPoint!.sha256;
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(first.completed[1].startingPoint!.sha256).toBe(sha);

    expect((await execute(runs, store)).skipped).toHaveLength(2);
    start.change = 'shifted';
    const log: string[] = [];
    const again = await execute(runs, store, { log });
    expect(again.skipped).toEqual([]);
    expect(again.completed).toHaveLength(2);
    expect(again.completed[0].startingPoint!.sha256).not.toBe(sha);
    expect(log.filter((m) => m.includes('the starting weights changed since it was recorded'))).toHaveLength(2);
  });

  it('drops checkpoints made from other starting weights, so the run starts afresh instead of failing to resume', async () => {
    const start = { change: 'none' as 'none' | 'shifted' };
    const runs = plan(taskWithStart(start));
    const store = newStore();
    const abort = new AbortController();
    let steps = 0;
    const interrupted = runSuite({
      runs, store, environment, taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 8, signal: abort.signal,
      progress: { runProgress: () => { if (++steps === 4) abort.abort(); } },
    });
    await expect(interrupted).rejects.toBeInstanceOf(RunInterruptedError);
    expect(store.hasCheckpoints(runs[1].id)).toBe(true);
    start.change = 'shifted';
    const log: string[] = [];
    const outcome = await execute(runs, store, { log });
    expect(outcome.failed).toEqual([]);
    expect(outcome.completed.map((r) => r.id)).toEqual([runs[0].id, runs[1].id]);
    expect(outcome.completed[1].resumed).toBeUndefined();
    expect(log.filter((m) => m.includes('its checkpoints were made from other starting weights; removed, the run starts afresh'))).toHaveLength(1);
    const fresh = newStore();
    await execute(runs, fresh);
    expect(comparable(store.readRecord(runs[1].id))).toEqual(comparable(fresh.readRecord(runs[1].id)));
  });

  it('fails a run whose starting weights are not finite, never completes it, and completes it once they are fixed', async () => {
    const store = newStore();
    const start = { change: 'nan' as 'none' | 'nan' };
    const runs = plan(taskWithStart(start));
    const outcome = await execute(runs, store);
    expect(outcome.completed).toEqual([]);
    expect(outcome.failed.map((r) => r.error)).toEqual([
      expect.stringMatching(/^NonFiniteWeightsError: the starting weights hold NaN or infinite values in 1 tensor\(s\): param fc1\.weight/),
      expect.stringMatching(/^NonFiniteWeightsError/),
    ]);
    start.change = 'none';
    expect((await execute(runs, store)).completed).toHaveLength(2);
  });

  it('fails a run whose flatness comes out NaN instead of recording it as completed', async () => {
    const base = fakeTask('fake-blobs');
    const nanFlatness: TaskDefinition = {
      ...base,
      load: async (sizing, env) => {
        const task = await base.load(sizing, env);
        // infinite inputs on the fixed flatness set only: quality is measured, the loss is NaN
        return { ...task, evaluationBatches: (count, batchSize) => task.evaluationBatches(count, batchSize).map((b) => ({ ...b, inputs: tf.mul(b.inputs as tf.Tensor, Infinity) })) };
      },
    };
    const outcome = await execute(plan(nanFlatness), newStore());
    expect(outcome.completed).toEqual([]);
    expect(outcome.failed[0].error).toMatch(/^NonFiniteMetricError: the run's metrics are not usable: missing finite number "metrics\.flatness\.baseLoss" \(got NaN\)/);
  });

  it('reruns a completed record with empty metrics, or that carries another run\'s id, instead of skipping it', async () => {
    const store = newStore();
    const runs = plan();
    await execute(runs, store);
    const [dense, pruned] = runs;
    const good = JSON.parse(readFileSync(recordFile(store, pruned.id), 'utf8')) as RunRecord;
    writeFileSync(recordFile(store, dense.id), JSON.stringify({ ...good, id: dense.id, metrics: {} }));
    writeFileSync(recordFile(store, pruned.id), JSON.stringify({ ...good, id: dense.id }));
    expect(() => store.readRecord(dense.id)).toThrow(/not a usable run record: missing finite number "metrics.quality"/);
    expect(() => store.readRecord(pruned.id)).toThrow(/carries the id of another run/);
    const log: string[] = [];
    const again = await execute(runs, store, { log });
    expect(again.skipped).toEqual([]);
    expect(again.completed.map((r) => r.id)).toEqual([dense.id, pruned.id]);
    expect(log.filter((m) => m.includes('running it again'))).toHaveLength(2);
    expect(store.records().map((r) => r.id).sort()).toEqual([dense.id, pruned.id].sort());
  });

  it('sets a checkpoint that fails its checksum aside and resumes from the last good one, with the same result', async () => {
    const reference = newStore();
    await execute(plan(), reference);
    const store = newStore();
    const runs = plan();
    const abort = new AbortController();
    let steps = 0;
    const interrupted = runSuite({
      runs, store, environment, taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 8, signal: abort.signal,
      progress: { runProgress: () => { if (++steps === 5) abort.abort(); } }, // in the second train call
    });
    await expect(interrupted).rejects.toBeInstanceOf(RunInterruptedError);
    const pruned = runs[1];
    const dir = join(store.runDir(pruned.id), 'checkpoint');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ckpt')).sort();
    expect(files).toEqual(['call-0000.done.ckpt', 'call-0001.partial.ckpt']);
    for (const file of files) {
      const bytes = readFileSync(join(dir, file));
      bytes[bytes.length - 1] ^= 0xff; // one flipped payload byte
      writeFileSync(join(dir, file), bytes);
    }
    const log: string[] = [];
    const resumed = await execute(runs, store, { log });
    expect(resumed.completed.map((r) => r.id)).toEqual([pruned.id]);
    expect(log.filter((m) => /payload checksum mismatch; set aside as .*\.corrupt-\d+, resuming from the last good checkpoint/.test(m))).toHaveLength(2);
    expect(comparable(store.readRecord(pruned.id))).toEqual(comparable(reference.readRecord(pruned.id)));
    expect(readFileSync(join(store.runDir(pruned.id), FINAL_MODEL_FILE))).toEqual(readFileSync(join(reference.runDir(pruned.id), FINAL_MODEL_FILE)));
  });

  it('removes temporary files and checkpoints that killed processes left, also in completed run folders', async () => {
    const store = newStore();
    const runs = plan();
    await execute(runs, store);
    const dir = store.runDir(runs[1].id);
    const leftovers = [`${FINAL_MODEL_FILE}.tmp-${deadPid()}-1764620000000`, `.record.json.${deadPid()}.0.tmp`, `.log.jsonl.${deadPid()}.3.tmp`];
    for (const name of leftovers) writeFileSync(join(dir, name), 'half');
    mkdirSync(join(dir, 'checkpoint')); // killed between writing the record and removing the checkpoints
    writeFileSync(join(dir, 'checkpoint', 'call-0000.done.ckpt'), 'old');
    const log: string[] = [];
    const again = await execute(runs, store, { log });
    expect(again.skipped).toHaveLength(2);
    expect(readdirSync(dir).sort()).toEqual(['description.json', 'log.jsonl', 'model.safetensors', 'record.json']);
    expect(log.filter((m) => m.includes('left by a write that never finished'))).toHaveLength(3);
  });

  it('ends with RunInterruptedError when the interrupt comes during the last run, after its training', async () => {
    const store = newStore();
    const abort = new AbortController();
    const runs = plan();
    const outcome = execute(runs, store, { signal: abort.signal, onFinished: (record) => { if (record.id === runs[1].id) abort.abort(); } });
    await expect(outcome).rejects.toBeInstanceOf(RunInterruptedError);
    expect(store.state(runs[1].id)).toBe('completed'); // what finished is kept
  });

  it('stops after the last training step instead of evaluating first, and completes the same run on resume', async () => {
    const reference = newStore();
    await execute(plan(), reference);
    const store = newStore();
    const runs = plan();
    const abort = new AbortController();
    const interrupted = runSuite({
      runs, store, environment, taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 8, signal: abort.signal,
      progress: { runProgress: (_run, used, total) => { if (used === total) abort.abort(); } },
    });
    await expect(interrupted).rejects.toBeInstanceOf(RunInterruptedError);
    expect(store.state(runs[1].id)).toBe('interrupted');
    const resumed = await execute(runs, store);
    expect(resumed.completed.map((r) => [r.id, r.resumed])).toEqual([[runs[1].id, true]]);
    expect(comparable(store.readRecord(runs[1].id))).toEqual(comparable(reference.readRecord(runs[1].id)));
  });

  it('names a store that cannot be written (not ENOENT)', async () => {
    const store = new RunStore('/sys/prunebench-store-test/runs');
    expect(() => store.checkWritable()).toThrow(StoreNotWritableError);
    await expect(execute(plan(), store)).rejects.toThrow(/run store \/sys\/prunebench-store-test\/runs is not writable \((EACCES|EPERM|EROFS)/);
  });
});

describe('run locks', () => {
  it('lets two suites on one store share the work: every run is done once', async () => {
    const store = newStore();
    const runs = plan();
    const [a, b] = await Promise.all([execute(runs, store), execute(runs, store)]);
    const done = [...a.completed, ...b.completed].map((r) => r.id).sort();
    expect(done).toEqual(runs.map((r) => r.id).sort());
    expect([...a.skipped, ...b.skipped].sort()).toEqual(runs.map((r) => r.id).sort());
    for (const run of runs) expect(existsSync(join(store.runDir(run.id), LOCK_FILE))).toBe(false);
  });

  it('takes over the lock of a dead process, and waits for a live one', async () => {
    const store = newStore();
    const runs = plan();
    const dir = store.runDir(runs[0].id);
    const held = tryLockRun(dir);
    expect(held.held).toBe(true);
    expect(tryLockRun(dir)).toEqual({ held: false, owner: expect.objectContaining({ pid: process.pid, host: hostname() }) });
    if (held.held) held.lock.release();

    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
    const log: string[] = [];
    const outcome = await execute(runs, store, { log });
    expect(outcome.completed).toHaveLength(2);
    expect(log.some((m) => /took over the lock of process \d+ on .* \(since 2026-01-01T00:00:00.000Z\), which stopped/.test(m))).toBe(true);
  });
});

describe('merge', () => {
  it('refuses conflicting completed records without --prefer, writing nothing; with it keeps the choice and says so', async () => {
    const first = newStore();
    const second = newStore();
    const runs = plan();
    await execute(runs, first);
    await execute(runs, second);
    const id = runs[1].id;
    const record = JSON.parse(readFileSync(recordFile(second, id), 'utf8')) as RunRecord;
    writeFileSync(recordFile(second, id), JSON.stringify({ ...record, metrics: { ...record.metrics, quality: 0.5 }, finishedAt: '2099-01-01T00:00:00.000Z' }));
    const into = newStore();
    expect(() => mergeStores([first.root, second.root], into.root)).toThrow(MergeConflictError);
    expect(into.ids()).toEqual([]);
    const newest = mergeStores([first.root, second.root], into.root, { prefer: 'newest' });
    expect(newest.conflicts).toEqual([id]);
    const kept = into.readRecord(id);
    expect(kept.metrics.quality).toBe(0.5);
    expect(kept.merge).toEqual({
      prefer: 'newest', keptFrom: second.root,
      candidates: [{ store: first.root, finishedAt: expect.any(String) }, { store: second.root, finishedAt: '2099-01-01T00:00:00.000Z' }],
    });
    const firstWins = newStore();
    mergeStores([first.root, second.root], firstWins.root, { prefer: 'first' });
    expect(firstWins.readRecord(id).metrics.quality).toBe(first.readRecord(id).metrics.quality);
  });
});

describe('checkSizingFits', () => {
  it('rejects a sizing larger than the data, naming the field, instead of clamping it', () => {
    const sizing = { trainPerClass: 0, valSize: 5000, testSize: 20000, evalBatchSize: 500 };
    expect(() => checkSizingFits('cifar10-resnet20', sizing, { train: 50000, test: 10000 })).toThrow(TaskSizingError);
    expect(() => checkSizingFits('cifar10-resnet20', sizing, { train: 50000, test: 10000 })).toThrow(
      'cifar10-resnet20: the sizing does not fit the data: testSize 20000 is larger than the test split (10000 examples; 0 = all of it)');
    expect(() => checkSizingFits('t', { ...sizing, testSize: 0, trainPerClass: 600 }, { train: 100, test: 10, trainByClass: [500, 450] })).toThrow(
      /valSize 5000 leaves no training examples.*trainPerClass 600 is more than the smallest class holds after the validation split \(450\)/);
    expect(() => checkSizingFits('t', { ...sizing, testSize: 10000 }, { train: 50000, test: 10000 })).not.toThrow();
  });
});
