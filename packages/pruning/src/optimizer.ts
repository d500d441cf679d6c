import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { lossTensorAndGradients, readScalar, type LossFunction } from './loss.js';
import { getParam, maskTensor } from './masks.js';
import type { Batch, Masks } from './types.js';

/**
 * The one optimizer of the benchmark: PyTorch's SGD (heavy-ball momentum, coupled L2 weight decay) and AdamW
 * (bias-corrected moments, decoupled weight decay), with masks enforced. Used by the harness trainer, the test
 * trainers and SAFE's own steps. `step` only turns gradients into a parameter update; `trainStep` is the usual
 * composition (loss and gradients of one batch, then a step).
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
  dispose(): void;
}

export function createMaskedOptimizer(settings: MaskedOptimizerSettings): MaskedOptimizer {
  return settings.kind === 'adamw' ? new MaskedAdamW(settings) : new MaskedSgd(settings);
}

/**
 * One training step on one batch: loss and gradients of every parameter, one optimizer step, and the loss read back
 * once after the update is queued (so a GPU backend gets the whole step before the host waits). Returns the batch
 * loss before the step.
 */
export async function trainStep(model: Model, batch: Batch, optimizer: MaskedOptimizer, options: OptimizerStepOptions, lossFn?: LossFunction): Promise<number> {
  const { loss, grads } = lossTensorAndGradients(model, batch, undefined, lossFn);
  try {
    optimizer.step(model, grads, options);
  } catch (error) {
    loss.dispose();
    throw error;
  } finally {
    tf.dispose([...grads.values()]);
  }
  return readScalar(loss);
}

/** Buffers by prefix (`momentum`, `adam-m`, `adam-v`), each a map from parameter name to tensor. */
abstract class BufferedOptimizer {
  steps = 0;
  protected readonly buffers: ReadonlyMap<string, Map<string, tf.Tensor>>;

  constructor(prefixes: readonly string[]) {
    this.buffers = new Map(prefixes.map((prefix) => [prefix, new Map<string, tf.Tensor>()]));
  }

  state(): OptimizerState {
    const tensors = new Map<string, tf.Tensor>();
    for (const [prefix, table] of this.buffers) for (const [name, t] of table) tensors.set(`${prefix}/${name}`, tf.clone(t));
    return { steps: this.steps, tensors };
  }

  restore(state: OptimizerState): void {
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
    this.dispose();
    this.steps = state.steps;
    for (const { table, name, tensor } of entries) table.set(name, tf.clone(tensor));
  }

  dispose(): void {
    for (const table of this.buffers.values()) {
      tf.dispose([...table.values()]);
      table.clear();
    }
  }
}

class MaskedSgd extends BufferedOptimizer implements MaskedOptimizer {
  constructor(readonly settings: Extract<MaskedOptimizerSettings, { kind: 'sgd' }>) {
    super(['momentum']);
  }

  step(model: Model, grads: ReadonlyMap<string, tf.Tensor>, options: OptimizerStepOptions): void {
    const { momentum, weightDecay } = this.settings;
    const { learningRate, masks } = options;
    const velocity = this.buffers.get('momentum')!;
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
  constructor(readonly settings: Extract<MaskedOptimizerSettings, { kind: 'adamw' }>) {
    super(['adam-m', 'adam-v']);
  }

  /**
   * PyTorch's AdamW at step t (this call's count): w ← w·(1 − lr·wd) [decayed kinds]; m ← β1·m + (1−β1)·g;
   * v ← β2·v + (1−β2)·g²; w ← w − lr·(m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
   */
  step(model: Model, grads: ReadonlyMap<string, tf.Tensor>, options: OptimizerStepOptions): void {
    const { beta1, beta2, eps, weightDecay } = this.settings;
    const { learningRate, masks } = options;
    const moments = { m: this.buffers.get('adam-m')!, v: this.buffers.get('adam-v')! };
    const step = ++this.steps;
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
