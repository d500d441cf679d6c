import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import {
  applyMasks,
  booleanOption,
  countParams,
  enumOption,
  getParam,
  keepCountForTarget,
  layerDensities,
  layerKeepCountsForTarget,
  numberOption,
  parseMethodOptions,
  restrictPrunable,
  trainUnlessEmpty,
  type Batch,
  type BudgetedTrainer,
  type MethodContext,
  type MethodResult,
  type PruningMethod,
} from '@prunebench/pruning';
import { batchNormPrefixes, reestimateBatchNorm } from './batchnorm.js';
import { projectOntoTopK, type ProjectionKeep, type SparsityScope } from './projection.js';
import { globalNorm, samPerturbation } from './sam.js';
import { learningRateAt, penaltyAt, type PenaltySchedule } from './schedules.js';

export interface SafeOptions extends Record<string, unknown> {
  /** SAM perturbation radius ρ (global L2 over all trainable parameters). 0 = plain ADMM. */
  rho: number;
  /** Augmented-Lagrangian penalty λ (its final value under the schedule). */
  lambda: number;
  /** How λ grows over the SAFE steps: cosine λ(1 − cos πt/T)/2, linear λt/T, or constant. */
  lambdaSchedule: PenaltySchedule;
  /** Steps between updates of the sparse variable z and the dual variable u. */
  dualUpdateInterval: number;
  /** Sparsity scope of the projection: one global top-k, or the same sparsity in every layer. */
  sparsityScope: SparsityScope;
  /** Mini-batch size of a SAFE step (each step is charged 2 × batchSize examples). */
  batchSize: number;
  /** Peak learning rate of SGD (warm-up, then cosine decay to 0 over the SAFE steps). */
  learningRate: number;
  momentum: number;
  /** L2 penalty added to every parameter's gradient (optax add_decayed_weights / PyTorch weight_decay). */
  weightDecay: number;
  /** Fraction of the SAFE steps spent in linear learning-rate warm-up. */
  warmupFraction: number;
  /** Examples forwarded (training mode, no gradient, not charged) to re-estimate batch-norm statistics; 0 = skip. */
  bnTuningExamples: number;
  /** Fraction of the budget kept for masked fine-tuning through trainer.train after the final projection; 0 = none. */
  finetuneFraction: number;
  pruneFirstConv: boolean;
  pruneClassifier: boolean;
}

/**
 * Defaults from the reference implementation (LOG-postech/safe-jax: train.py flags, scripts/cifar10_resnet20.sh)
 * and the paper's Algorithm 1; see the README for where each comes from.
 */
export const SAFE_DEFAULTS: SafeOptions = {
  rho: 0.1,
  lambda: 0.001,
  lambdaSchedule: 'cosine',
  dualUpdateInterval: 32,
  sparsityScope: 'global',
  batchSize: 128,
  learningRate: 0.1,
  momentum: 0.9,
  weightDecay: 0.0001,
  warmupFraction: 0.025,
  bnTuningExamples: 10000,
  finetuneFraction: 0,
  pruneFirstConv: true,
  pruneClassifier: true,
};

export const safeMethod: PruningMethod<SafeOptions> = {
  name: 'safe',
  description: 'SAFE (Lee et al., ICML 2025): sparsity-constrained sharpness-aware training by augmented Lagrangian, then projection',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  defaults: SAFE_DEFAULTS,
  parseOptions(options) {
    return parseMethodOptions('safe', SAFE_DEFAULTS, options, {
      rho: numberOption({ min: 0 }),
      lambda: numberOption({ min: 0 }),
      lambdaSchedule: enumOption(['cosine', 'linear', 'constant'] as const),
      dualUpdateInterval: numberOption({ min: 1, integer: true }),
      sparsityScope: enumOption(['global', 'layerwise'] as const),
      batchSize: numberOption({ min: 1, integer: true }),
      learningRate: numberOption({ minExclusive: 0 }),
      momentum: numberOption({ min: 0, maxExclusive: 1 }),
      weightDecay: numberOption({ min: 0 }),
      warmupFraction: numberOption({ min: 0, maxExclusive: 1 }),
      bnTuningExamples: numberOption({ min: 0, integer: true }),
      finetuneFraction: numberOption({ min: 0, maxExclusive: 1 }),
      pruneFirstConv: booleanOption(),
      pruneClassifier: booleanOption(),
    });
  },
  run: runSafe,
};

/** Gradient evaluations charged per SAFE step: one at w, one at the perturbed point w + ε. */
export const GRADIENT_EVALUATIONS_PER_SAFE_STEP = 2;

/** SAFE steps of `batchSize` that fit in `examples` (each step costs 2 × batchSize). */
export function plannedSafeSteps(examples: number, batchSize: number): number {
  return Math.max(0, Math.floor(examples / (GRADIENT_EVALUATIONS_PER_SAFE_STEP * batchSize)));
}

async function runSafe(context: MethodContext<SafeOptions>): Promise<MethodResult> {
  const { model, options, trainer, log } = context;
  const prunable = restrictPrunable(model, context.prunable, options);
  const keepCount = keepCountForTarget(model, prunable, context.target);
  // Layer-wise projections keep the target's per-layer counts (a sparsity target rounds per layer).
  const keep: ProjectionKeep = options.sparsityScope === 'layerwise' ? layerKeepCountsForTarget(model, prunable, context.target) : keepCount;
  const prunableTotal = countParams(model, prunable).prunable;

  const budget = trainer.remainingExamples();
  const finetuneReserve = Math.floor(budget * options.finetuneFraction);
  const steps = plannedSafeSteps(budget - finetuneReserve, options.batchSize);
  log(
    `safe: keep ${keepCount} of ${prunableTotal} prunable weights; ${steps} SAFE steps of batch ${options.batchSize} ` +
      `(${steps * GRADIENT_EVALUATIONS_PER_SAFE_STEP * options.batchSize} of ${budget} examples), ${finetuneReserve} kept for fine-tuning`,
  );

  const state = await SafeState.create(model, prunable, keep, options);
  const losses: number[] = [];
  let dualUpdates = 0;
  let lastPenalty = 0;
  let lastGradNorm = 0;
  const batchRng = context.rng.fork('safe-batches');
  try {
    for (let t = 0; t < steps; t++) {
      const [batch] = trainer.sampleBatches(1, options.batchSize, batchRng);
      try {
        lastPenalty = penaltyAt(t, steps, options.lambda, options.lambdaSchedule);
        const lr = learningRateAt(t, steps, options.learningRate, Math.round(options.warmupFraction * steps));
        const step = await safeStep(trainer, model, batch, state, { penalty: lastPenalty, learningRate: lr });
        losses.push(step.loss);
        lastGradNorm = step.gradNorm;
      } finally {
        disposeBatch(batch);
      }
      if ((t + 1) % options.dualUpdateInterval === 0) {
        await state.dualUpdate();
        dualUpdates++;
      }
      if ((t + 1) % Math.max(1, Math.floor(steps / 10)) === 0 || t === steps - 1) {
        log(`safe step ${t + 1}/${steps}: loss ${step10Mean(losses).toFixed(4)}, λ ${lastPenalty.toExponential(3)}`);
      }
    }
  } finally {
    state.dispose();
  }

  // Final projection of w onto the top-k set: the masks meet the target exactly.
  const weights = new Map(prunable.map((name) => [name, getParam(model, name) as tf.Tensor]));
  const { projected, masks } = await projectOntoTopK(weights, keep, options.sparsityScope);
  const differences = prunable.map((name) => tf.sub(weights.get(name)!, projected.get(name)!));
  const projectionDistance = await globalNorm(differences);
  tf.dispose(differences);
  for (const p of projected.values()) p.dispose();
  applyMasks(model, masks);

  const bnLayers = batchNormPrefixes(model).length;
  let bnTuningBatches = 0;
  if (bnLayers > 0 && options.bnTuningExamples > 0) {
    bnTuningBatches = Math.ceil(options.bnTuningExamples / options.batchSize);
    const bnRng = context.rng.fork('safe-bn-tuning');
    reestimateBatchNorm(model, tuningBatches(trainer, bnTuningBatches, options.batchSize, bnRng));
    log(`safe: re-estimated ${bnLayers} batch-norm layers over ${bnTuningBatches} batches (forward only, not charged)`);
  }

  let finetuneExamples = 0;
  if (options.finetuneFraction > 0) {
    finetuneExamples = trainer.remainingExamples();
    await trainUnlessEmpty(trainer, model, { examples: finetuneExamples, masks, label: 'safe-finetune' });
  }

  return {
    model,
    masks,
    details: {
      steps,
      gradientEvaluations: steps * GRADIENT_EVALUATIONS_PER_SAFE_STEP,
      batchSize: options.batchSize,
      finalPenalty: lastPenalty,
      dualUpdates,
      finalLoss: losses.length > 0 ? losses[losses.length - 1] : null,
      meanLoss: losses.length > 0 ? losses.reduce((a, b) => a + b, 0) / losses.length : null,
      finalGradNorm: lastGradNorm,
      projectionDistance,
      keepCount,
      prunable,
      bnLayers,
      bnTuningBatches,
      finetuneExamples,
      layerDensity: await layerDensities(masks),
    },
  };
}

function step10Mean(losses: number[]): number {
  const tail = losses.slice(-10);
  return tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length);
}

function* tuningBatches(trainer: BudgetedTrainer, count: number, batchSize: number, rng: MethodContext<SafeOptions>['rng']): Generator<Batch> {
  for (let i = 0; i < count; i++) {
    const [batch] = trainer.sampleBatches(1, batchSize, rng);
    try {
      yield batch;
    } finally {
      disposeBatch(batch);
    }
  }
}

function disposeBatch(batch: Batch): void {
  if (batch.inputs instanceof tf.Tensor) batch.inputs.dispose();
  else for (const t of Object.values(batch.inputs)) t.dispose();
  batch.labels.dispose();
}

/** SAFE's optimisation state: the sparse variable z, the scaled dual variable u, and SGD momentum buffers. */
class SafeState {
  readonly z = new Map<string, tf.Tensor>();
  readonly u = new Map<string, tf.Tensor>();
  readonly velocity = new Map<string, tf.Tensor>();

  private constructor(
    readonly model: Model,
    readonly prunable: readonly string[],
    readonly keep: ProjectionKeep,
    readonly options: SafeOptions,
  ) {}

  /** z⁰ = proj(w⁰), u⁰ = 0 (reference implementation's init). */
  static async create(model: Model, prunable: readonly string[], keep: ProjectionKeep, options: SafeOptions): Promise<SafeState> {
    const state = new SafeState(model, prunable, keep, options);
    const weights = new Map(prunable.map((name) => [name, getParam(model, name) as tf.Tensor]));
    const { projected, masks } = await projectOntoTopK(weights, keep, options.sparsityScope);
    for (const m of masks.values()) m.dispose();
    for (const [name, z] of projected) {
      state.z.set(name, z);
      state.u.set(name, tf.zerosLike(z));
    }
    return state;
  }

  /** z ← proj(w + u); u ← u + w − z. */
  async dualUpdate(): Promise<void> {
    const sums = new Map(this.prunable.map((name) => [name, tf.add(getParam(this.model, name), this.u.get(name)!)]));
    const { projected, masks } = await projectOntoTopK(sums, this.keep, this.options.sparsityScope);
    for (const m of masks.values()) m.dispose();
    for (const name of this.prunable) {
      const z = projected.get(name)!;
      const u = tf.sub(sums.get(name)!, z);
      this.z.get(name)!.dispose();
      this.u.get(name)!.dispose();
      sums.get(name)!.dispose();
      this.z.set(name, z);
      this.u.set(name, u);
    }
  }

  dispose(): void {
    for (const map of [this.z, this.u, this.velocity]) {
      for (const t of map.values()) t.dispose();
      map.clear();
    }
  }
}

/**
 * One SAFE step on one batch (two charged gradient evaluations):
 *  g  = ∇f(w)                      (trainer.gradients, charged)
 *  ε  = ρ·g/‖g‖                    (all parameters with a gradient)
 *  g' = ∇f(w + ε)                  (trainer.gradients, charged; weights then restored exactly)
 *  d  = g' + λ_t·(w − z + u) [prunable only] + weightDecay·w
 *  v  ← μ·v + d;  w ← w − lr_t·v
 * Batch-norm running statistics keep the update of the first (unperturbed) pass, as in the reference code.
 */
async function safeStep(
  trainer: BudgetedTrainer,
  model: Model,
  batch: Batch,
  state: SafeState,
  at: { penalty: number; learningRate: number },
): Promise<{ loss: number; gradNorm: number }> {
  const { options } = state;
  const first = await trainer.gradients(model, batch);
  for (const name of state.prunable) {
    if (!first.grads.has(name)) throw new Error(`safe: the trainer returned no gradient for prunable parameter "${name}"`);
  }
  const names = [...first.grads.keys()];
  const { perturbation, gradNorm } = await samPerturbation(first.grads, options.rho);
  for (const g of first.grads.values()) g.dispose();

  const saved = new Map(names.map((name) => [name, getParam(model, name).clone() as tf.Tensor]));
  const savedBuffers = new Map([...model.buffers].map(([name, b]) => [name, b.clone() as tf.Tensor]));
  let second: { loss: number; grads: Map<string, tf.Tensor> };
  try {
    for (const name of names) {
      const param = getParam(model, name);
      tf.tidy(() => param.assign(tf.add(param, perturbation.get(name)!)));
    }
    second = await trainer.gradients(model, batch);
  } finally {
    for (const [name, value] of saved) getParam(model, name).assign(value);
    for (const [name, value] of savedBuffers) model.buffers.get(name)!.assign(value);
    for (const t of [...saved.values(), ...savedBuffers.values(), ...perturbation.values()]) t.dispose();
  }

  const prunable = new Set(state.prunable);
  for (const name of names) {
    const param = getParam(model, name);
    const grad = second.grads.get(name);
    if (!grad) throw new Error(`safe: the trainer returned no gradient for "${name}" at the perturbed point`);
    tf.tidy(() => {
      let d: tf.Tensor = grad;
      if (prunable.has(name) && at.penalty !== 0) {
        d = tf.add(d, tf.mul(tf.add(tf.sub(param, state.z.get(name)!), state.u.get(name)!), at.penalty));
      }
      if (options.weightDecay !== 0) d = tf.add(d, tf.mul(param, options.weightDecay));
      const previous = state.velocity.get(name);
      const v = options.momentum !== 0 && previous ? tf.add(tf.mul(previous, options.momentum), d) : d;
      if (options.momentum !== 0) {
        previous?.dispose();
        state.velocity.set(name, tf.keep(v.clone()));
      }
      param.assign(tf.sub(param, tf.mul(v, at.learningRate)));
    });
  }
  for (const g of second.grads.values()) g.dispose();
  return { loss: first.loss, gradNorm };
}
