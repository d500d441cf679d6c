/**
 * A fake task for the harness's own tests: a 4-feature, 3-class Gaussian-blob problem and a tiny MLP
 * (with one running-statistics buffer, so checkpoints must restore buffers too). Not for benchmarking.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import type { ArchSpec, ForwardOptions, LayerSpec, Model, ParamKind } from '@prunebench/models';
import { readScalar, type Batch } from '@prunebench/pruning';
import type { FineTuneRecipe, LoadedTask, TaskDefinition, TaskSizing } from '../tasks/types.js';

const FEATURES = 4;
const HIDDEN = 8;
const CLASSES = 3;

class TinyMlp implements Model {
  readonly arch: ArchSpec = { family: 'fake-mlp' };
  readonly params = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();
  readonly paramKinds = new Map<string, ParamKind>();

  constructor(seed: number) {
    const rng = new SeededRng(seed);
    const add = (name: string, kind: ParamKind, shape: number[], std: number) => {
      const size = shape.reduce((a, b) => a * b, 1);
      this.params.set(name, tf.variable(tf.tensor(rng.normalArray(size, std), shape), true));
      this.paramKinds.set(name, kind);
    };
    add('fc1.weight', 'linear', [FEATURES, HIDDEN], 0.7);
    add('fc1.bias', 'bias', [HIDDEN], 0.01);
    add('fc2.weight', 'linear', [HIDDEN, CLASSES], 0.5);
    add('fc2.bias', 'bias', [CLASSES], 0.01);
    this.buffers.set('input.running_mean', tf.variable(tf.zeros([FEATURES]), false));
  }

  forward(input: tf.Tensor | Record<string, tf.Tensor>, opts: ForwardOptions): tf.Tensor {
    const x = input as tf.Tensor2D;
    if (opts.training) {
      const running = this.buffers.get('input.running_mean')!;
      tf.tidy(() => running.assign(tf.add(tf.mul(running, 0.9), tf.mul(tf.mean(x, 0), 0.1))));
    }
    const p = (n: string) => this.params.get(n)!;
    return tf.tidy(() => {
      opts.tap?.({ weight: 'fc1.weight', input: x });
      const hidden = tf.relu(tf.add(tf.matMul(x, p('fc1.weight')), p('fc1.bias')));
      opts.tap?.({ weight: 'fc2.weight', input: hidden });
      return tf.add(tf.matMul(hidden, p('fc2.weight')), p('fc2.bias'));
    });
  }

  dispose(): void {
    tf.dispose([...this.params.values(), ...this.buffers.values()]);
  }
}

interface Examples {
  x: Float32Array;
  y: Int32Array;
  count: number;
}

function blobs(count: number, rng: SeededRng): Examples {
  const centers = [[2, 0, 0, 1], [-1, 2, 0, -1], [0, -2, 1, 0]];
  const x = new Float32Array(count * FEATURES);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    y[i] = i % CLASSES;
    for (let f = 0; f < FEATURES; f++) x[i * FEATURES + f] = centers[y[i]][f] + rng.normal();
  }
  return { x, y, count };
}

function batchOf(set: Examples, indices: ArrayLike<number>, scale = 1): Batch {
  const x = new Float32Array(indices.length * FEATURES);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    for (let f = 0; f < FEATURES; f++) x[i * FEATURES + f] = set.x[indices[i] * FEATURES + f] * scale;
    y[i] = set.y[indices[i]];
  }
  return { inputs: tf.tensor2d(x, [indices.length, FEATURES]), labels: tf.tensor1d(y, 'int32'), size: indices.length };
}

/** Failure injection, shared across loads so a test can "kill" a run after N training batches. */
export interface FakeTaskFaults {
  /** Throw from the training stream when this many batches have been drawn in this process. */
  killAfterBatches?: number;
  /** Feed infinite inputs (a NaN loss) from this batch on. */
  nanAfterBatches?: number;
  batchesDrawn: number;
}

export const FAKE_RECIPE: FineTuneRecipe = {
  optimizer: 'sgd', momentum: 0.9, learningRate: 0.05, schedule: 'cosine', weightDecay: 1e-4, batchSize: 8, augment: false,
};

export function fakeTask(id = 'fake-blobs', faults: FakeTaskFaults = { batchesDrawn: 0 }): TaskDefinition {
  const defaultSizing: TaskSizing = { trainPerClass: 0, valSize: 24, testSize: 0, evalBatchSize: 16 };
  return {
    id,
    description: 'Gaussian blobs, tiny MLP (tests only)',
    dataset: 'blobs',
    model: 'mlp',
    qualityName: 'top1',
    recipe: FAKE_RECIPE,
    defaultSizing,
    startingPoint: { kind: 'pretrained', weights: 'seeded init' },
    load: async (sizing) => {
      const rng = new SeededRng(7);
      const train = blobs(sizing.trainPerClass > 0 ? sizing.trainPerClass * CLASSES : 48, rng.fork('train'));
      const val = blobs(sizing.valSize, rng.fork('val'));
      const test = blobs(sizing.testSize > 0 ? sizing.testSize : 30, rng.fork('test'));
      const task: LoadedTask = {
        trainExamples: train.count,
        *trainBatches(batchSize, order) {
          for (;;) {
            const perm = order.permutation(train.count);
            for (let start = 0; start + batchSize <= train.count; start += batchSize) {
              faults.batchesDrawn++;
              if (faults.killAfterBatches !== undefined && faults.batchesDrawn > faults.killAfterBatches) {
                throw new Error('simulated kill');
              }
              const nan = faults.nanAfterBatches !== undefined && faults.batchesDrawn > faults.nanAfterBatches;
              yield batchOf(train, perm.subarray(start, start + batchSize), nan ? Infinity : 1);
            }
          }
        },
        sampleBatches(count, batchSize, order) {
          const perm = order.permutation(train.count);
          return Array.from({ length: count }, (_, i) => batchOf(train, Array.from({ length: batchSize }, (_, j) => perm[(i * batchSize + j) % train.count])));
        },
        evaluationBatches(count, batchSize) {
          const n = Math.min(count, val.count);
          const batches: Batch[] = [];
          for (let start = 0; start < n; start += batchSize) {
            batches.push(batchOf(val, Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i)));
          }
          return batches;
        },
        async evaluate(model, split) {
          const set = split === 'val' ? val : test;
          const batch = batchOf(set, Array.from({ length: set.count }, (_, i) => i));
          const correct = await readScalar(tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(model.forward(batch.inputs, { training: false }), 1), batch.labels), 'float32'))));
          tf.dispose([batch.inputs as tf.Tensor, batch.labels]);
          const top1 = correct / set.count;
          return { quality: top1, qualityName: 'top1', top1 };
        },
        startingModel: async () => new TinyMlp(11),
        prunable: (model) => [...model.paramKinds].filter(([, kind]) => kind === 'linear').map(([name]) => name),
        traceLayers: (): LayerSpec[] => [
          { name: 'fc1', op: 'linear', weight: 'fc1.weight', bias: 'fc1.bias', inShape: [FEATURES], outShape: [HIDDEN] },
          { name: 'relu', op: 'relu', inShape: [HIDDEN], outShape: [HIDDEN] },
          { name: 'fc2', op: 'linear', weight: 'fc2.weight', bias: 'fc2.bias', inShape: [HIDDEN], outShape: [CLASSES] },
        ],
        dispose: () => {},
      };
      return task;
    },
  };
}
