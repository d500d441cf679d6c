/**
 * Small, honest stand-ins for tests: toy models that implement `Model`, toy data, and BudgetedTrainers that keep
 * the harness trainer's contract (`describeBudgetedTrainerContract`, run against each). Not for benchmarking.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import type { ArchSpec, ForwardOptions, LayerInputTap, Model, ParamKind, ResNetCifarArch } from '@prunebench/models';
import { disposeBatch } from './batch.js';
import { BudgetLedger, checkTrainRequest } from './budget.js';
import { lossAndGradients, readScalar } from './loss.js';
import { applyMasks, cloneMasks, countKept, disposeMasks } from './masks.js';
import { dueMaskUpdates, replaceMasks } from './mask-update.js';
import { createMaskedOptimizer, trainStep, type MaskedOptimizerSettings } from './optimizer.js';
import {
  type Batch,
  type BudgetedTrainer,
  type MaskUpdateRecord,
  type MethodContext,
  type PruningMethod,
  type PruningTarget,
  type TrainOptions,
  type TrainSummary,
} from './types.js';

export const TOY_FEATURES = 8;
export const TOY_CLASSES = 3;

class ToyModel implements Model {
  readonly params = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();
  readonly paramKinds = new Map<string, ParamKind>();
  constructor(
    readonly arch: ArchSpec,
    private readonly run: (model: ToyModel, input: tf.Tensor, tap?: LayerInputTap) => tf.Tensor,
  ) {}
  /** Variables get tfjs's auto-generated names: several toy models may live side by side. */
  add(name: string, kind: ParamKind, values: tf.Tensor): void {
    this.params.set(name, tf.variable(values, true));
    this.paramKinds.set(name, kind);
    values.dispose();
  }
  p(name: string): tf.Variable {
    return this.params.get(name)!;
  }
  forward(input: tf.Tensor | Record<string, tf.Tensor>, opts?: ForwardOptions): tf.Tensor {
    if (!(input instanceof tf.Tensor)) throw new Error('toy models take a single input tensor [n, 8]');
    return tf.tidy(() => this.run(this, input, opts?.tap));
  }
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/**
 * An MLP over 8 features: `sizes` = [8, hidden…, 3] (default [8, 16, 3]; [8, 3] is softmax regression).
 * Parameters `fc{i}.weight` (linear, [in, out]) and `fc{i}.bias`; ReLU between layers; Kaiming-normal init
 * from `seed`, biases small and nonzero.
 */
export function createToyModel(options: { seed: number; sizes?: number[] }): Model {
  const sizes = options.sizes ?? [TOY_FEATURES, 16, TOY_CLASSES];
  if (sizes.length < 2 || sizes[0] !== TOY_FEATURES || sizes[sizes.length - 1] !== TOY_CLASSES) {
    throw new Error(`sizes must start with ${TOY_FEATURES} and end with ${TOY_CLASSES}, got [${sizes}]`);
  }
  const rng = new SeededRng(options.seed).fork('toy-mlp-init');
  const model = new ToyModel({ family: 'toy-mlp', sizes }, (m, x, tap) => {
    let h = x;
    for (let i = 1; i < sizes.length; i++) {
      tap?.({ weight: `fc${i}.weight`, input: h });
      h = tf.add(tf.matMul(h, m.p(`fc${i}.weight`)), m.p(`fc${i}.bias`));
      if (i < sizes.length - 1) h = tf.relu(h);
    }
    return h;
  });
  for (let i = 1; i < sizes.length; i++) {
    const [fin, fout] = [sizes[i - 1], sizes[i]];
    model.add(`fc${i}.weight`, 'linear', tf.tensor(rng.normalArray(fin * fout, Math.sqrt(2 / fin)), [fin, fout]));
    model.add(`fc${i}.bias`, 'bias', tf.tensor(rng.normalArray(fout, 0.01), [fout]));
  }
  return model;
}

/**
 * A tiny CNN on the same 8 features seen as a 2×2×2 image: conv1 3×3 2→4 (`conv1.weight`, HWIO), a per-channel
 * affine (`norm1.weight` / `norm1.bias`, kinds norm-scale / norm-shift, no running statistics), ReLU, conv2 3×3
 * 4→6, ReLU, global average pool, classifier `fc.weight` [6, 3] + `fc.bias`.
 */
export function createToyConvModel(options: { seed: number }): Model {
  const rng = new SeededRng(options.seed).fork('toy-conv-init');
  const model = new ToyModel({ family: 'toy-conv' }, (m, x, tap) => {
    const img = tf.reshape(x, [-1, 2, 2, 2]);
    // 'same' padding of a 3×3 kernel at stride 1 is one pixel on every side.
    tap?.({ weight: 'conv1.weight', input: img, conv: { stride: 1, pad: 1 } });
    const c1 = tf.conv2d(img as tf.Tensor4D, m.p('conv1.weight') as tf.Tensor4D, 1, 'same');
    const h1 = tf.relu(tf.add(tf.mul(c1, m.p('norm1.weight')), m.p('norm1.bias')));
    tap?.({ weight: 'conv2.weight', input: h1, conv: { stride: 1, pad: 1 } });
    const h = tf.relu(tf.conv2d(h1 as tf.Tensor4D, m.p('conv2.weight') as tf.Tensor4D, 1, 'same'));
    const pooled = tf.mean(h, [1, 2]);
    tap?.({ weight: 'fc.weight', input: pooled });
    return tf.add(tf.matMul(pooled, m.p('fc.weight')), m.p('fc.bias'));
  });
  model.add('conv1.weight', 'conv2d', tf.tensor(rng.normalArray(3 * 3 * 2 * 4, Math.sqrt(2 / 18)), [3, 3, 2, 4]));
  model.add('norm1.weight', 'norm-scale', tf.ones([4]));
  model.add('norm1.bias', 'norm-shift', tf.zeros([4]));
  model.add('conv2.weight', 'conv2d', tf.tensor(rng.normalArray(3 * 3 * 4 * 6, Math.sqrt(2 / 36)), [3, 3, 4, 6]));
  model.add('fc.weight', 'linear', tf.tensor(rng.normalArray(6 * 3, Math.sqrt(2 / 6)), [6, 3]));
  model.add('fc.bias', 'bias', tf.zeros([3]));
  return model;
}

/** The conv/linear weights of a model (the usual prunable set). */
export function weightNames(model: Model): string[] {
  return [...model.paramKinds].filter(([, kind]) => kind === 'conv2d' || kind === 'linear').map(([name]) => name);
}

/**
 * `n` examples of 8 standard-normal features, labelled by a fixed random linear teacher (the same teacher
 * for every `rng`, so train and validation sets agree).
 */
export function toyClassificationData(rng: SeededRng, n: number): Batch {
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be an integer >= 1, got ${n}`);
  const teacher = new SeededRng(7).normalArray(TOY_FEATURES * TOY_CLASSES);
  const x = rng.normalArray(n * TOY_FEATURES);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < TOY_CLASSES; c++) {
      let s = 0;
      for (let f = 0; f < TOY_FEATURES; f++) s += x[i * TOY_FEATURES + f] * teacher[f * TOY_CLASSES + c];
      if (s > bestScore) [best, bestScore] = [c, s];
    }
    labels[i] = best;
  }
  return { inputs: tf.tensor2d(x, [n, TOY_FEATURES]), labels: tf.tensor1d(labels, 'int32'), size: n };
}

/** The recipe of a test trainer: batch size, learning rate (times the call's lrScale) and the MaskedOptimizer's settings. */
export interface ToyTrainerRecipe {
  batchSize: number;
  learningRate: number;
  optimizer: MaskedOptimizerSettings;
}

/** What one `train` call asked for, with its masks summarised as counts (the masks themselves may be disposed later). */
export interface TrainCallRecord {
  examples: number;
  label?: string;
  lrScale?: number;
  keptWeights: number | null;
  /** The architecture trained (structured methods: the surgered model). */
  arch: unknown;
}

/**
 * The body every test trainer shares, so they keep the BudgetedTrainer contract the harness's trainer keeps
 * (`describeBudgetedTrainerContract`): the budget through a BudgetLedger (checked before any work, charged per
 * step), `train` as masked steps of a fresh MaskedOptimizer (constant learning rate), `gradients` the dense loss
 * gradient. Subclasses supply the data: the training order, `sampleBatches` and the validation score.
 */
export abstract class ToyBudgetedTrainer implements BudgetedTrainer {
  /** Every train call, for tests that check how a method spent its budget. */
  readonly trainCalls: TrainCallRecord[] = [];
  private readonly ledger: BudgetLedger;

  constructor(
    totalExamples: number,
    protected readonly recipe: ToyTrainerRecipe,
    /** Called at the start of every train call, before the masks are applied (tests inspect what the method handed over). */
    private readonly onTrainStart?: (model: Model, options: TrainOptions) => void,
  ) {
    this.ledger = new BudgetLedger(totalExamples);
  }

  get totalExamples(): number {
    return this.ledger.total;
  }

  usedExamples(): number {
    return this.ledger.used;
  }

  remainingExamples(): number {
    return this.ledger.remaining;
  }

  /** Called once a train call passed its checks, before its first batch (e.g. to start an epoch). */
  protected beginTrainCall(): void {}
  /** The next `size` training examples in the trainer's own order. */
  protected abstract nextTrainBatch(size: number): Batch;
  abstract sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[];
  /** Quality of the model on the validation data; must change nothing. */
  protected abstract validationScore(model: Model): Promise<number>;

  async train(model: Model, options: TrainOptions): Promise<TrainSummary> {
    const { examples, lrScale } = checkTrainRequest(this.ledger, options);
    const { masks } = options;
    this.beginTrainCall();
    this.trainCalls.push({
      examples,
      label: options.label,
      lrScale: options.lrScale,
      keptWeights: masks ? await countKept(masks) : null,
      arch: structuredClone(model.arch),
    });
    this.onTrainStart?.(model, options);
    if (masks) applyMasks(model, masks);
    const optimizer = createMaskedOptimizer(this.recipe.optimizer);
    const hook = options.maskUpdate;
    // With a mask-update hook the trainer owns the current masks (the caller's stay as they were).
    let current = hook ? cloneMasks(masks!) : masks;
    const maskUpdates: MaskUpdateRecord[] = [];
    let done = 0;
    let lossSum = 0;
    let lastLoss = NaN;
    try {
      while (done < examples) {
        const size = Math.min(this.recipe.batchSize, examples - done);
        this.ledger.charge(size);
        const batch = this.nextTrainBatch(size);
        try {
          lastLoss = await trainStep(model, batch, optimizer, { learningRate: this.recipe.learningRate * lrScale, masks: current });
        } finally {
          disposeBatch(batch);
        }
        lossSum += lastLoss;
        const before = done;
        done += size;
        for (const index of hook ? dueMaskUpdates(before, done, hook, examples) : []) {
          const next = await hook!.update({ index, examples: done, totalExamples: examples, model, masks: current! });
          maskUpdates.push(next ? await replaceMasks(model, optimizer, current!, next, { index, examples: done }) : { index, examples: done, grown: 0, dropped: 0 });
          if (next) current = next;
        }
      }
    } catch (error) {
      if (hook) disposeMasks(current);
      throw error;
    } finally {
      optimizer.dispose();
    }
    const steps = optimizer.steps;
    return { steps, examples, finalLoss: lastLoss, losses: [lossSum / steps], ...(hook ? { masks: current, maskUpdates } : {}) };
  }

  async gradients(model: Model, batch: Batch): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    this.ledger.charge(batch.size);
    return lossAndGradients(model, batch);
  }

  validate(model: Model): Promise<number> {
    return this.validationScore(model);
  }
}

/** Fraction of `data` the model classifies right (inference mode, nothing changed). */
export async function accuracyOn(model: Model, data: Batch): Promise<number> {
  return readScalar(tf.tidy(() => {
    const logits = model.forward(data.inputs, { training: false });
    const correct = tf.equal(tf.argMax(logits, -1), tf.cast(data.labels, 'int32'));
    return tf.mean(tf.cast(correct, 'float32'));
  }));
}

export interface SimpleTrainerOptions {
  totalExamples: number;
  seed?: number;
  trainSize?: number;
  validationSize?: number;
  batchSize?: number;
  learningRate?: number;
  momentum?: number;
  /** Called at the start of every train call, before the trainer applies its masks (tests inspect what the method handed over). */
  onTrainStart?: (model: Model, options: TrainOptions) => void;
}

/** SGD with momentum (batch 16, lr 0.05, μ 0.9 by default) on toy data (`toyClassificationData`), epochs in a seeded order. */
export class SimpleBudgetedTrainer extends ToyBudgetedTrainer {
  private readonly train_: Batch;
  private readonly validation: Batch;
  private readonly orderRng: SeededRng;
  private order: Int32Array;
  private cursor = 0;

  constructor(options: SimpleTrainerOptions) {
    super(options.totalExamples, {
      batchSize: options.batchSize ?? 16,
      learningRate: options.learningRate ?? 0.05,
      optimizer: { kind: 'sgd', momentum: options.momentum ?? 0.9, weightDecay: 0 },
    }, options.onTrainStart);
    const rng = new SeededRng(options.seed ?? 0);
    this.train_ = toyClassificationData(rng.fork('train'), options.trainSize ?? 256);
    this.validation = toyClassificationData(rng.fork('validation'), options.validationSize ?? 128);
    this.orderRng = rng.fork('order');
    this.order = new Int32Array(0);
  }

  /** Every train call starts a fresh epoch; an epoch ends where the next batch would not fit. */
  protected override beginTrainCall(): void {
    this.order = this.orderRng.permutation(this.train_.size);
    this.cursor = 0;
  }

  protected nextTrainBatch(size: number): Batch {
    if (this.cursor + size > this.train_.size) {
      this.order = this.orderRng.permutation(this.train_.size);
      this.cursor = 0;
    }
    const batch = gather(this.train_, this.order.slice(this.cursor, this.cursor + size));
    this.cursor += size;
    return batch;
  }

  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[] {
    if (!Number.isInteger(count) || count < 1) throw new Error(`count must be an integer >= 1, got ${count}`);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > this.train_.size) {
      throw new Error(`batchSize must be an integer in [1, ${this.train_.size}], got ${batchSize}`);
    }
    return Array.from({ length: count }, () => gather(this.train_, rng.permutation(this.train_.size).slice(0, batchSize)));
  }

  protected validationScore(model: Model): Promise<number> {
    return accuracyOn(model, this.validation);
  }

  dispose(): void {
    disposeBatch(this.train_);
    disposeBatch(this.validation);
  }
}

function gather(data: Batch, indices: Int32Array): Batch {
  const idx = tf.tensor1d(indices, 'int32');
  const batch = { inputs: tf.gather(data.inputs as tf.Tensor, idx), labels: tf.gather(data.labels, idx), size: indices.length };
  idx.dispose();
  return batch;
}

/** Plain-array copies of the named parameters (for exact comparisons in tests). */
export async function snapshotValues(model: Model, names: readonly string[] = [...model.params.keys()]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const name of names) out.set(name, Float32Array.from((await model.params.get(name)!.data()) as Float32Array));
  return out;
}

/** A MethodContext for tests: options parsed through the method, conv/linear weights prunable by default, logs collected. */
export function testMethodContext<O extends Record<string, unknown>>(
  method: PruningMethod<O>,
  setup: { model: Model; trainer: BudgetedTrainer; target: PruningTarget; options?: Record<string, unknown>; prunable?: string[]; seed?: number },
): MethodContext<O> & { messages: string[] } {
  const messages: string[] = [];
  return {
    model: setup.model,
    options: method.parseOptions(setup.options),
    target: setup.target,
    trainer: setup.trainer,
    rng: new SeededRng(setup.seed ?? 0),
    prunable: setup.prunable ?? weightNames(setup.model),
    log: (message) => messages.push(message),
    messages,
  };
}

/**
 * A budgeted trainer over random 8×8×3 images with 3 classes (SGD lr 0.01, μ 0.9, batches of 8), for methods that
 * change the model's shape (structured pruning). Every train call is recorded with the arch it trained
 * (`calls`), so a test can check the surgered model was the one fine-tuned.
 */
export class RandomImageTrainer extends ToyBudgetedTrainer {
  private readonly rng = new SeededRng(11);
  constructor(totalExamples: number) {
    super(totalExamples, { batchSize: 8, learningRate: 0.01, optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 0 } });
  }
  get calls(): readonly TrainCallRecord[] {
    return this.trainCalls;
  }
  private batch(size: number, rng: SeededRng): Batch {
    const labels = Array.from({ length: size }, (_, i) => i % 3);
    return { inputs: tf.tensor4d(rng.normalArray(size * 8 * 8 * 3), [size, 8, 8, 3]), labels: tf.tensor1d(labels, 'int32'), size };
  }
  protected nextTrainBatch(size: number): Batch {
    return this.batch(size, this.rng);
  }
  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[] {
    return Array.from({ length: count }, () => this.batch(batchSize, rng));
  }
  /** Accuracy on 24 fixed random images (chance: the labels are unrelated to the pixels). */
  protected async validationScore(model: Model): Promise<number> {
    const batch = this.batch(24, new SeededRng(12));
    try {
      return await accuracyOn(model, batch);
    } finally {
      disposeBatch(batch);
    }
  }
}

export { describeBudgetedTrainerContract, type TrainerContractSetup } from './trainer-contract.js';
export { expectGradientsClose } from './gradient-reads.test-util.js';

/**
 * The small surgered ResNet-CIFAR (a removed option-A block and a removed identity block) the compiled-step
 * training tests share, at batch 4 on 8×8 images: one architecture, so lavapipe compiles its kernels once (at
 * their first dispatch, about a minute on a busy CPU) for all of them.
 */
export const COMPILED_STEP_TEST_ARCH: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 10, numClasses: 5, stem: 4,
  stages: [
    { blocks: [{ mid: 3, out: 4, stride: 1 }] },
    { blocks: [{ mid: 6, out: 8, stride: 2 }, { mid: 0, out: 8, stride: 1, removed: true }] },
    { blocks: [{ mid: 0, out: 12, stride: 2, removed: true }] },
  ],
};
