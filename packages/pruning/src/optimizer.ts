import * as tf from '@tensorflow/tfjs';
import { compiledStepEnv, fusedMaskedUpdate, startedWebgpuAdapter, type CompiledAdamWSettings, type CompiledSgdSettings, type CompiledTrainingStep } from '@prunebench/engine';
import { compiledTrainingStepFor, type Model } from '@prunebench/models';
import { lossAndGradients, lossTensorAndGradients, readScalar, type LossFunction } from './loss.js';
import { getParam, maskTensor } from './masks.js';
import type { Batch, Masks } from './types.js';

/**
 * The one optimizer of the benchmark: PyTorch's SGD (heavy-ball momentum, coupled L2 weight decay) and AdamW
 * (bias-corrected moments, decoupled weight decay), with masks enforced. Used by the harness trainer, the test
 * trainers and SAFE's own steps. `step` only turns gradients into a parameter update; `trainStep` is the usual
 * composition (loss and gradients of one batch, then a step), and where the model has a compiled training step
 * (issue 16: one submit per step on webgpu) it runs that instead, with the optimizer's state moved onto it.
 */

/** Parameter kinds AdamW decays (weight matrices, convolutions and tables); biases and norms are not, as in BERT fine-tuning. */
export const ADAMW_DECAYED_KINDS: ReadonlySet<string> = new Set(['linear', 'conv2d', 'embedding']);

export type MaskedOptimizerSettings =
  | {
    kind: 'sgd';
    /** Heavy-ball momentum (PyTorch's form: v ← μ·v + g; w ← w − lr·v); 0 = plain SGD, no buffers. */
    momentum: number;
    /** L2 penalty added to the gradient of every parameter (PyTorch's weight_decay). */
    weightDecay: number;
  }
  | {
    kind: 'adamw';
    beta1: number;
    beta2: number;
    eps: number;
    /** Decoupled weight decay w ← w·(1 − lr·wd), on parameters of ADAMW_DECAYED_KINDS only. */
    weightDecay: number;
  };

export interface OptimizerStepOptions {
  learningRate: number;
  /** Pruned weights (mask 0) get no gradient (so no momentum or moments) and are set to +0 after the update. */
  masks?: Masks;
}

/**
 * The optimizer's state: steps taken (AdamW's bias correction) and its buffers under checkpoint names —
 * `momentum/<param>` (SGD), `adam-m/<param>` and `adam-v/<param>` (AdamW). A buffer is created on a parameter's first
 * update, so a fresh optimizer has none.
 */
export interface OptimizerState {
  steps: number;
  tensors: Map<string, tf.Tensor>;
}

/** OptimizerState on the host: each buffer's shape and values. */
export interface OptimizerStateData {
  steps: number;
  arrays: Map<string, { shape: number[]; data: Float32Array }>;
}

export interface MaskedOptimizer {
  readonly settings: MaskedOptimizerSettings;
  /** Updates taken so far (`step` calls, plus the count of a restored state). */
  readonly steps: number;
  /**
   * One update of every parameter in `grads` (the caller keeps and disposes `grads`). Masked parameters: the gradient
   * is multiplied by the mask before anything else reads it, and pruned entries of the result are exactly +0.
   */
  step(model: Model, grads: ReadonlyMap<string, tf.Tensor>, options: OptimizerStepOptions): void;
  /** A copy of the state (clones: the caller disposes them; tfjs clones share memory until written). */
  state(): OptimizerState;
  /** Replaces the state by a copy of `state` (the caller keeps ownership); throws on a buffer name this optimizer does not keep. */
  restore(state: OptimizerState): void;
  /**
   * Where the state lives: null = this optimizer's tensors, else on a compiled step's GPU buffers (written there
   * now, read back when it moves again). `step`, `state` and `restore` need it home (`moveStateTo(null)`);
   * `trainStep` moves it as it needs.
   */
  moveStateTo(compiled: CompiledTrainingStep | null): Promise<void>;
  /**
   * The state read back to the host as it stands now in queue order — steps issued after this call returns do
   * not change it — wherever it lives, without moving it (a checkpoint taken while training goes on).
   */
  readState(): Promise<OptimizerStateData>;
  /** When `trainStep` uses the model's compiled step (createMaskedOptimizer's `compiled`). */
  readonly compiled: CompiledStepUse;
  dispose(): void;
}

/**
 * When `trainStep` runs the model's compiled training step (where one exists: ResNet-CIFAR and BERT on webgpu) instead
 * of the op-by-op one — and, under the same rule, when `denseLossAndGradients` reads gradients on the compiled
 * gradient step and the masked optimizers' `step` runs fused on webgpu (one dispatch per parameter). Their numbers equal the
 * op-by-op ones up to float32 rounding (tested), not bit for bit.
 * - 'auto': on a hardware GPU adapter only. On a software adapter (lavapipe) it is slower per image, and each new
 *   layer shape costs pipeline compiles of minutes on a busy CPU.
 * - 'always': wherever one exists (its tests, the perf benchmark). 'never': op-by-op.
 * The environment variable PRUNEBENCH_COMPILED_STEP=0 turns it off everywhere; =1 makes 'auto' use it on a
 * software adapter too (e.g. `prunebench run` on lavapipe, to check a run end to end).
 */
export type CompiledStepUse = 'auto' | 'always' | 'never';

export const COMPILED_STEP_USES: readonly CompiledStepUse[] = ['auto', 'always', 'never'];

export interface MaskedOptimizerOptions {
  /** Default 'auto'. */
  compiled?: CompiledStepUse;
}

export function createMaskedOptimizer(settings: MaskedOptimizerSettings, options: MaskedOptimizerOptions = {}): MaskedOptimizer {
  const compiled = options.compiled ?? 'auto';
  if (!COMPILED_STEP_USES.includes(compiled)) throw new Error(`optimizer: compiled must be one of ${COMPILED_STEP_USES.join(', ')}, got ${JSON.stringify(compiled)}`);
  return settings.kind === 'adamw' ? new MaskedAdamW(settings, compiled) : new MaskedSgd(settings, compiled);
}

/**
 * One training step on one batch: loss and gradients of every parameter, one optimizer step, and the loss read back
 * once after the update is queued (so a GPU backend gets the whole step before the host waits). Returns the batch
 * loss before the step.
 */
export async function trainStep(model: Model, batch: Batch, optimizer: MaskedOptimizer, options: OptimizerStepOptions, lossFn?: LossFunction): Promise<number> {
  return (await issueTrainStep(model, batch, optimizer, options, lossFn)).loss;
}

/**
 * `trainStep` in two halves, for a loop that keeps the queue busy: resolves once the step is queued (every command
 * encoded and submitted; the batch may be disposed then), with `loss` resolving once the value is read back and
 * `compiled` saying which path ran. A
 * caller that issues step k + 1 before awaiting step k's loss never lets a GPU wait for the host.
 *
 * The model's compiled step runs where one exists for the model, these inputs and this optimizer, the loss is the
 * default cross-entropy (`lossFn` absent) and every parameter is trained; otherwise the op-by-op step.
 */
export async function issueTrainStep(
  model: Model, batch: Batch, optimizer: MaskedOptimizer, options: OptimizerStepOptions, lossFn?: LossFunction,
): Promise<{ loss: Promise<number>; compiled: boolean }> {
  const compiled = compiledStepWanted(optimizer.compiled) && !lossFn ? await compiledTrainingStepFor(model, batch.inputs, { optimizer: optimizer.settings.kind }) : null;
  if (compiled && compiled.trainedNames.length === model.params.size) {
    await optimizer.moveStateTo(compiled);
    return { loss: compiled.step(batch.inputs, batch.labels, compiledSettings(optimizer.settings, options)), compiled: true };
  }
  await optimizer.moveStateTo(null);
  const { loss, grads } = lossTensorAndGradients(model, batch, undefined, lossFn);
  try {
    optimizer.step(model, grads, options);
  } catch (error) {
    loss.dispose();
    throw error;
  } finally {
    tf.dispose([...grads.values()]);
  }
  return { loss: readScalar(loss), compiled: false };
}

/**
 * Whether `use` lets work run on the GPU paths of issue 16 (the model's compiled step where one exists, the fused
 * updates), on the adapter started now: the one rule for the training step, gradient reads and fused updates.
 */
export function compiledStepWanted(use: CompiledStepUse): boolean {
  return use === 'always' || (use === 'auto' && (compiledStepEnv() === 'software-too' || startedWebgpuAdapter()?.software === false));
}

/** MaskedSgd's and MaskedAdamW's `step` run fused (one dispatch per parameter) on webgpu, under the compiled step's rule. */
function fusedUpdateWanted(use: CompiledStepUse): boolean {
  return tf.getBackend() === 'webgpu' && compiledStepWanted(use);
}

/**
 * Loss and the dense gradient of every parameter for one batch (the trainer's `gradients`: training-mode forward,
 * running statistics updated, no parameter changed; the caller disposes the gradients). On the model's compiled
 * gradient step (one submit, as the compiled training step but with no update) where `use` allows it and one
 * exists, else tfjs's op by op; both give the same numbers up to float32 rounding (tested).
 */
export async function denseLossAndGradients(model: Model, batch: Batch, use: CompiledStepUse = 'auto'): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
  const compiled = compiledStepWanted(use) ? await compiledTrainingStepFor(model, batch.inputs, { optimizer: 'gradient' }) : null;
  if (compiled && compiled.trainedNames.length === model.params.size) return compiled.gradients(batch.inputs, batch.labels);
  return lossAndGradients(model, batch);
}

function compiledSettings(settings: MaskedOptimizerSettings, options: OptimizerStepOptions): CompiledSgdSettings | CompiledAdamWSettings {
  const { learningRate, masks } = options;
  return settings.kind === 'adamw'
    ? { kind: 'adamw', learningRate, masks, beta1: settings.beta1, beta2: settings.beta2, eps: settings.eps, weightDecay: settings.weightDecay }
    : { kind: 'sgd', learningRate, masks, momentum: settings.momentum, weightDecay: settings.weightDecay };
}

/**
 * Which optimizer last wrote its state onto each compiled step: a step's buffers are shared by a model's optimizers
 * (a fresh one per train call), so an optimizer whose state was overwritten there must not read it back as its own.
 */
const stateWriter = new WeakMap<CompiledTrainingStep, MaskedOptimizer>();

/** Buffers by prefix (`momentum`, `adam-m`, `adam-v`), each a map from parameter name to tensor. */
abstract class BufferedOptimizer {
  steps = 0;
  protected readonly buffers: ReadonlyMap<string, Map<string, tf.Tensor>>;
  /** The compiled step holding the state (the tensors are then stale and dropped), or null. */
  private holder: CompiledTrainingStep | null = null;

  constructor(prefixes: readonly string[], readonly compiled: CompiledStepUse) {
    this.buffers = new Map(prefixes.map((prefix) => [prefix, new Map<string, tf.Tensor>()]));
  }

  async moveStateTo(compiled: CompiledTrainingStep | null): Promise<void> {
    if (compiled === this.holder) return;
    if (this.holder) {
      const holder = this.holder;
      if (stateWriter.get(holder) !== (this as unknown as MaskedOptimizer)) {
        throw new Error('optimizer state lost: another optimizer wrote its state onto the compiled step this one used');
      }
      const values = await holder.readState();
      this.dropTensors();
      for (const [key, v] of values) {
        const slash = key.indexOf('/');
        const name = key.slice(slash + 1);
        this.buffers.get(key.slice(0, slash))!.set(name, tf.tensor(v, holder.shapeOf(name)));
      }
      this.steps = holder.steps;
      this.holder = null;
    }
    if (compiled) {
      const values = new Map<string, Float32Array>();
      for (const [prefix, table] of this.buffers) for (const [name, t] of table) values.set(`${prefix}/${name}`, (await t.data()) as Float32Array);
      compiled.writeState(values);
      compiled.steps = this.steps;
      stateWriter.set(compiled, this as unknown as MaskedOptimizer);
      this.dropTensors();
      this.holder = compiled;
    }
  }

  readState(): Promise<OptimizerStateData> {
    const holder = this.holder;
    if (holder) {
      const steps = holder.steps;
      return holder.readState().then((values) => {
        const arrays = new Map<string, { shape: number[]; data: Float32Array }>();
        for (const [key, data] of values) arrays.set(key, { shape: holder.shapeOf(key.slice(key.indexOf('/') + 1)), data });
        return { steps, arrays };
      });
    }
    const { steps, tensors } = this.state();
    return (async () => {
      const arrays = new Map<string, { shape: number[]; data: Float32Array }>();
      try {
        for (const [key, t] of tensors) arrays.set(key, { shape: [...t.shape], data: Float32Array.from(await t.data()) });
      } finally {
        tf.dispose([...tensors.values()]);
      }
      return { steps, arrays };
    })();
  }

  protected checkHome(what: string): void {
    if (this.holder) throw new Error(`optimizer ${what}: the state is on a compiled step; await moveStateTo(null) first`);
  }

  state(): OptimizerState {
    this.checkHome('state()');
    const tensors = new Map<string, tf.Tensor>();
    for (const [prefix, table] of this.buffers) for (const [name, t] of table) tensors.set(`${prefix}/${name}`, tf.clone(t));
    return { steps: this.steps, tensors };
  }

  restore(state: OptimizerState): void {
    this.checkHome('restore()');
    if (!Number.isInteger(state.steps) || state.steps < 0) throw new Error(`optimizer state: steps must be an integer >= 0, got ${state.steps}`);
    const entries: { table: Map<string, tf.Tensor>; name: string; tensor: tf.Tensor }[] = [];
    for (const [key, tensor] of state.tensors) {
      const slash = key.indexOf('/');
      const table = slash > 0 ? this.buffers.get(key.slice(0, slash)) : undefined;
      if (!table) {
        throw new Error(`optimizer state has a buffer "${key}" this optimizer does not keep (it keeps ${[...this.buffers.keys()].map((p) => `${p}/<param>`).join(', ')})`);
      }
      entries.push({ table, name: key.slice(slash + 1), tensor });
    }
    this.dropTensors();
    this.steps = state.steps;
    for (const { table, name, tensor } of entries) table.set(name, tf.clone(tensor));
  }

  private dropTensors(): void {
    for (const table of this.buffers.values()) {
      tf.dispose([...table.values()]);
      table.clear();
    }
  }

  dispose(): void {
    this.dropTensors();
    if (this.holder && stateWriter.get(this.holder) === (this as unknown as MaskedOptimizer)) stateWriter.delete(this.holder);
    this.holder = null;
  }
}

class MaskedSgd extends BufferedOptimizer implements MaskedOptimizer {
  constructor(readonly settings: Extract<MaskedOptimizerSettings, { kind: 'sgd' }>, compiled: CompiledStepUse) {
    super(['momentum'], compiled);
  }

  step(model: Model, grads: ReadonlyMap<string, tf.Tensor>, options: OptimizerStepOptions): void {
    this.checkHome('step()');
    const { momentum, weightDecay } = this.settings;
    const { learningRate, masks } = options;
    const velocity = this.buffers.get('momentum')!;
    // on a GPU where the compiled step would run: one dispatch per parameter, one submit (the same update)
    if (fusedUpdateWanted(this.compiled)) {
      const names = [...grads.keys()];
      const updated = fusedMaskedUpdate(names.map((name) => ({
        param: getParam(model, name), grad: grads.get(name)!, state: [velocity.get(name) ?? null], mask: masks?.get(name) ?? null,
      })), { kind: 'sgd', learningRate, momentum, weightDecay });
      this.steps++;
      names.forEach((name, i) => {
        velocity.get(name)?.dispose();
        if (momentum !== 0) velocity.set(name, updated[i]![0]!);
        else updated[i]![0]!.dispose();
      });
      return;
    }
    this.steps++;
    for (const [name, grad] of grads) {
      const param = getParam(model, name);
      const mask = masks?.get(name);
      tf.tidy(() => {
        let g: tf.Tensor = grad;
        if (weightDecay !== 0) g = tf.add(g, tf.mul(param, weightDecay));
        if (mask) g = tf.mul(g, mask);
        const previous = velocity.get(name);
        const v = momentum !== 0 && previous ? tf.add(tf.mul(previous, momentum), g) : g;
        if (momentum !== 0) {
          previous?.dispose();
          velocity.set(name, tf.keep(v.clone()));
        }
        let updated = tf.sub(param, tf.mul(v, learningRate));
        if (mask) updated = maskTensor(updated, mask);
        param.assign(updated);
      });
    }
  }
}

class MaskedAdamW extends BufferedOptimizer implements MaskedOptimizer {
  constructor(readonly settings: Extract<MaskedOptimizerSettings, { kind: 'adamw' }>, compiled: CompiledStepUse) {
    super(['adam-m', 'adam-v'], compiled);
  }

  /**
   * PyTorch's AdamW at step t (this call's count): w ← w·(1 − lr·wd) [decayed kinds]; m ← β1·m + (1−β1)·g;
   * v ← β2·v + (1−β2)·g²; w ← w − lr·(m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
   */
  step(model: Model, grads: ReadonlyMap<string, tf.Tensor>, options: OptimizerStepOptions): void {
    this.checkHome('step()');
    const { beta1, beta2, eps, weightDecay } = this.settings;
    const { learningRate, masks } = options;
    const moments = { m: this.buffers.get('adam-m')!, v: this.buffers.get('adam-v')! };
    const step = ++this.steps;
    // on a GPU where the compiled step would run: one dispatch per parameter, one submit (the same update)
    if (fusedUpdateWanted(this.compiled)) {
      const names = [...grads.keys()];
      const updated = fusedMaskedUpdate(names.map((name) => ({
        param: getParam(model, name), grad: grads.get(name)!, state: [moments.m.get(name) ?? null, moments.v.get(name) ?? null],
        mask: masks?.get(name) ?? null, decayed: ADAMW_DECAYED_KINDS.has(model.paramKinds.get(name) ?? ''),
      })), { kind: 'adamw', learningRate, beta1, beta2, eps, weightDecay, step });
      names.forEach((name, i) => {
        moments.m.get(name)?.dispose();
        moments.v.get(name)?.dispose();
        moments.m.set(name, updated[i]![0]!);
        moments.v.set(name, updated[i]![1]!);
      });
      return;
    }
    for (const [name, grad] of grads) {
      const param = getParam(model, name);
      const mask = masks?.get(name);
      const decay = ADAMW_DECAYED_KINDS.has(model.paramKinds.get(name) ?? '') && weightDecay !== 0 ? learningRate * weightDecay : 0;
      tf.tidy(() => {
        const g = mask ? tf.mul(grad, mask) : grad;
        const previousM = moments.m.get(name);
        const previousV = moments.v.get(name);
        const m = previousM ? tf.add(tf.mul(previousM, beta1), tf.mul(g, 1 - beta1)) : tf.mul(g, 1 - beta1);
        const v = previousV ? tf.add(tf.mul(previousV, beta2), tf.mul(tf.square(g), 1 - beta2)) : tf.mul(tf.square(g), 1 - beta2);
        previousM?.dispose();
        previousV?.dispose();
        moments.m.set(name, tf.keep(m));
        moments.v.set(name, tf.keep(v));
        const decayedParam = decay !== 0 ? tf.mul(param, 1 - decay) : param;
        const update = tf.div(tf.div(m, 1 - beta1 ** step), tf.add(tf.sqrt(tf.div(v, 1 - beta2 ** step)), eps));
        let updated = tf.sub(decayedParam, tf.mul(update, learningRate));
        if (mask) updated = maskTensor(updated, mask);
        param.assign(updated);
      });
    }
  }
}
