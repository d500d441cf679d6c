import type { SeededRng } from '@prunebench/engine';
import type { LayerSpec, Model } from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';

/** Sizing knobs a suite may set for small runs; every task documents its defaults. */
export interface TaskSizing {
  /** Images per class kept from the training split (after the validation split is carved off); 0 = all. */
  trainPerClass: number;
  /** Examples carved from the training split for `validate` (never the test split). */
  valSize: number;
  /** Examples of the test split used for the final metrics; 0 = the whole split. */
  testSize: number;
  /** Batch size for evaluation (does not change results beyond float rounding). */
  evalBatchSize: number;
}

/** How the harness fine-tunes: the same for every method, so comparisons are fair. */
export interface FineTuneRecipe {
  optimizer: 'sgd';
  momentum: number;
  /** Learning rate at the start of every `train` call (times the call's lrScale). */
  learningRate: number;
  /** `cosine`: decays to 0 over the examples of each `train` call; `constant`: no decay. */
  schedule: 'cosine' | 'constant';
  /** Coupled L2 weight decay, as PyTorch's SGD, on every trainable parameter. */
  weightDecay: number;
  batchSize: number;
  /** Standard CIFAR augmentation: random crop with 4-pixel zero padding + horizontal flip. */
  augment: boolean;
}

/** Where a task gets its dense starting point. */
export type StartingPoint =
  | { kind: 'pretrained'; weights: string }
  | { kind: 'dense-training'; recipe: FineTuneRecipe; examples: number; seed: number };

export interface QualityScores {
  quality: number;
  qualityName: string;
  top1?: number;
  top5?: number;
  accuracy?: number;
  mcc?: number;
  f1?: number;
}

/** Paths and hooks a task may need while loading. */
export interface TaskEnvironment {
  /** Folder with the dataset (e.g. a `cifar-10-batches-bin` folder or its parent); tasks have defaults. */
  dataDir?: string;
  /** Folder with pretrained weights. */
  weightsDir?: string;
  /** Cache for dense-training checkpoints (`datasets/cache/checkpoints`). */
  cacheDir: string;
  log(message: string): void;
}

/** A task with its data in memory, ready to serve runs. */
export interface LoadedTask {
  /** Size of the training (sub)set one epoch covers. */
  readonly trainExamples: number;
  /** Endless training batches: epochs in an order drawn from `rng`, with the recipe's augmentation. */
  trainBatches(batchSize: number, rng: SeededRng): Iterator<Batch>;
  /** Training batches without augmentation, for scoring (SNIP, HRank, CKA). */
  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[];
  /**
   * The first `count` examples of the validation split, no augmentation, in fixed order (the same every call):
   * the fixed set for post-run measures such as flatness. Fewer when the split is smaller.
   */
  evaluationBatches(count: number, batchSize: number): Batch[];
  /** Quality on the validation split (carved from train) or the test split; the model's current weights. */
  evaluate(model: Model, split: 'val' | 'test'): Promise<QualityScores>;
  /** A fresh copy of the dense starting model (pretrained, or the cached dense-training checkpoint). */
  startingModel(): Promise<Model>;
  /** The task's prunable-parameter rule (conv + linear weights, first conv and classifier included). */
  prunable(model: Model): string[];
  /** Layers for MAC counting. */
  traceLayers(model: Model): LayerSpec[];
  dispose(): void;
}

export interface TaskDefinition {
  id: string;
  description: string;
  dataset: string;
  model: string;
  qualityName: string;
  recipe: FineTuneRecipe;
  defaultSizing: TaskSizing;
  startingPoint: StartingPoint;
  /** Rough speeds for the dry-run's time estimate (measured or scaled from a measurement; say which backend). */
  throughputHint?: { backend: string; trainPerSecond: number; evalPerSecond: number };
  load(sizing: TaskSizing, env: TaskEnvironment): Promise<LoadedTask>;
}
