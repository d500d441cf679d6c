/**
 * Dynamic sparse training as a method template (RigL, Evci et al. 2020; SET, Mocanu et al. 2018): train at a fixed
 * sparsity from the start, every ΔT examples drop the smallest active weights of each layer and regrow as many — the
 * training goes through one BudgetedTrainer call with a mask-update hook (TrainOptions.maskUpdate), so the optimizer,
 * its learning-rate schedule and the data order run on across mask changes. The pieces are dynamic-sparsity.ts'.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeBatch } from './batch.js';
import { trainUnlessEmpty } from './budget.js';
import { cosineDropFraction, dropAndGrow, sparseLayerKeepCounts } from './dynamic-sparsity.js';
import { reinitializeModel } from './init.js';
import { maskUpdateCount } from './mask-update.js';
import { applyMasks, disposeMasks, layerDensities } from './masks.js';
import { layerwiseMasks } from './allocation.js';
import { defineMethod } from './method.js';
import { enumOption, numberOption, type OptionSchema, type OptionsOf } from './options.js';
import { PRUNABLE_OPTIONS, prunableFor } from './score-method.js';
import { disposeScores, magnitudeScores, randomScores, type Scores } from './scores.js';
import { keepCountForTarget } from './target.js';
import type { Masks, MethodContext, MethodResult, PruningMethod } from './types.js';

/** The options RigL and SET share (Evci et al. 2020's defaults: ΔT = 100 steps, α = 0.3, T_end = 0.75 T, ERK). */
export const DST_OPTIONS = {
  start: enumOption(['pretrained', 'random-init'] as const, {
    default: 'pretrained',
    doc:
      '`pretrained`: start from the task\'s dense model, the initial mask keeping each layer\'s largest weights. `random-init`: ' +
      're-initialise the model (Kaiming-normal, as from scratch) and draw each layer\'s initial mask at random (the papers\' setting).',
  }),
  allocation: enumOption(['erk', 'uniform'] as const, {
    default: 'erk',
    doc: 'Per-layer densities, fixed through training: `erk` Erdős–Rényi-Kernel (density ∝ Σ dims / Π dims, layers over 1 kept dense); `uniform` the same sparsity in every layer.',
  }),
  dropFraction: numberOption({
    default: 0.3,
    minExclusive: 0,
    max: 1,
    doc: 'α: the fraction of each layer\'s active weights dropped (and regrown) at the first update, decayed as α/2 · (1 + cos(π t / T_end)).',
  }),
  updateEvery: numberOption({
    default: 12800,
    min: 1,
    integer: true,
    doc: 'ΔT in training examples between mask updates (Evci et al.: 100 steps of 128 = 12800).',
  }),
  endFraction: numberOption({
    default: 0.75,
    minExclusive: 0,
    max: 1,
    doc: 'T_end as a fraction of the training examples: no mask update from there on (the last quarter trains a fixed mask).',
  }),
  ...PRUNABLE_OPTIONS,
} satisfies OptionSchema;

export const RIGL_OPTIONS = {
  ...DST_OPTIONS,
  gradientBatch: numberOption({
    default: 128,
    min: 1,
    integer: true,
    doc: 'Examples of the one batch whose dense gradient ranks the regrowth at each update (charged to the budget, as every backward pass).',
  }),
} satisfies OptionSchema;

export type DstOptions = OptionsOf<typeof DST_OPTIONS>;
export type RiglOptions = OptionsOf<typeof RIGL_OPTIONS>;

export type DstGrow = 'gradient' | 'random';

/** Training examples and the updates' own charges, filling `remaining` as far as whole examples allow. */
export function dstBudget(remaining: number, options: { updateEvery: number; endFraction: number }, perUpdate: number): { examples: number; updates: number; reserved: number } {
  const updates = (examples: number) => updatesBefore(examples, options);
  let examples = Math.max(0, remaining - perUpdate * updates(remaining));
  while (examples + 1 + perUpdate * updates(examples + 1) <= remaining) examples++;
  return { examples, updates: updates(examples), reserved: perUpdate * updates(examples) };
}

/** Updates k ≥ 1 with k · ΔT before T_end = endFraction · examples (and before the end of training). */
function updatesBefore(examples: number, options: { updateEvery: number; endFraction: number }): number {
  const tEnd = options.endFraction * examples;
  let k = 0;
  while ((k + 1) * options.updateEvery < tEnd && k + 1 <= maskUpdateCount(examples, options.updateEvery)) k++;
  return k;
}

/**
 * A dynamic-sparse-training method (RigL, SET) from its grow rule: the target's keep count spread by ERK or uniformly
 * and fixed for the whole run; an initial mask from the start point; one `train` call with a mask-update hook that
 * drops the smallest active weights of every layer and regrows as many (`gradient`: |∂L/∂w| of one charged batch;
 * `random`: seeded uniform scores). The budget: training examples plus the gradient reads, filling what remains.
 */
export function defineDynamicSparseMethod<S extends typeof DST_OPTIONS>(spec: { name: string; description: string; grow: DstGrow; options: S }): PruningMethod<OptionsOf<S>> {
  return defineMethod({
    name: spec.name,
    description: spec.description,
    structured: false,
    targetKinds: ['compression', 'sparsity'],
    options: spec.options,
    run: (context) => runDst(spec.name, spec.grow, context as unknown as MethodContext<RiglOptions>),
  }) as PruningMethod<OptionsOf<S>>;
}

async function runDst(name: string, grow: DstGrow, context: MethodContext<RiglOptions>): Promise<MethodResult> {
  const { model, options, trainer, rng, log } = context;
  const prunable = prunableFor(name, model, context.prunable, { pruneFirstConv: options.pruneFirstConv, pruneClassifier: options.pruneClassifier });
  const keepCount = keepCountForTarget(model, prunable, context.target);
  const counts = sparseLayerKeepCounts(model, prunable, keepCount, options.allocation);
  if (options.start === 'random-init') reinitializeModel(model, rng.fork('dst-init'));
  const initialScores = options.start === 'pretrained' ? magnitudeScores(model, prunable) : randomScores(model, prunable, rng.fork('dst-initial-mask'));
  let masks: Masks;
  try {
    masks = await layerwiseMasks(initialScores, { keepCounts: Object.fromEntries(counts) });
  } finally {
    disposeScores(initialScores);
  }
  applyMasks(model, masks);

  const perUpdate = grow === 'gradient' ? options.gradientBatch : 0;
  const plan = dstBudget(trainer.remainingExamples(), options, perUpdate);
  const tEnd = options.endFraction * plan.examples;
  log(
    `${name}: ${options.allocation} densities, keep ${keepCount} prunable weights; ${plan.examples} examples with ${plan.updates} mask updates ` +
      `every ${options.updateEvery}${perUpdate ? ` (${plan.reserved} examples of gradient reads)` : ''}`,
  );
  const fractions: number[] = [];
  const summary = await trainUnlessEmpty(trainer, model, {
    examples: plan.examples,
    masks,
    label: `${name}-train`,
    maskUpdate: {
      every: options.updateEvery,
      reservedExamples: plan.reserved,
      async update(event) {
        const t = event.index * options.updateEvery;
        if (event.index > plan.updates || !(t < tEnd)) return undefined;
        const fraction = cosineDropFraction(options.dropFraction, t, tEnd);
        fractions[event.index - 1] = fraction;
        const scores = grow === 'gradient'
          ? await gradientScores(context, prunable, event.index)
          : randomScores(event.model, prunable, rng.fork(`set-update-${event.index}`));
        try {
          const { masks: next, moved } = await dropAndGrow(event.model, event.masks, scores, fraction);
          const total = [...moved.values()].reduce((a, b) => a + b, 0);
          log(`${name} update ${event.index}/${plan.updates} at ${event.examples} examples: drop fraction ${fraction.toFixed(4)}, ${total} weights dropped and regrown`);
          return next;
        } finally {
          disposeScores(scores);
        }
      },
    },
  });
  let finalMasks = masks;
  if (summary?.masks) {
    disposeMasks(masks);
    finalMasks = summary.masks;
  }
  return {
    model,
    masks: finalMasks,
    details: {
      start: options.start,
      allocation: options.allocation,
      layerKeepCounts: Object.fromEntries(counts),
      trainExamples: plan.examples,
      updates: (summary?.maskUpdates ?? []).filter((u) => u.index <= plan.updates).map((u) => ({
        index: u.index, examples: u.examples, dropFraction: cosineDropFraction(options.dropFraction, u.index * options.updateEvery, tEnd), moved: u.dropped, regrown: u.grown,
      })),
      ...(perUpdate ? { gradientExamples: plan.reserved } : {}),
      layerDensity: await layerDensities(finalMasks),
    },
  };
}

/** RigL's grow score: |∂L/∂w| of the dense gradient on one fixed batch per update (charged). */
async function gradientScores(context: MethodContext<RiglOptions>, prunable: readonly string[], index: number): Promise<Scores> {
  const { trainer, model, options, rng } = context;
  const [batch] = trainer.sampleBatches(1, options.gradientBatch, rng.fork(`rigl-update-${index}`));
  let grads: Map<string, tf.Tensor>;
  try {
    ({ grads } = await trainer.gradients(model, batch));
  } finally {
    disposeBatch(batch);
  }
  const scores: Scores = new Map();
  for (const [name, g] of grads) {
    if (prunable.includes(name)) scores.set(name, tf.abs(g));
    g.dispose();
  }
  return scores;
}

