import * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop, type SeededRng } from '@prunebench/engine';
import type { Model } from '@prunebench/models';
import {
  BudgetLedger,
  applyMasks,
  checkTrainRequest,
  cloneMasks,
  createMaskedOptimizer,
  disposeBatch,
  disposeMasks,
  distillationLossFunction,
  dueMaskUpdates,
  denseLossAndGradients,
  replaceMasks,
  issueTrainStep,
  type Batch,
  type BudgetedTrainer,
  type CompiledStepUse,
  type DistillationSettings,
  type MaskUpdateRecord,
  type MaskedOptimizer,
  type MaskedOptimizerSettings,
  type Masks,
  type TrainOptions,
  type TrainSummary,
} from '@prunebench/pruning';
import { openTrainStream } from './batch-stream.js';
import { canonicalJson } from './canonical.js';
import { CheckpointMismatchError, NonFiniteLossError, RunInterruptedError } from './errors.js';
import { learningRateAt } from './schedule.js';
import type { FineTuneRecipe, LoadedTask } from './tasks/types.js';
import type { StoredArray, TensorFileContents } from './tensor-file.js';

/** One row of a run's training log (`log.jsonl`): one per chunk of a `train` call. */
export interface TrainLogRow {
  /** Index of the `train` call within the run (0-based). */
  call: number;
  label?: string;
  /** Optimizer steps done in this call so far. */
  step: number;
  /** Examples trained in this chunk. */
  examples: number;
  /** Budget used by the run after this chunk. */
  budgetUsed: number;
  /** Mean training loss over the chunk. */
  loss: number;
  /** Learning rate at the chunk's last step. */
  lr: number;
  /** Wall time of the run so far (across resumes). */
  wallSeconds: number;
}

/** Where the trainer keeps its checkpoints (the run store implements it; absent = no checkpoints). */
export interface TrainerCheckpoints {
  readFinished(call: number): TensorFileContents | null;
  readPartial(call: number): TensorFileContents | null;
  /** Writes the state after a completed `train` call and drops that call's partial checkpoint. */
  writeFinished(call: number, contents: TensorFileContents): void;
  writePartial(call: number, contents: TensorFileContents): void;
}

export interface HarnessTrainerOptions {
  task: Pick<LoadedTask, 'trainBatches' | 'trainBatchStream' | 'sampleBatches' | 'evaluate' | 'trainExamples'>;
  recipe: FineTuneRecipe;
  totalExamples: number;
  /** The run's generator; each train call draws its data order from `rng.fork('train-call-<k>')`. */
  rng: SeededRng;
  /** Examples per log row and per mid-call checkpoint. */
  chunkExamples: number;
  checkpoints?: TrainerCheckpoints;
  /** Called after every chunk with the whole log so far (the store rewrites log.jsonl atomically). */
  onChunk?: (rows: readonly TrainLogRow[]) => void;
  /** Called after every step (and every `gradients` call) with the budget used. */
  onProgress?: (usedExamples: number, totalExamples: number) => void;
  /** Wall seconds spent before this process (restored on resume). */
  priorWallSeconds?: number;
  /** Checked before every step: when aborted, training writes a checkpoint of the step just done and stops with RunInterruptedError. */
  signal?: AbortSignal;
  /**
   * Knowledge distillation in every `train` call (not in `gradients`): the loss is `distillationLoss` against the
   * teacher's logits for the same (augmented) batch, computed in inference mode. Teacher forwards are not charged to
   * the budget; they are counted (`teacherForwardExamples`) and recorded (docs/budget.md).
   */
  distillation?: DistillationSettings & { teacher: Model };
  /** When to train on the model's compiled step (CompiledStepUse; default 'auto': on a hardware GPU adapter). */
  compiledStep?: CompiledStepUse;
}

interface CallSignature {
  call: number;
  examples: number;
  /** Always 1 (train no longer takes gradient evaluations per step); kept so checkpoints of earlier versions still match. */
  gradientEvaluationsPerStep: 1;
  lrScale: number;
  label: string | null;
  budgetBefore: number;
  masks: string;
  /** Only with a mask-update hook (so checkpoints of calls without one keep their signature). */
  maskUpdateEvery?: number;
}

/**
 * The real BudgetedTrainer: the task's recipe (a MaskedOptimizer: SGD + momentum + weight decay, or AdamW; cosine,
 * linear-with-warm-up or constant learning rate over each train call; a fresh optimizer per call, as a method
 * re-creating its optimizer per round) over the task's training stream. The trainer itself keeps the budget (a
 * BudgetLedger: checked before the call, charged before each step), the loop, the log and the checkpoints; the
 * optimizer keeps pruned weights at exactly +0 (the masks are applied before the first step too).
 *
 * Resume granularity: the state is checkpointed after every chunk of a train call (params, buffers, the optimizer's
 * `state()` — `momentum/<param>` or `adam-m/<param>` and `adam-v/<param>` —, step, budget, log) and after every completed call (params + buffers). On resume the method
 * runs again from its start with the same seed; completed calls are not retrained but restored from
 * their checkpoints, and the interrupted call continues from its last chunk. Work a method does outside
 * `train` (scoring, mask selection, `gradients`, `validate`) is recomputed, deterministically.
 */
export class HarnessTrainer implements BudgetedTrainer {
  readonly totalExamples: number;
  readonly log: TrainLogRow[] = [];
  private readonly budget: BudgetLedger;
  private callIndex = 0;
  private readonly started = Date.now();
  private teacherForwards = 0;
  private readonly work = { steps: 0, compiledSteps: 0, seconds: 0, batchSeconds: 0 };

  constructor(private readonly options: HarnessTrainerOptions) {
    this.budget = new BudgetLedger(options.totalExamples);
    if (!(options.chunkExamples > 0)) throw new Error(`chunkExamples must be positive, got ${options.chunkExamples}`);
    this.totalExamples = options.totalExamples;
  }

  usedExamples(): number {
    return this.budget.used;
  }

  remainingExamples(): number {
    return this.budget.remaining;
  }

  /**
   * Optimizer steps this trainer took, how many of them on the model's compiled step, and the wall seconds spent
   * in `train` calls doing so, of which `batchSeconds` waiting for the training batches — in this process: calls
   * restored from checkpoints add nothing.
   */
  trainingWork(): { steps: number; compiledSteps: number; seconds: number; batchSeconds: number } {
    return { ...this.work };
  }

  /** Examples the distillation teacher has run forward on (0 without distillation); restored on resume. */
  teacherForwardExamples(): number {
    return this.teacherForwards;
  }

  wallSeconds(): number {
    return (this.options.priorWallSeconds ?? 0) + (Date.now() - this.started) / 1000;
  }

  async train(model: Model, options: TrainOptions): Promise<TrainSummary> {
    const { examples, lrScale } = checkTrainRequest(this.budget, options);

    const call = this.callIndex++;
    const signature: CallSignature = {
      call, examples, gradientEvaluationsPerStep: 1, lrScale, label: options.label ?? null,
      budgetBefore: this.budget.used, masks: await masksDigest(options.masks),
      ...(options.maskUpdate ? { maskUpdateEvery: options.maskUpdate.every } : {}),
    };
    const hook = options.maskUpdate;
    const checkpoints = this.options.checkpoints;
    const finished = checkpoints?.readFinished(call);
    if (finished) {
      checkSignature(finished, signature);
      restoreModel(model, finished.arrays);
      const meta = finished.meta as unknown as { budgetUsed: number; log: TrainLogRow[]; summary: TrainSummary; teacherForwards?: number };
      this.budget.restore(meta.budgetUsed);
      this.teacherForwards = meta.teacherForwards ?? 0;
      this.log.splice(0, this.log.length, ...meta.log);
      this.options.onProgress?.(this.budget.used, this.totalExamples);
      return hook ? { ...meta.summary, masks: checkpointMasks(finished.arrays, options.masks!) } : meta.summary;
    }

    const { recipe } = this.options;
    const optimizer = createMaskedOptimizer(optimizerSettings(recipe), { compiled: this.options.compiledStep ?? 'auto' });
    let step = 0;
    let compiledSteps = 0;
    let done = 0;
    const losses: number[] = [];
    let chunkLossSum = 0;
    let chunkExamples = 0;
    let lastLoss = NaN;
    let lr = learningRateAt(recipe, lrScale, 0, examples);
    // With a mask-update hook the trainer owns the current masks (the caller's stay as they were).
    let current = hook ? cloneMasks(options.masks!) : options.masks;
    const maskUpdates: MaskUpdateRecord[] = [];
    const distillation = this.options.distillation;

    const partial = checkpoints?.readPartial(call);
    if (partial) {
      checkSignature(partial, signature);
      restoreModel(model, partial.arrays);
      const meta = partial.meta as unknown as {
        step: number; compiledSteps?: number; done: number; budgetUsed: number; log: TrainLogRow[]; losses: number[];
        chunk?: { lossSum: number; examples: number; lastLoss: number | null };
        teacherForwards?: number; maskUpdates?: MaskUpdateRecord[];
      };
      if (hook) {
        disposeMasks(current);
        current = checkpointMasks(partial.arrays, options.masks!);
        maskUpdates.push(...(meta.maskUpdates ?? []));
      }
      this.teacherForwards = meta.teacherForwards ?? 0;
      restoreOptimizer(optimizer, partial.arrays, meta.step);
      step = meta.step;
      compiledSteps = meta.compiledSteps ?? 0;
      done = meta.done;
      this.budget.restore(meta.budgetUsed);
      losses.push(...meta.losses);
      this.log.splice(0, this.log.length, ...meta.log);
      // A checkpoint written at an interrupt sits inside a chunk: its running loss continues the log row.
      if (meta.chunk) {
        chunkLossSum = meta.chunk.lossSum;
        chunkExamples = meta.chunk.examples;
        lastLoss = meta.chunk.lastLoss ?? NaN;
      }
    }

    /**
     * Model, optimizer state and position in the call as they stand now, so a resume continues from this very step.
     * Taken at once (tensor clones and queued reads: steps issued afterwards do not change it); the function it
     * returns waits for the reads and writes the checkpoint with the log as it is then, so training goes on between.
     */
    const snapshot = () => {
      const at = {
        step, compiledSteps, done, budgetUsed: this.budget.used,
        ...(distillation ? { teacherForwards: this.teacherForwards } : {}),
        ...(hook ? { maskUpdates: [...maskUpdates] } : {}),
      };
      const clones = new Map<string, tf.Tensor>();
      for (const [name, v] of model.params) clones.set(`param/${name}`, tf.clone(v));
      for (const [name, v] of model.buffers) clones.set(`buffer/${name}`, tf.clone(v));
      if (hook) for (const [name, mask] of current!) clones.set(`mask/${name}`, tf.clone(mask));
      const state = optimizer.readState();
      return async () => {
        const arrays = new Map<string, StoredArray>();
        try {
          for (const [key, t] of clones) arrays.set(key, await fromTensor(t));
        } finally {
          tf.dispose([...clones.values()]);
        }
        for (const [key, { shape, data }] of (await state).arrays) arrays.set(key, { dtype: 'float32', shape, data });
        // Written once every step up to this one is booked: the log, losses and running chunk are as of this step.
        const chunk = chunkExamples > 0 ? { chunk: { lossSum: chunkLossSum, examples: chunkExamples, lastLoss: Number.isFinite(lastLoss) ? lastLoss : null } } : {};
        checkpoints!.writePartial(call, { meta: { signature, ...at, ...chunk, log: this.log, losses, wallSeconds: this.wallSeconds() }, arrays });
        savedAtStep = at.step;
      };
    };
    let savedAtStep = step;

    /**
     * The step whose loss is still on its way: the loop issues the next step before waiting for it, so a GPU always
     * has work queued while the host prepares the next batch. Booking it checks the loss and, at the end of a chunk,
     * writes the log row and the checkpoint snapshotted right after that step.
     */
    interface InFlight {
      loss: Promise<number>;
      step: number;
      take: number;
      budgetUsed: number;
      lr: number;
      chunkEnd: boolean;
      writeCheckpoint: (() => Promise<void>) | null;
    }
    let inFlight: InFlight | null = null;
    let issuedInChunk = chunkExamples;
    const book = async () => {
      if (!inFlight) return;
      const booked: InFlight = inFlight;
      inFlight = null;
      const loss = await booked.loss;
      if (!Number.isFinite(loss)) {
        throw new NonFiniteLossError(loss, `at step ${booked.step} of train call ${call}${options.label ? ` (${options.label})` : ''}`);
      }
      lastLoss = loss;
      chunkLossSum += loss * booked.take;
      chunkExamples += booked.take;
      if (!booked.chunkEnd) return;
      const mean = chunkLossSum / chunkExamples;
      losses.push(mean);
      this.log.push({
        call, ...(options.label ? { label: options.label } : {}), step: booked.step, examples: chunkExamples,
        budgetUsed: booked.budgetUsed, loss: mean, lr: booked.lr, wallSeconds: this.wallSeconds(),
      });
      chunkLossSum = 0;
      chunkExamples = 0;
      await booked.writeCheckpoint?.();
      this.options.onChunk?.(this.log);
    };

    const trainStarted = Date.now();
    const stepsBefore = step, compiledBefore = compiledSteps;
    // Batches prepared ahead where the task can (batch-stream.ts); a resume first passes over those already trained on.
    const stream = openTrainStream(this.options.task, recipe.batchSize, this.options.rng.fork(`train-call-${call}`));
    stream.skip(step);
    let batchSeconds = 0;
    try {
      if (current) applyMasks(model, current);
      while (done < examples) {
        // A macrotask turn between steps, so signal handlers (Ctrl-C) run while training is under way.
        await yieldToEventLoop();
        if (this.options.signal?.aborted) {
          await book();
          // Stop after the step just done, with a checkpoint of it (unless the last one already is).
          if (checkpoints && step > savedAtStep) await snapshot()();
          throw new RunInterruptedError();
        }
        const asked = performance.now();
        let batch = await stream.next();
        batchSeconds += (performance.now() - asked) / 1000;
        const take = Math.min(batch.size, examples - done);
        if (take < batch.size) batch = truncateBatch(batch, take);
        this.budget.charge(take);
        lr = learningRateAt(recipe, lrScale, done, examples);
        let issued: { loss: Promise<number>; compiled: boolean };
        try {
          if (distillation) {
            const teacherLogits = tf.tidy(() => distillation.teacher.forward(batch.inputs, { training: false }));
            this.teacherForwards += take;
            try {
              issued = await issueTrainStep(model, batch, optimizer, { learningRate: lr, masks: current }, distillationLossFunction(teacherLogits, distillation));
            } finally {
              teacherLogits.dispose();
            }
          } else {
            issued = await issueTrainStep(model, batch, optimizer, { learningRate: lr, masks: current });
          }
        } finally {
          disposeBatch(batch);
        }
        step++;
        if (issued.compiled) compiledSteps++;
        const before = done;
        done += take;
        // The previous step's loss (and its chunk's checkpoint) arrives while this one runs.
        await book();
        // Mask updates of this step run before its log row and checkpoint, so a resume restores their masks.
        for (const index of hook ? dueMaskUpdates(before, done, hook, examples) : []) {
          const next = await hook!.update({ index, examples: done, totalExamples: examples, model, masks: current! });
          maskUpdates.push(next ? await replaceMasks(model, optimizer, current!, next, { index, examples: done }) : { index, examples: done, grown: 0, dropped: 0 });
          if (next) current = next;
        }
        this.options.onProgress?.(this.budget.used, this.totalExamples);
        issuedInChunk += take;
        const chunkEnd = issuedInChunk >= this.options.chunkExamples || done === examples;
        if (chunkEnd) issuedInChunk = 0;
        // Observed here too, so a loss left unread when an earlier one fails is no unhandled rejection.
        issued.loss.catch(() => undefined);
        inFlight = {
          loss: issued.loss, step, take, budgetUsed: this.budget.used, lr, chunkEnd,
          writeCheckpoint: chunkEnd && done < examples && checkpoints ? snapshot() : null,
        };
      }
      await book();
    } catch (error) {
      if (hook) disposeMasks(current);
      throw error;
    } finally {
      await stream.close();
      optimizer.dispose();
      this.work.batchSeconds += batchSeconds;
      this.work.steps += step - stepsBefore;
      this.work.compiledSteps += compiledSteps - compiledBefore;
      this.work.seconds += (Date.now() - trainStarted) / 1000;
    }
    const summary: TrainSummary = { steps: step, compiledSteps, examples: done, finalLoss: lastLoss, losses, ...(hook ? { maskUpdates } : {}) };
    const arrays = await modelArrays(model);
    if (hook) for (const [name, mask] of current!) arrays.set(`mask/${name}`, await fromTensor(mask));
    checkpoints?.writeFinished(call, {
      meta: {
        signature, budgetUsed: this.budget.used, log: this.log, summary, wallSeconds: this.wallSeconds(),
        ...(distillation ? { teacherForwards: this.teacherForwards } : {}),
      } as unknown as Record<string, unknown>,
      arrays,
    });
    return hook ? { ...summary, masks: current } : summary;
  }

  async gradients(model: Model, batch: Batch): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    this.budget.charge(batch.size);
    // on the model's compiled gradient step where training would use the compiled step (the same rule)
    const result = await denseLossAndGradients(model, batch, this.options.compiledStep ?? 'auto');
    this.options.onProgress?.(this.budget.used, this.totalExamples);
    return result;
  }

  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[] {
    return this.options.task.sampleBatches(count, batchSize, rng);
  }

  async validate(model: Model): Promise<number> {
    return (await this.options.task.evaluate(model, 'val')).quality;
  }
}

/** The MaskedOptimizer of a recipe: SGD with its momentum and coupled decay, or AdamW (β defaults 0.9, 0.999; ε 1e-6, BERT's). */
export function optimizerSettings(recipe: FineTuneRecipe): MaskedOptimizerSettings {
  if (recipe.optimizer === 'adamw') {
    const [beta1, beta2] = recipe.betas ?? [0.9, 0.999];
    return { kind: 'adamw', beta1, beta2, eps: recipe.eps ?? 1e-6, weightDecay: recipe.weightDecay };
  }
  return { kind: 'sgd', momentum: recipe.momentum, weightDecay: recipe.weightDecay };
}

/** The optimizer's buffers from a partial checkpoint (every array not under `param/` or `buffer/`), at `steps` steps. */
function restoreOptimizer(optimizer: MaskedOptimizer, arrays: Map<string, StoredArray>, steps: number): void {
  const tensors = new Map<string, tf.Tensor>();
  for (const [key, array] of arrays) if (!key.startsWith('param/') && !key.startsWith('buffer/') && !key.startsWith('mask/')) tensors.set(key, toTensor(array));
  try {
    optimizer.restore({ steps, tensors });
  } catch (error) {
    throw new CheckpointMismatchError(`cannot resume: ${(error as Error).message} (the checkpoint was written by another optimizer)`);
  } finally {
    tf.dispose([...tensors.values()]);
  }
}

/** The masks a checkpoint of a call with a mask-update hook holds (`mask/<name>`), for the names of `like`. */
function checkpointMasks(arrays: Map<string, StoredArray>, like: Masks): Masks {
  const masks: Masks = new Map();
  for (const name of like.keys()) {
    const stored = arrays.get(`mask/${name}`);
    if (!stored) {
      disposeMasks(masks);
      throw new CheckpointMismatchError(`checkpoint has no mask "${name}"`);
    }
    masks.set(name, toTensor(stored));
  }
  return masks;
}

function truncateBatch(batch: Batch, size: number): Batch {
  const head = (t: tf.Tensor) => tf.slice(t, 0, size);
  const inputs = batch.inputs instanceof tf.Tensor
    ? head(batch.inputs)
    : Object.fromEntries(Object.entries(batch.inputs).map(([k, t]) => [k, head(t)]));
  const labels = head(batch.labels);
  disposeBatch(batch);
  return { inputs, labels, size };
}


async function masksDigest(masks: Masks | undefined): Promise<string> {
  if (!masks) return 'none';
  const parts: string[] = [];
  for (const name of [...masks.keys()].sort()) {
    const values = await masks.get(name)!.data();
    let kept = 0;
    let weighted = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) { kept++; weighted = (weighted + i * 2654435761) % 4294967296; }
    parts.push(`${name}:${kept}:${weighted}`);
  }
  return parts.join(',');
}

function checkSignature(checkpoint: TensorFileContents, expected: CallSignature): void {
  const found = (checkpoint.meta as { signature?: unknown }).signature;
  if (canonicalJson(found) !== canonicalJson(expected)) {
    throw new CheckpointMismatchError(
      `cannot resume: train call ${expected.call} differs from the checkpointed one ` +
        `(checkpoint ${JSON.stringify(found)}, now ${JSON.stringify(expected)}); the run restarts from scratch next time`,
    );
  }
}

async function fromTensor(t: tf.Tensor): Promise<StoredArray> {
  return { dtype: t.dtype === 'int32' ? 'int32' : 'float32', shape: [...t.shape], data: (await t.data()) as Float32Array | Int32Array };
}

function toTensor(array: StoredArray): tf.Tensor {
  return tf.tensor(array.data, array.shape, array.dtype);
}

/** Params and buffers under `param/<name>` and `buffer/<name>`. */
export async function modelArrays(model: Model): Promise<Map<string, StoredArray>> {
  const arrays = new Map<string, StoredArray>();
  for (const [name, v] of model.params) arrays.set(`param/${name}`, await fromTensor(v));
  for (const [name, v] of model.buffers) arrays.set(`buffer/${name}`, await fromTensor(v));
  return arrays;
}

export function restoreModel(model: Model, arrays: Map<string, StoredArray>): void {
  for (const [kind, table] of [['param', model.params], ['buffer', model.buffers]] as const) {
    for (const [name, variable] of table) {
      const stored = arrays.get(`${kind}/${name}`);
      // A mismatch means the checkpoint belongs to another model (e.g. another surgery): the run starts afresh.
      if (!stored) throw new CheckpointMismatchError(`checkpoint has no ${kind} "${name}"`);
      if (stored.shape.join(',') !== variable.shape.join(',')) {
        throw new CheckpointMismatchError(`checkpoint ${kind} "${name}" has shape [${stored.shape}], the model has [${variable.shape}]`);
      }
      tf.tidy(() => variable.assign(toTensor(stored)));
    }
  }
}
