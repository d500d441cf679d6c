/**
 * A train call's training batches as the trainer takes them: from the task's ahead-prepared stream where it has one
 * (CIFAR: PrefetchedImageBatches, the pixels filled on a worker thread while the step runs), else from its
 * synchronous `trainBatches` iterator. Either way the same batches in the same order for the same generator.
 */
import type { SeededRng } from '@prunebench/engine';
import { disposeBatch, type Batch } from '@prunebench/pruning';
import type { LoadedTask } from './tasks/types.js';

export interface BatchStream {
  /** The next batch (the caller disposes it); the stream is endless. */
  next(): Promise<Batch>;
  /** Passes over `count` batches (a resumed call fast-forwarding); an ahead-prepared stream skips their pixel work. */
  skip(count: number): void;
  /** Ends the stream: a worker stops. Called at the end of every train call, and when it fails. */
  close(): Promise<void>;
  /** Resolves true once batches are prepared ahead on a worker, false where they are not (benchmarks wait on it). */
  ready(): Promise<boolean>;
}

/** The stream of `task.trainBatchStream` where the task has one, else `task.trainBatches` taken one batch at a time. */
export function openTrainStream(task: Pick<LoadedTask, 'trainBatches' | 'trainBatchStream'>, batchSize: number, rng: SeededRng): BatchStream {
  if (task.trainBatchStream) return task.trainBatchStream(batchSize, rng);
  const batches = task.trainBatches(batchSize, rng);
  const take = (): Batch => {
    const result = batches.next();
    if (result.done) throw new Error('the task\'s training stream ended; trainBatches must be endless');
    return result.value;
  };
  return {
    next: async () => take(),
    skip(count) {
      for (let i = 0; i < count; i++) disposeBatch(take());
    },
    close: async () => {
      batches.return?.();
    },
    ready: async () => false,
  };
}
