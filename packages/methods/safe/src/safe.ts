import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import {
  compiledStepWanted,
  PRUNABLE_OPTIONS,
  defineMethod,
  optionDefaults,
  prunableFor,
  type OptionsOf,
  applyMasks,
  createMaskedOptimizer,
  disposeBatch,
  countPrunableParams,
  enumOption,
  getParam,
  keepCountForTarget,
  layerDensities,
  layerKeepCountsForTarget,
  numberOption,
  trainUnlessEmpty,
  type Batch,
  type BudgetedTrainer,
  type MethodContext,
  type MaskedOptimizer,
  type MaskedOptimizerSettings,
  type MethodResult,
} from '@prunebench/pruning';
import { fusedPenaltyGradient } from '@prunebench/engine';
import { batchNormPrefixes, reestimateBatchNorm } from './batchnorm.js';
import { projectOntoTopK, type ProjectionKeep } from './projection.js';
import { globalNorm, samAscent } from './sam.js';
import { learningRateAt, penaltyAt } from './schedules.js';

const SAFE_OPTIONS = {
  rho: numberOption({ default: 0.1, min: 0, doc: 'SAM perturbation radius ρ (global L2 over all trainable parameters); 0 = plain ADMM (the paper\'s baseline). Reference flag `rho`.' }),
  lambda: numberOption({
    default: 0.001,
    min: 0,
    doc: 'Augmented-Lagrangian penalty λ, its final value under the schedule (`scripts/cifar10_resnet20.sh`: 1e-3; the `train.py` flag default: 1e-4).',
  }),
  lambdaSchedule: enumOption(['cosine', 'linear', 'constant'] as const, {
    default: 'cosine',
    doc: 'How λ grows over the SAFE steps: cosine λ(1 − cos πt/T)/2, linear λt/T, or constant. Reference flag `lambda_schedule`.',
  }),
  dualUpdateInterval: numberOption({ default: 32, min: 1, integer: true, doc: 'Steps between updates of the sparse variable z and the dual u (K in Algorithm 1).' }),
  sparsityScope: enumOption(['global', 'layerwise'] as const, {
    default: 'global',
    doc: 'Projection scope: one global top-k, or the same sparsity in every layer. Reference flag `sp_scope`.',
  }),
  batchSize: numberOption({ default: 128, min: 1, integer: true, doc: 'Mini-batch of a SAFE step; each step is charged 2 × batchSize examples. Reference flag `batch_size`.' }),
  optimizer: enumOption(['sgd', 'adamw'] as const, {
    defaultText: 'family',
    doc: 'Optimizer of the SAFE steps; left out: the model family\'s (SAFE_OPTIMIZER_DEFAULTS: SGD for CIFAR ResNets, AdamW for BERT).',
  }),
  learningRate: numberOption({ minExclusive: 0, defaultText: 'family', doc: 'Peak learning rate (warm-up, then cosine decay to 0 over the SAFE steps); CIFAR 0.1 (flag `lr`), BERT 2e-4.' }),
  momentum: numberOption({ min: 0, maxExclusive: 1, defaultText: 'family', doc: 'SGD heavy-ball momentum (no Nesterov), or AdamW\'s β1; 0.9 for both families.' }),
  weightDecay: numberOption({
    min: 0,
    defaultText: 'family',
    doc: 'SGD: L2 added to every parameter\'s gradient (flag `wd`, 1e-4); AdamW: decoupled decay of weights and tables (0.01).',
  }),
  warmupFraction: numberOption({ min: 0, maxExclusive: 1, defaultText: 'family', doc: 'Fraction of the SAFE steps in linear learning-rate warm-up; CIFAR 0.025 (5 of 200 epochs), BERT 0.1.' }),
  bnTuningExamples: numberOption({
    default: 10000,
    min: 0,
    integer: true,
    doc: 'Examples forwarded (training mode, no gradient, not charged) to re-estimate batch-norm statistics after the projection; 0 = skip. Flag `bnt_sample_size`.',
  }),
  finetuneFraction: numberOption({
    default: 0,
    min: 0,
    maxExclusive: 1,
    doc: 'Share of the budget kept for masked fine-tuning with the task\'s recipe after the projection; the paper reports SAFE without it, hence 0.',
  }),
  ...PRUNABLE_OPTIONS,
};

export type SafeOptions = OptionsOf<typeof SAFE_OPTIONS>;

/**
 * Defaults from the reference implementation (LOG-postech/safe-jax: train.py flags, scripts/cifar10_resnet20.sh)
 * and the paper's Algorithm 1; see the README for where each comes from.
 */
export const SAFE_DEFAULTS: SafeOptions = optionDefaults(SAFE_OPTIONS);

export type SafeOptimizerName = 'sgd' | 'adamw';

export interface SafeOptimizer {
  optimizer: SafeOptimizerName;
  learningRate: number;
  momentum: number;
  weightDecay: number;
  warmupFraction: number;
}

/** AdamW's β2 and ε (the GLUE fine-tuning recipe's). */
export const SAFE_ADAMW_BETA2 = 0.999;
export const SAFE_ADAMW_EPSILON = 1e-6;

/**
 * The SAFE-step optimizer per model family. CIFAR ResNets (and any family not listed): the reference's SGD
 * (scripts/cifar10_resnet20.sh). BERT: AdamW at the GLUE fine-tuning recipe's learning rate, decay and warm-up;
 * SGD at lr 0.1 collapses BERT to the majority class.
 */
export const SAFE_OPTIMIZER_DEFAULTS: Readonly<Record<'resnet-cifar' | 'bert', SafeOptimizer>> = {
  'resnet-cifar': { optimizer: 'sgd', learningRate: 0.1, momentum: 0.9, weightDecay: 0.0001, warmupFraction: 0.025 },
  bert: { optimizer: 'adamw', learningRate: 2e-4, momentum: 0.9, weightDecay: 0.01, warmupFraction: 0.1 },
};

/** The optimizer settings for a model family: the options given, the family's defaults for the rest. */
export function safeOptimizerFor(family: string, options: SafeOptions): SafeOptimizer {
  const defaults = family === 'bert' ? SAFE_OPTIMIZER_DEFAULTS.bert : SAFE_OPTIMIZER_DEFAULTS['resnet-cifar'];
  return {
    optimizer: options.optimizer ?? defaults.optimizer,
    learningRate: options.learningRate ?? defaults.learningRate,
    momentum: options.momentum ?? defaults.momentum,
    weightDecay: options.weightDecay ?? defaults.weightDecay,
    warmupFraction: options.warmupFraction ?? defaults.warmupFraction,
  };
}

export const safeMethod = defineMethod({
  name: 'safe',
  description: 'SAFE (Lee et al., ICML 2025): sparsity-constrained sharpness-aware training by augmented Lagrangian, then projection',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  options: SAFE_OPTIONS,
  run: runSafe,
});

/** Gradient evaluations charged per SAFE step: one at w, one at the perturbed point w + ε. */
export const GRADIENT_EVALUATIONS_PER_SAFE_STEP = 2;

/** SAFE steps of `batchSize` that fit in `examples` (each step costs 2 × batchSize). */
export function plannedSafeSteps(examples: number, batchSize: number): number {
  return Math.max(0, Math.floor(examples / (GRADIENT_EVALUATIONS_PER_SAFE_STEP * batchSize)));
}

async function runSafe(context: MethodContext<SafeOptions>): Promise<MethodResult> {
  const { model, options, trainer, log } = context;
  const prunable = prunableFor('safe', model, context.prunable, options);
  const keepCount = keepCountForTarget(model, prunable, context.target);
  // Layer-wise projections keep the target's per-layer counts (a sparsity target rounds per layer).
  const keep: ProjectionKeep = options.sparsityScope === 'layerwise' ? layerKeepCountsForTarget(model, prunable, context.target) : keepCount;
  const prunableTotal = countPrunableParams(model, prunable).prunable;
  const optimizer = safeOptimizerFor(model.arch.family, options);

  const budget = trainer.remainingExamples();
  const finetuneReserve = Math.floor(budget * options.finetuneFraction);
  const steps = plannedSafeSteps(budget - finetuneReserve, options.batchSize);
  log(
    `safe: keep ${keepCount} of ${prunableTotal} prunable weights; ${steps} SAFE steps of batch ${options.batchSize} ` +
      `(${steps * GRADIENT_EVALUATIONS_PER_SAFE_STEP * options.batchSize} of ${budget} examples), ${finetuneReserve} kept for fine-tuning; ` +
      `${optimizer.optimizer} lr ${optimizer.learningRate}, weight decay ${optimizer.weightDecay}`,
  );

  const state = await SafeState.create(model, prunable, keep, options, optimizer);
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
        const lr = learningRateAt(t, steps, optimizer.learningRate, Math.round(optimizer.warmupFraction * steps));
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
      optimizer,
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

/** SAFE's optimisation state: the sparse variable z, the scaled dual variable u, and the optimizer of its steps. */
class SafeState {
  readonly z = new Map<string, tf.Tensor>();
  readonly u = new Map<string, tf.Tensor>();
  /** The shared MaskedOptimizer (SGD: momentum buffers; AdamW: moments and step count), no masks: SAFE's w is dense. */
  readonly maskedOptimizer: MaskedOptimizer;

  private constructor(
    readonly model: Model,
    readonly prunable: readonly string[],
    readonly keep: ProjectionKeep,
    readonly options: SafeOptions,
    readonly optimizer: SafeOptimizer,
  ) {
    this.maskedOptimizer = createMaskedOptimizer(maskedOptimizerSettings(optimizer));
  }

  /** z⁰ = proj(w⁰), u⁰ = 0 (reference implementation's init). */
  static async create(model: Model, prunable: readonly string[], keep: ProjectionKeep, options: SafeOptions, optimizer: SafeOptimizer): Promise<SafeState> {
    const state = new SafeState(model, prunable, keep, options, optimizer);
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
    for (const map of [this.z, this.u]) {
      for (const t of map.values()) t.dispose();
      map.clear();
    }
    this.maskedOptimizer.dispose();
  }
}

/**
 * The MaskedOptimizer of the SAFE steps: SGD with coupled L2 decay on every parameter (optax add_decayed_weights), or
 * AdamW with β1 = momentum, SAFE_ADAMW_BETA2, SAFE_ADAMW_EPSILON and decoupled decay on weights and tables.
 */
function maskedOptimizerSettings(optimizer: SafeOptimizer): MaskedOptimizerSettings {
  return optimizer.optimizer === 'adamw'
    ? { kind: 'adamw', beta1: optimizer.momentum, beta2: SAFE_ADAMW_BETA2, eps: SAFE_ADAMW_EPSILON, weightDecay: optimizer.weightDecay }
    : { kind: 'sgd', momentum: optimizer.momentum, weightDecay: optimizer.weightDecay };
}

/**
 * One SAFE step on one batch (two charged gradient evaluations):
 *  g  = ∇f(w)                      (trainer.gradients, charged)
 *  ε  = ρ·g/‖g‖                    (all parameters with a gradient)
 *  g' = ∇f(w + ε)                  (trainer.gradients, charged; weights then restored exactly)
 *  d  = g' + λ_t·(w − z + u) [prunable only]
 *  then one MaskedOptimizer step along d:
 *  SGD:   d += weightDecay·w;  v ← μ·v + d;  w ← w − lr_t·v
 *  AdamW: m ← β1·m + (1−β1)·d;  s ← β2·s + (1−β2)·d²;  w ← w − lr_t·(m̂ / (√ŝ + ε) + weightDecay·w [weights and tables])
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
  for (const name of names) getParam(model, name); // every gradient is of a parameter (else an error naming it)
  // the GPU paths (issue 16) where the compiled step's rule allows them: SAM's ascent and the direction fused
  const fused = tf.getBackend() === 'webgpu' && compiledStepWanted(state.maskedOptimizer.compiled);
  const saved = new Map(names.map((name) => [name, getParam(model, name).clone() as tf.Tensor]));
  const savedBuffers = new Map([...model.buffers].map(([name, b]) => [name, b.clone() as tf.Tensor]));
  let second: { loss: number; grads: Map<string, tf.Tensor> };
  let gradNorm: number;
  try {
    try {
      gradNorm = await samAscent(model, first.grads, options.rho, fused);
    } finally {
      for (const g of first.grads.values()) g.dispose();
    }
    second = await trainer.gradients(model, batch);
  } finally {
    for (const [name, value] of saved) getParam(model, name).assign(value);
    for (const [name, value] of savedBuffers) model.buffers.get(name)!.assign(value);
    for (const t of [...saved.values(), ...savedBuffers.values()]) t.dispose();
  }

  const prunable = new Set(state.prunable);
  const directions = new Map<string, tf.Tensor>();
  try {
    const penalized: string[] = [];
    for (const name of names) {
      const grad = second.grads.get(name);
      if (!grad) throw new Error(`safe: the trainer returned no gradient for "${name}" at the perturbed point`);
      if (!prunable.has(name) || at.penalty === 0) directions.set(name, grad);
      else penalized.push(name);
    }
    if (fused) {
      const ds = fusedPenaltyGradient(penalized.map((name) => ({ grad: second.grads.get(name)!, w: getParam(model, name), z: state.z.get(name)!, u: state.u.get(name)! })), at.penalty);
      penalized.forEach((name, i) => directions.set(name, ds[i]!));
    } else {
      for (const name of penalized) {
        const grad = second.grads.get(name)!, param = getParam(model, name);
        directions.set(name, tf.tidy(() => tf.add(grad, tf.mul(tf.add(tf.sub(param, state.z.get(name)!), state.u.get(name)!), at.penalty))));
      }
    }
    for (const name of penalized) second.grads.get(name)!.dispose();
    state.maskedOptimizer.step(model, directions, { learningRate: at.learningRate });
  } finally {
    tf.dispose([...directions.values(), ...second.grads.values()]);
  }
  return { loss: first.loss, gradNorm };
}
