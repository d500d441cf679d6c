/**
 * The shared pieces of unstructured pruning: which tensors are prunable, how scores become masks (global,
 * layer-wise, minimum threshold), and the pruning schedule with its split of the budget. A one-shot method is a
 * score function plus a declaration (`defineScoreMethod`); iterative methods (lth, safe) use the same pieces.
 */
import type { Model } from '@prunebench/models';
import {
  distributeKeepCount,
  globalMasks,
  layerwiseMasks,
  minimumThresholdMasks,
  perOutputMasks,
  type MinKeepPerLayer,
} from './allocation.js';
import { splitBudget, trainUnlessEmpty } from './budget.js';
import { applyMasks, countKept, disposeMasks, getParam, layerDensities } from './masks.js';
import { nmMasks } from './nm.js';
import { defineMethod } from './method.js';
import {
  booleanOption,
  customOption,
  enumOption,
  numberOption,
  numberValidator,
  recordOption,
  type OptionDeclaration,
  type OptionSchema,
  type OptionsOf,
} from './options.js';
import { restrictPrunable } from './prunable.js';
import { FinetuneSkipRule, SKIP_FINETUNE_OPTIONS } from './skip-rule.js';
import { cubicSchedule, iterativeSchedule, keepCountsForSchedule, oneShot, sparsityOfKeepCount } from './schedule.js';
import { disposeScores, type Scores } from './scores.js';
import { countPrunableParams, keepCountForTarget, layerKeepCountsForTarget } from './target.js';
import type { Masks, MethodContext, MethodResult, PruningMethod, PruningTarget } from './types.js';

/** Which of the task's prunable tensors a method prunes (many papers keep the stem and the classifier dense). */
export const PRUNABLE_OPTIONS = {
  pruneFirstConv: booleanOption({ default: true, doc: '`false` keeps the first conv weight dense even when the task lists it as prunable.' }),
  pruneClassifier: booleanOption({ default: true, doc: '`false` keeps the last linear weight (the classifier) dense.' }),
} satisfies OptionSchema;

export type Allocation = 'global' | 'layerwise' | 'per-output' | 'min-threshold';

/** How scores become masks. */
export const ALLOCATION_OPTIONS = {
  allocation: enumOption(['global', 'layerwise', 'per-output', 'min-threshold'] as const, {
    default: 'global',
    doc:
      '`global`: one threshold over all prunable weights. `layerwise`: each layer ranked on its own, the same sparsity in every ' +
      'layer (within one weight), or scaled `layerRatios`. `per-output`: layer-wise counts, spread evenly over each layer\'s outputs, ' +
      'each ranking its own inputs (Wanda). `min-threshold`: global, but every layer keeps at least `minKeepPerLayer`.',
  }),
  layerRatios: recordOption({
    each: { min: 0 },
    defaultText: '— (uniform)',
    doc:
      '`layerwise` / `per-output` only. Relative per-layer sparsities (e.g. the tolerated sparsity from `sensitivityAnalysis`): layer l is ' +
      'pruned to c · ratio_l (capped at 1), c solved so the total is exactly the target; unlisted layers stay dense.',
  }),
  minKeepPerLayer: customOption<MinKeepPerLayer>({
    type: 'integer ≥ 0 or { fraction: number in [0, 1] }',
    default: { fraction: 0.01 },
    doc: '`min-threshold` only: every layer keeps at least this many weights, or this fraction of them (rounded up); 1 % avoids layer collapse.',
    parse: (value, field) => {
      if (typeof value === 'number') return numberValidator({ min: 0, integer: true })(value, field);
      if (value && typeof value === 'object' && !Array.isArray(value) && 'fraction' in value) {
        return { fraction: numberValidator({ min: 0, max: 1 })((value as { fraction: unknown }).fraction, `${field}.fraction`) };
      }
      throw new Error(`option ${field} must be a count or { fraction }, got ${JSON.stringify(value)}`);
    },
  }),
} satisfies OptionSchema;

export type PruningScheduleName = 'one-shot' | 'iterative' | 'cubic';

/** Pruning steps and the budget between them. */
export const SCHEDULE_OPTIONS = {
  schedule: enumOption(['one-shot', 'iterative', 'cubic'] as const, {
    default: 'one-shot',
    doc:
      '`one-shot`: prune to the target, then fine-tune. `iterative` (Han et al. 2015): `rounds` steps each removing the same fraction ' +
      'of the remaining weights, training after each. `cubic` (Zhu & Gupta 2017): n + 1 pruning events at s_0 … s_n, training after each.',
  }),
  rounds: numberOption({ min: 1, integer: true, defaultText: '1 / 5 / 10', doc: 'Pruning steps: `one-shot` must be 1; `iterative` 5 rounds; `cubic` n = 10.' }),
  initialSparsity: numberOption({ default: 0, min: 0, maxExclusive: 1, doc: '`cubic` only: s_i, the sparsity of the first pruning event (Zhu & Gupta start at 0).' }),
  finetune: booleanOption({
    default: true,
    doc: 'Spend the budget training, split equally over the pruning steps (the last share fine-tunes at the target); `false`: prune only.',
  }),
  ...SKIP_FINETUNE_OPTIONS,
} satisfies OptionSchema;

/** Rounds of a structured method (hrank, fpgm): prune, fine-tune, score the smaller model again. */
export const STRUCTURED_STEP_OPTIONS = {
  steps: numberOption({ default: 1, min: 1, integer: true, doc: 'Prune → fine-tune rounds; each removes an equal share of what the target asks for and re-scores the current model.' }),
  finetune: booleanOption({ default: true, doc: 'Spend the budget fine-tuning, split equally after each step; `false`: prune only.' }),
} satisfies OptionSchema;

/**
 * The `coupledGroups` option of a structured method (hrank, fpgm, cka-hybrid): also cut the coupled channel groups
 * (`channelGroups(model, { coupled: true })`), off by default so suites without it keep their run ids. `scoring`
 * ends the doc: how the method scores a coupled group's units.
 */
export function coupledGroupsOption(scoring: string) {
  return booleanOption({
    default: false,
    doc:
      'Also prune the coupled channel groups (ResNet: each stage\'s residual stream with the stem / option-A shortcut feeding it; ' +
      `BERT: the hidden size), ${scoring}.`,
  });
}

/** The options every score method has: prunable tensors, allocation and schedule. */
export const SCORE_METHOD_OPTIONS = { ...ALLOCATION_OPTIONS, ...SCHEDULE_OPTIONS, ...PRUNABLE_OPTIONS } satisfies OptionSchema;

export type AllocationSettings = OptionsOf<typeof ALLOCATION_OPTIONS>;
export type ScheduleSettings = OptionsOf<typeof SCHEDULE_OPTIONS>;
export type ScoreMethodSettings = OptionsOf<typeof SCORE_METHOD_OPTIONS>;

export const DEFAULT_ROUNDS: Readonly<Record<PruningScheduleName, number>> = { 'one-shot': 1, iterative: 5, cubic: 10 };

/** The rules across the allocation options (`<method>: option …` errors). */
export function checkAllocationSettings(method: string, options: AllocationSettings): void {
  if (options.layerRatios && options.allocation !== 'layerwise' && options.allocation !== 'per-output') {
    throw new Error(`${method}: option layerRatios needs allocation "layerwise" or "per-output"`);
  }
}

/** The rules across the schedule options. */
export function checkScheduleSettings(method: string, options: ScheduleSettings): void {
  if (options.schedule === 'one-shot' && options.rounds !== undefined && options.rounds !== 1) {
    throw new Error(`${method}: option rounds must be 1 for schedule "one-shot", got ${options.rounds}`);
  }
  if (options.initialSparsity !== 0 && options.schedule !== 'cubic') throw new Error(`${method}: option initialSparsity needs schedule "cubic"`);
  if (options.skipFinetuneBelow !== undefined && options.schedule === 'one-shot') throw new Error(`${method}: option skipFinetuneBelow needs several pruning steps (schedule "iterative" or "cubic")`);
  if (options.skipFinetuneBelow !== undefined && !options.finetune) throw new Error(`${method}: option skipFinetuneBelow needs finetune`);
}

/** Sparsity after each pruning step, ending exactly on `finalSparsity`. */
export function scheduleSparsities(method: string, options: ScheduleSettings, finalSparsity: number): number[] {
  const rounds = options.rounds ?? DEFAULT_ROUNDS[options.schedule];
  if (options.schedule === 'one-shot') return oneShot(finalSparsity);
  if (options.schedule === 'iterative') return iterativeSchedule(rounds, finalSparsity);
  if (options.initialSparsity > finalSparsity) {
    throw new Error(`${method}: option initialSparsity ${options.initialSparsity} is above the target's sparsity ${finalSparsity}`);
  }
  return cubicSchedule(rounds, options.initialSparsity, finalSparsity);
}

/** The prunable tensors after the method's first conv / classifier rule, with `layerRatios` checked against them. */
export function prunableFor(
  method: string,
  model: Model,
  taskPrunable: readonly string[],
  options: OptionsOf<typeof PRUNABLE_OPTIONS> & { layerRatios?: Readonly<Record<string, number>> },
): string[] {
  const prunable = restrictPrunable(model, taskPrunable, options);
  for (const name of Object.keys(options.layerRatios ?? {})) {
    if (!prunable.includes(name)) throw new Error(`${method}: option layerRatios names "${name}", which is not prunable`);
  }
  return prunable;
}

/**
 * Scores → masks keeping exactly `keepCount` weights by the chosen allocation; `current` masks' zeros stay
 * zeros. An N:M target keeps N of every M (nm.ts), whatever the allocation. Layer-wise and per-output: the step that reaches a sparsity target keeps the target's per-layer counts (round(s · nᵢ)
 * pruned each); other steps spread `keepCount` by `distributeKeepCount`, capped by what is still alive.
 */
export async function allocateMasks(
  scores: Scores,
  keepCount: number,
  options: AllocationSettings,
  where: { model: Model; prunable: readonly string[]; target: PruningTarget; current?: Masks },
): Promise<Masks> {
  const { model, prunable, target, current } = where;
  if (target.kind === 'n-of-m') {
    if (current) throw new Error('an N:M target is reached in one step: use schedule "one-shot"');
    // Every group of M inputs of an output keeps its N best, whatever the allocation says about layers.
    return nmMasks(scores, target);
  }
  if (options.allocation === 'global') return globalMasks(scores, keepCount, { current });
  if (options.allocation === 'min-threshold') return minimumThresholdMasks(scores, keepCount, { minKeepPerLayer: options.minKeepPerLayer }, { current });
  const reachesSparsityTarget = target.kind === 'sparsity' && !options.layerRatios && keepCount === keepCountForTarget(model, prunable, target);
  const counts = reachesSparsityTarget
    ? layerKeepCountsForTarget(model, prunable, target)
    : distributeKeepCount(
        new Map(prunable.map((name) => [name, getParam(model, name).size])),
        keepCount,
        options.layerRatios,
        current ? await keptPerLayer(current) : undefined,
      );
  if (options.allocation === 'per-output') return perOutputMasks(scores, counts, { current });
  return layerwiseMasks(scores, { keepCounts: Object.fromEntries(counts) }, { current });
}

/** One pruning step: scores (disposed here) → the next masks by the allocation; the current masks are disposed. */
export async function nextMasks(
  scores: Scores,
  keepCount: number,
  options: AllocationSettings,
  where: { model: Model; prunable: readonly string[]; target: PruningTarget; current?: Masks },
): Promise<Masks> {
  try {
    const next = await allocateMasks(scores, keepCount, options, where);
    disposeMasks(where.current);
    return next;
  } finally {
    disposeScores(scores);
  }
}

async function keptPerLayer(masks: Masks): Promise<Map<string, number>> {
  const kept = new Map<string, number>();
  for (const [name, mask] of masks) kept.set(name, await countKept(new Map([[name, mask]])));
  return kept;
}

/** Which pruning step a score is for (0-based `index` of `steps`), and the masks so far. */
export interface ScoreStep {
  index: number;
  steps: number;
  current?: Masks;
}

export interface ScoreMethodDeclaration<S extends OptionSchema> {
  name: string;
  description: string;
  /** The method's own options; the shared ones (SCORE_METHOD_OPTIONS) are added. */
  options: S;
  /** The method's own defaults for shared options (e.g. Wanda's per-output allocation). */
  sharedDefaults?: Partial<ScoreMethodSettings>;
  /** Scores over the prunable tensors: the highest are kept. The caller disposes them. */
  score(context: MethodContext<OptionsOf<S> & ScoreMethodSettings>, prunable: readonly string[], step: ScoreStep): Promise<Scores> | Scores;
  /**
   * Training examples one `score` call charges, and the options they come from (for the error): checked against
   * the budget for all steps before anything runs.
   */
  scoring?: { examples(options: OptionsOf<S>): number; from: string };
  /** Runs once before the first score (e.g. SNIP's re-initialisation). */
  prepare?(context: MethodContext<OptionsOf<S> & ScoreMethodSettings>): void | Promise<void>;
  /** Cross-field rules of the method's own options. */
  check?(options: OptionsOf<S> & ScoreMethodSettings): void;
  /** Extra record details. */
  details?(options: OptionsOf<S> & ScoreMethodSettings): Record<string, unknown>;
}

/**
 * An unstructured method from its score function: prunable tensors by the shared rule, keep counts by the target
 * convention (target.ts), the schedule's steps each scored, allocated and followed by an equal share of the budget.
 */
export function defineScoreMethod<S extends OptionSchema>(
  declaration: ScoreMethodDeclaration<S>,
): PruningMethod<OptionsOf<S & typeof SCORE_METHOD_OPTIONS>> {
  const { name } = declaration;
  type O = OptionsOf<S> & ScoreMethodSettings;
  return defineMethod({
    name,
    description: declaration.description,
    structured: false,
    targetKinds: ['compression', 'sparsity', 'n-of-m'],
    options: { ...declaration.options, ...withDefaults(SCORE_METHOD_OPTIONS, declaration.sharedDefaults ?? {}) } as S & typeof SCORE_METHOD_OPTIONS,
    check(options) {
      const o = options as unknown as O;
      checkAllocationSettings(name, o);
      checkScheduleSettings(name, o);
      declaration.check?.(o);
    },
    async run(rawContext) {
      return runScoreMethod(declaration, rawContext as unknown as MethodContext<O>);
    },
  }) as unknown as PruningMethod<OptionsOf<S & typeof SCORE_METHOD_OPTIONS>>;
}

/** The schema with some defaults replaced (each checked by its declaration). */
function withDefaults<S extends OptionSchema>(schema: S, defaults: Record<string, unknown>): S {
  const out: Record<string, OptionDeclaration<unknown>> = { ...schema };
  for (const [name, value] of Object.entries(defaults)) {
    const declaration = schema[name];
    if (!declaration) throw new Error(`no shared option "${name}" to give a default`);
    out[name] = { ...declaration, default: declaration.parse(value, name), defaultText: undefined };
  }
  return out as S;
}

async function runScoreMethod<S extends OptionSchema>(
  declaration: ScoreMethodDeclaration<S>,
  context: MethodContext<OptionsOf<S> & ScoreMethodSettings>,
): Promise<MethodResult> {
  const { name } = declaration;
  const { model, options, trainer, log } = context;
  const prunable = prunableFor(name, model, context.prunable, options);
  const keepCount = keepCountForTarget(model, prunable, context.target);
  const prunableTotal = countPrunableParams(model, prunable).prunable;
  if (context.target.kind === 'n-of-m' && options.schedule !== 'one-shot') throw new Error(`${name}: an N:M target needs schedule "one-shot", got "${options.schedule}"`);
  const keepCounts = keepCountsForSchedule(scheduleSparsities(name, options, sparsityOfKeepCount(keepCount, prunableTotal)), prunableTotal, keepCount);
  const scoringPerStep = declaration.scoring?.examples(options) ?? 0;
  if (scoringPerStep * keepCounts.length > trainer.remainingExamples()) {
    const steps = keepCounts.length === 1 ? '' : ` per step × ${keepCounts.length} steps`;
    throw new Error(
      `${name}: ${declaration.scoring!.from} = ${scoringPerStep} examples${steps} exceed the remaining budget (${trainer.remainingExamples()})`,
    );
  }
  await declaration.prepare?.(context);

  let masks: Masks | undefined;
  const skip = new FinetuneSkipRule(name, options.skipFinetuneBelow, trainer, log);
  for (let index = 0; index < keepCounts.length; index++) {
    await skip.beforePruning(model);
    const scores = await declaration.score(context, prunable, { index, steps: keepCounts.length, current: masks });
    masks = await nextMasks(scores, keepCounts[index], options, { model, prunable, target: context.target, current: masks });
    applyMasks(model, masks);
    log(`${name} step ${index + 1}/${keepCounts.length}: keep ${keepCounts[index]} of ${prunableTotal} prunable weights`);
    // What is left (after any scoring charges and the skipped steps' shares) is split equally over the remaining steps.
    const available = trainer.remainingExamples() - scoringPerStep * (keepCounts.length - index - 1) - skip.deferred;
    const share = options.finetune ? splitBudget(available, keepCounts.length - index)[0] : 0;
    const examples = await skip.afterPruning(model, index, keepCounts.length, share);
    await trainUnlessEmpty(trainer, model, { examples, masks, label: `${name}-step-${index + 1}` });
  }
  return {
    model,
    masks,
    details: {
      allocation: options.allocation,
      schedule: options.schedule,
      keepCounts,
      prunable,
      ...(scoringPerStep ? { scoringExamples: scoringPerStep * keepCounts.length } : {}),
      ...declaration.details?.(options),
      ...skip.details(),
      layerDensity: await layerDensities(masks!),
    },
  };
}
