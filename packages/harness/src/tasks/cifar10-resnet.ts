import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SeededRng, yieldToEventLoop } from '@prunebench/engine';
import {
  CIFAR10_RECORDS_PER_BATCH,
  CIFAR10_TRAIN_FILES,
  ImageBatchLoader,
  PrefetchedImageBatches,
  classBalancedSubset,
  readCifar10,
  resolveCifar10,
  selectImages,
  splitTrainVal,
  type ImageSet,
} from '@prunebench/data';
import { defaultPrunableNames, topKAccuracy } from '@prunebench/metrics';
import {
  createResNetCifar,
  modelFromStateDict,
  resnetCifarArch,
  readPretrainedTensors,
  readSafetensors,
  resolvePretrainedResNet,
  saveSafetensors,
  traceLayers,
  type Model,
  type TensorMap,
} from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';
import type { BatchStream } from '../batch-stream.js';
import { hashId } from '../canonical.js';
import { directoryCheckpoints } from '../store.js';
import { modelSizeOf } from '../model-metrics.js';
import { HarnessTrainer } from '../trainer.js';
import type { FineTuneRecipe, LoadedTask, StartingPoint, TaskDefinition, TaskEnvironment, TaskSizing } from './types.js';
import { checkSizingFits, countByClass } from './sizing.js';

/** Fixed seed for data subsets (validation split, train/test subsets): every run of a task sees the same images. */
export const DATA_SEED = 0;
const INPUT_SHAPE = [32, 32, 3];

/**
 * Fine-tuning after pruning, the same for every method: SGD, momentum 0.9, lr 0.01 with cosine decay
 * over each train call, batch 128, crop + flip. Weight decay 5e-4 (the common CIFAR fine-tuning value,
 * e.g. ShrinkBench/LTH code; the ResNet paper's 1e-4 was for training from scratch at lr 0.1).
 */
export const CIFAR_FINE_TUNE_RECIPE: FineTuneRecipe = {
  optimizer: 'sgd', momentum: 0.9, learningRate: 0.01, schedule: 'cosine', weightDecay: 5e-4, batchSize: 128, augment: true,
};

/** Dense training from scratch, He et al. 2016: lr 0.1, momentum 0.9, wd 1e-4, batch 128, 64k iterations (cosine here instead of steps). */
export const CIFAR_DENSE_TRAINING_RECIPE: FineTuneRecipe = {
  optimizer: 'sgd', momentum: 0.9, learningRate: 0.1, schedule: 'cosine', weightDecay: 1e-4, batchSize: 128, augment: true,
};

export const CIFAR_DEFAULT_SIZING: TaskSizing = { trainPerClass: 0, valSize: 5000, testSize: 0, evalBatchSize: 500 };

export function cifar10ResNetTask(depth: number, startingPoint: StartingPoint): TaskDefinition {
  const id = `cifar10-resnet${depth}`;
  return {
    id,
    description: `CIFAR-10, ResNet-${depth} (He et al. 2016, option-A shortcuts), top-1 on the test split; start: ${
      startingPoint.kind === 'pretrained' ? 'pretrained weights' : 'dense training (cached checkpoint)'
    }`,
    dataset: 'cifar10',
    model: `resnet${depth}`,
    qualityName: 'top1',
    recipe: CIFAR_FINE_TUNE_RECIPE,
    defaultSizing: CIFAR_DEFAULT_SIZING,
    startingPoint,
    // wasm on 2 CPU cores, ResNet-20 measured (docs/engine.md); deeper nets scaled by their MACs.
    throughputHint: { backend: 'wasm', trainPerSecond: 40 * (20 / depth), evalPerSecond: 275 * (20 / depth) },
    load: (sizing, env) => loadCifarTask(id, depth, startingPoint, sizing, env),
    trainExamples: (sizing) => (sizing.trainPerClass > 0 ? 10 * sizing.trainPerClass : CIFAR10_TRAIN_FILES.length * CIFAR10_RECORDS_PER_BATCH - sizing.valSize),
    modelSize: () => modelSizeOf(createResNetCifar(depth, { seed: 0 }), defaultPrunableNames, (model) => traceLayers(model.arch, INPUT_SHAPE)),
  };
}

async function loadCifarTask(id: string, depth: number, start: StartingPoint, sizing: TaskSizing, env: TaskEnvironment): Promise<LoadedTask> {
  const dir = await resolveCifar10({ source: env.dataDir });
  const { train, test } = await readCifar10(dir);
  const dataRng = new SeededRng(DATA_SEED);
  const split = splitTrainVal(train, { valSize: sizing.valSize, rng: dataRng.fork('validation') });
  checkSizingFits(id, sizing, { train: train.count, test: test.count, trainByClass: countByClass(split.train.labels, 10) });
  const trainSet = sizing.trainPerClass > 0 ? classBalancedSubset(split.train, sizing.trainPerClass, dataRng.fork('train-subset')) : split.train;
  const testSet = sizing.testSize > 0 && sizing.testSize < test.count ? randomSubset(test, sizing.testSize, dataRng.fork('test-subset')) : test;
  env.log(`${id}: ${trainSet.count} training, ${split.val.count} validation, ${testSet.count} test images`);
  const task = new CifarLoadedTask(trainSet, split.val, testSet, sizing, CIFAR_FINE_TUNE_RECIPE);
  task.startingWeights = start.kind === 'pretrained'
    ? await readPretrainedTensors(await resolvePretrainedResNet(depth, { weightsDir: env.weightsDir, log: env.log }), depth)
    : await denseTrainedWeights(id, depth, start, sizing, task, env);
  task.depth = depth;
  return task;
}

function randomSubset(set: ImageSet, size: number, rng: SeededRng): ImageSet {
  const indices = Array.from(rng.permutation(set.count).subarray(0, size)).sort((a, b) => a - b);
  return selectImages(set, indices);
}

/**
 * The dense starting point for tasks without pretrained weights: trained once with the dense recipe and
 * cached as `<cacheDir>/<task>-<hash>.safetensors` (hash of recipe, examples, seed and sizing), resumable
 * through trainer checkpoints in `<task>-<hash>.partial/`.
 */
async function denseTrainedWeights(
  id: string, depth: number, start: Extract<StartingPoint, { kind: 'dense-training' }>, sizing: TaskSizing,
  task: CifarLoadedTask, env: TaskEnvironment,
): Promise<TensorMap> {
  const key = hashId({ task: id, recipe: start.recipe, examples: start.examples, seed: start.seed, trainPerClass: sizing.trainPerClass, valSize: sizing.valSize });
  const path = join(env.cacheDir, `${id}-${key}.safetensors`);
  if (existsSync(path)) return readSafetensors(path);
  const partialDir = join(env.cacheDir, `${id}-${key}.partial`);
  env.log(`${id}: no cached dense checkpoint; training ${start.examples} examples (cached at ${path})`);
  const model = createResNetCifar(depth, { seed: start.seed });
  try {
    const trainer = new HarnessTrainer({
      task, recipe: start.recipe, totalExamples: start.examples, rng: new SeededRng(start.seed).fork('dense-training'),
      chunkExamples: Math.min(task.trainExamples, 50_000), checkpoints: directoryCheckpoints(partialDir), signal: env.signal,
    });
    await trainer.train(model, { examples: start.examples, label: 'dense-training' });
    await saveSafetensors(path, model, { task: id, recipeHash: key });
  } finally {
    model.dispose();
  }
  rmSync(partialDir, { recursive: true, force: true });
  return readSafetensors(path);
}

class CifarLoadedTask implements LoadedTask {
  startingWeights: TensorMap | null = null;
  depth = 20;

  constructor(
    private readonly trainSet: ImageSet,
    private readonly valSet: ImageSet,
    private readonly testSet: ImageSet,
    private readonly sizing: TaskSizing,
    private readonly recipe: FineTuneRecipe,
  ) {}

  get trainExamples(): number {
    return this.trainSet.count;
  }

  private trainLoader(batchSize: number, rng: SeededRng): ImageBatchLoader {
    return new ImageBatchLoader(this.trainSet, {
      batchSize, shuffle: true, augment: this.recipe.augment, rng, dropLast: this.trainSet.count >= batchSize,
    });
  }

  *trainBatches(batchSize: number, rng: SeededRng): Iterator<Batch> {
    const loader = this.trainLoader(batchSize, rng);
    for (;;) for (const b of loader.batches()) yield { inputs: b.x, labels: b.y, size: b.size };
  }

  trainBatchStream(batchSize: number, rng: SeededRng): BatchStream {
    const batches = new PrefetchedImageBatches(this.trainLoader(batchSize, rng));
    return {
      next: async () => {
        const b = await batches.next();
        return { inputs: b.x, labels: b.y, size: b.size };
      },
      skip: (count) => batches.skip(count),
      close: () => batches.close(),
      ready: () => batches.ready(),
    };
  }

  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[] {
    const loader = new ImageBatchLoader(this.trainSet, { batchSize, shuffle: true, augment: false, rng, dropLast: this.trainSet.count >= batchSize });
    const out: Batch[] = [];
    while (out.length < count) {
      for (const b of loader.batches()) {
        if (out.length < count) out.push({ inputs: b.x, labels: b.y, size: b.size });
        else tf.dispose([b.x, b.y]);
      }
    }
    return out;
  }

  evaluationBatches(count: number, batchSize: number): Batch[] {
    const n = Math.min(count, this.valSet.count);
    const subset = selectImages(this.valSet, Array.from({ length: n }, (_, i) => i));
    const loader = new ImageBatchLoader(subset, { batchSize, shuffle: false, augment: false, rng: new SeededRng(DATA_SEED) });
    return [...loader.batches()].map((b) => ({ inputs: b.x, labels: b.y, size: b.size }));
  }

  async evaluate(model: Model, split: 'val' | 'test') {
    return this.evaluateWith(async (x) => {
      const out = tf.tidy(() => model.forward(x, { training: false }));
      try {
        return await out.data() as Float32Array;
      } finally {
        out.dispose();
      }
    }, split);
  }

  async evaluateWith(predict: (inputs: Batch['inputs']) => Promise<Float32Array>, split: 'val' | 'test') {
    const set = split === 'val' ? this.valSet : this.testSet;
    const loader = new ImageBatchLoader(set, { batchSize: this.sizing.evalBatchSize, shuffle: false, augment: false, rng: new SeededRng(DATA_SEED) });
    const numClasses = 10;
    const logits = new Float32Array(set.count * numClasses);
    const labels = new Int32Array(set.count);
    let offset = 0;
    for (const b of loader.batches()) {
      await yieldToEventLoop();
      logits.set(await predict(b.x), offset * numClasses);
      labels.set(await b.y.data() as Int32Array, offset);
      offset += b.size;
      tf.dispose([b.x, b.y]);
    }
    const top1 = topKAccuracy(logits, labels, 1, numClasses);
    const top5 = topKAccuracy(logits, labels, 5, numClasses);
    return { quality: top1, qualityName: 'top1', top1, top5 };
  }

  async startingModel(): Promise<Model> {
    if (!this.startingWeights) throw new Error('task not loaded: no starting weights');
    return modelFromStateDict(resnetCifarArch(this.depth), this.startingWeights);
  }

  prunable(model: Model): string[] {
    return defaultPrunableNames(model);
  }

  traceLayers(model: Model) {
    return traceLayers(model.arch, INPUT_SHAPE);
  }

  dispose(): void {
    this.startingWeights = null;
  }
}
