import type { SeededRng } from '@prunebench/engine';
import type { LatencyInputSpec } from '@prunebench/metrics';
import type { LayerSpec, Model } from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';
import type { BatchStream } from '../batch-stream.js';

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
  /**
   * `sgd`: PyTorch's SGD with heavy-ball momentum and coupled L2 weight decay on every parameter.
   * `adamw`: PyTorch's AdamW (bias-corrected moments, decoupled weight decay), decay on weight matrices and
   * embedding tables only (not biases or norms, as Hugging Face's GLUE fine-tuning).
   */
  optimizer: 'sgd' | 'adamw';
  /** SGD momentum (ignored by AdamW). */
  momentum: number;
  /** Learning rate at the start of every `train` call (times the call's lrScale); the peak after warm-up. */
  learningRate: number;
  /**
   * `cosine`: decays to 0 over the examples of each `train` call; `constant`: no decay; `linear`: linear warm-up over
   * `warmupFraction` of the call, then linear decay to 0 (BERT's schedule).
   */
  schedule: 'cosine' | 'constant' | 'linear';
  /** Weight decay: coupled L2 for SGD (PyTorch's weight_decay), decoupled for AdamW. */
  weightDecay: number;
  batchSize: number;
  /** Standard CIFAR augmentation: random crop with 4-pixel zero padding + horizontal flip (image tasks only). */
  augment: boolean;
  /** AdamW's (β1, β2); default [0.9, 0.999]. */
  betas?: [number, number];
  /** AdamW's ε; default 1e-6 (BERT's). */
  eps?: number;
  /** Fraction of each train call spent warming up (`linear` schedule); default 0. */
  warmupFraction?: number;
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
  /** Folder with the BERT vocabulary (`bert-base-uncased/vocab.txt` or `vocab.txt`); default env PRUNEBENCH_VOCAB. */
  vocabDir?: string;
  /** GLUE data (a GLUE root or a task folder); default: resolveGlueTask's order (PRUNEBENCH_GLUE, PRUNEBENCH_DATA, cache). */
  glueDir?: string;
  /** Folder with Hugging Face BERT checkpoints `bert-tiny/`, `bert-mini/` to fine-tune from; default env PRUNEBENCH_BERT_CHECKPOINTS. */
  bertCheckpointsDir?: string;
  /** Cache for dense-training checkpoints (`datasets/cache/checkpoints`). */
  cacheDir: string;
  log(message: string): void;
  /** Stops the dense training of a starting point after its current step, with a checkpoint (Ctrl-C). */
  signal?: AbortSignal;
}

/** A task with its data in memory, ready to serve runs. */
export interface LoadedTask {
  /** Size of the training (sub)set one epoch covers. */
  readonly trainExamples: number;
  /** Endless training batches: epochs in an order drawn from `rng`, with the recipe's augmentation. */
  trainBatches(batchSize: number, rng: SeededRng): Iterator<Batch>;
  /**
   * The same batches as `trainBatches`, prepared ahead of the step (a worker thread); optional: the trainer uses
   * `trainBatches` without it (batch-stream.ts).
   */
  trainBatchStream?(batchSize: number, rng: SeededRng): BatchStream;
  /** Training batches without augmentation, for scoring (SNIP, HRank, CKA). */
  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[];
  /**
   * The first `count` examples of the validation split, no augmentation, in fixed order (the same every call):
   * the fixed set for post-run measures such as flatness. Fewer when the split is smaller.
   */
  evaluationBatches(count: number, batchSize: number): Batch[];
  /** Quality on the validation split (carved from train) or the test split; the model's current weights. */
  evaluate(model: Model, split: 'val' | 'test'): Promise<QualityScores>;
  /**
   * The same scores from any predictor of logits (e.g. an ONNX Runtime session of the exported, quantized model):
   * `predict` gets each evaluation batch's inputs (as `forward` takes them; the task disposes them) and returns its
   * logits [n, classes] row-major.
   */
  evaluateWith?(predict: (inputs: Batch['inputs']) => Promise<Float32Array>, split: 'val' | 'test'): Promise<QualityScores>;
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
  /**
   * The exported model's inputs for latency (one example, no batch dimension), e.g. BERT's three token inputs at the
   * task's sequence length. Absent: one float32 image input [3, 32, 32] (the CIFAR tasks).
   */
  latencyInputs?: LatencyInputSpec[];
  load(sizing: TaskSizing, env: TaskEnvironment): Promise<LoadedTask>;
  /** Size of the task's model from its architecture alone (no data or weights; BERT: the bert-base-uncased vocabulary). */
  modelSize?(): Promise<ModelSize>;
  /**
   * Examples in one epoch of the training split for `sizing`, known without loading data (exact whenever the task
   * loads with that sizing): what an `{ "epochs": n }` budget multiplies.
   */
  trainExamples?(sizing: TaskSizing): number;
}

/** A model's size: trainable parameters, of them prunable by the task's rule, and MACs per example. */
export interface ModelSize {
  parameters: number;
  prunable: number;
  macs: number;
}
