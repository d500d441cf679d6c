import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import type { Batch } from '@prunebench/pruning';
import { beforeAll, describe, expect, it } from 'vitest';
import { openTrainStream, type BatchStream } from './batch-stream.js';
import { NonFiniteLossError, RunInterruptedError } from './errors.js';
import { FAKE_RECIPE, fakeTask } from './testing/fake-task.js';
import { memoryCheckpoints } from './testing/memory-checkpoints.js';
import type { LoadedTask } from './tasks/types.js';
import { HarnessTrainer } from './trainer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SIZING = { trainPerClass: 0, valSize: 12, testSize: 0, evalBatchSize: 16 };

async function loadFake(faults: { nanAfterBatches?: number } = {}): Promise<LoadedTask> {
  return fakeTask('fake-blobs', { batchesDrawn: 0, ...faults }).load(SIZING, { cacheDir: '/nonexistent', log: () => {} });
}

/** The fake task with an ahead-prepared stream over its own batches, counting what the trainer does with it. */
function withStream(task: LoadedTask) {
  const calls = { opened: 0, skipped: 0, closed: 0 };
  const ahead: LoadedTask = {
    ...task,
    trainBatchStream(batchSize: number, rng: SeededRng): BatchStream {
      calls.opened++;
      const inner = openTrainStream({ trainBatches: (b, r) => task.trainBatches(b, r) }, batchSize, rng);
      return {
        next: () => inner.next(),
        skip: (count: number) => { calls.skipped += count; inner.skip(count); },
        close: async () => { calls.closed++; await inner.close(); },
        ready: () => inner.ready(),
      };
    },
  };
  return { task: ahead, calls };
}

const rows = (batch: Batch) => ({ x: Array.from((batch.inputs as tf.Tensor).dataSync()), y: Array.from(batch.labels.dataSync()) });

describe('openTrainStream', () => {
  it('takes a task without trainBatchStream from trainBatches, batch for batch, skip dropping batches', async () => {
    const task = await loadFake();
    const want: ReturnType<typeof rows>[] = [];
    const iterator = task.trainBatches(8, new SeededRng(5));
    for (let i = 0; i < 9; i++) {
      const b = iterator.next().value as Batch;
      want.push(rows(b));
      tf.dispose([b.inputs as tf.Tensor, b.labels]);
    }
    const stream = openTrainStream(task, 8, new SeededRng(5));
    const got: ReturnType<typeof rows>[] = [];
    for (let i = 0; i < 4; i++) got.push(rows(await stream.next()));
    stream.skip(3);
    got.push(rows(await stream.next()), rows(await stream.next()));
    expect(await stream.ready()).toBe(false);
    await stream.close();
    expect(got).toEqual([...want.slice(0, 4), want[7], want[8]]);
  });

  it('says so when a task\'s trainBatches ends', async () => {
    const stream = openTrainStream({ trainBatches: () => [][Symbol.iterator]() }, 8, new SeededRng(1));
    await expect(stream.next()).rejects.toThrow('the task\'s training stream ended; trainBatches must be endless');
  });
});

describe('HarnessTrainer on a task\'s ahead-prepared stream', () => {
  const train = async (task: LoadedTask, run: (trainer: HarnessTrainer, model: Awaited<ReturnType<LoadedTask['startingModel']>>) => Promise<unknown>) => {
    const model = await task.startingModel();
    const trainer = new HarnessTrainer({ task, recipe: FAKE_RECIPE, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 16, checkpoints: memoryCheckpoints() });
    try {
      await run(trainer, model);
      return { log: trainer.log.map((r) => ({ ...r, wallSeconds: 0 })), weights: Array.from(model.params.get('fc1.weight')!.dataSync()), work: trainer.trainingWork() };
    } finally {
      model.dispose();
    }
  };

  it('trains as on trainBatches, opens and closes one stream per train call, and counts the wait for batches', async () => {
    const twoCalls = async (trainer: HarnessTrainer, model: Parameters<Parameters<typeof train>[1]>[1]) => {
      await trainer.train(model, { examples: 24 });
      await trainer.train(model, { examples: 20 });
    };
    const plain = await train(await loadFake(), twoCalls);
    const { task, calls } = withStream(await loadFake());
    const ahead = await train(task, twoCalls);
    expect(ahead.log).toEqual(plain.log);
    expect(ahead.weights).toEqual(plain.weights);
    expect(calls).toEqual({ opened: 2, skipped: 0, closed: 2 });
    expect(ahead.work.batchSeconds).toBeGreaterThan(0);
    expect(ahead.work.batchSeconds).toBeLessThan(ahead.work.seconds + 1e-3);
  });

  it('a resumed call passes over the batches already trained on and ends where an uninterrupted call ends', async () => {
    const plain = await train(await loadFake(), (trainer, model) => trainer.train(model, { examples: 48 }));
    const checkpoints = memoryCheckpoints();
    const { task, calls } = withStream(await loadFake());
    const controller = new AbortController();
    let steps = 0;
    const trainer = (signal?: AbortSignal) => new HarnessTrainer({
      task, recipe: FAKE_RECIPE, totalExamples: 64, rng: new SeededRng(3), chunkExamples: 16, checkpoints, signal,
      onProgress: () => { if (++steps === 3) controller.abort(); },
    });
    const model = await task.startingModel();
    try {
      await expect(trainer(controller.signal).train(model, { examples: 48 })).rejects.toBeInstanceOf(RunInterruptedError);
      const resumed = trainer();
      await resumed.train(model, { examples: 48 });
      expect(resumed.log.map((r) => ({ ...r, wallSeconds: 0 }))).toEqual(plain.log);
      expect(Array.from(model.params.get('fc1.weight')!.dataSync())).toEqual(plain.weights);
    } finally {
      model.dispose();
    }
    expect(calls).toEqual({ opened: 2, skipped: 3, closed: 2 });
  });

  it('closes the stream when a train call fails', async () => {
    const { task, calls } = withStream(await loadFake({ nanAfterBatches: 2 }));
    await expect(train(task, (trainer, model) => trainer.train(model, { examples: 48 }))).rejects.toBeInstanceOf(NonFiniteLossError);
    expect(calls).toMatchObject({ opened: 1, closed: 1 });
  });
});
