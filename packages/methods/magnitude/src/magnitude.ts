import {
  applyMasks,
  countPrunableParams,
  cubicSchedule,
  disposeMasks,
  disposeScores,
  distributeKeepCount,
  enumOption,
  getParam,
  globalMasks,
  iterativeSchedule,
  keepCountForTarget,
  keepCountsForSchedule,
  countKept,
  layerDensities,
  layerKeepCountsForTarget,
  layerwiseMasks,
  magnitudeScores,
  minimumThresholdMasks,
  numberOption,
  booleanOption,
  oneOfOption,
  oneShot,
  optionalOption,
  parseMethodOptions,
  recordOption,
  restrictPrunable,
  sparsityOfKeepCount,
  splitBudget,
  trainUnlessEmpty,
  type Masks,
  type MethodContext,
  type MethodResult,
  type MinKeepPerLayer,
  type OptionValidator,
  type PruningMethod,
} from '@prunebench/pruning';

export type MagnitudeAllocation = 'global' | 'layerwise' | 'min-threshold';
export type MagnitudeSchedule = 'one-shot' | 'iterative' | 'cubic';

export interface MagnitudeOptions extends Record<string, unknown> {
  /** global: one threshold over all prunable weights; layerwise: per-layer; min-threshold: global with a per-layer floor. */
  allocation: MagnitudeAllocation;
  /**
   * layerwise only: relative per-layer sparsities (e.g. the tolerated sparsity from a sensitivity analysis).
   * Layer l gets sparsity c · ratio_l, c solved to hit the target exactly; unlisted layers stay dense.
   * Left out: the same sparsity in every layer.
   */
  layerRatios?: Record<string, number>;
  /** min-threshold only: every layer keeps at least this many weights, or this fraction of them. */
  minKeepPerLayer: MinKeepPerLayer;
  schedule: MagnitudeSchedule;
  /** Pruning steps: one-shot 1; iterative default 5 rounds; cubic default n = 10 (n + 1 pruning events). */
  rounds?: number;
  /** cubic only: s_i, the sparsity of the first pruning event (Zhu & Gupta 2017 use 0). */
  initialSparsity: number;
  /** Spend the budget training between and after pruning steps (false: prune only). */
  finetune: boolean;
  pruneFirstConv: boolean;
  pruneClassifier: boolean;
}

const DEFAULT_ROUNDS: Record<MagnitudeSchedule, number> = { 'one-shot': 1, iterative: 5, cubic: 10 };

const minKeepValidator: OptionValidator<MinKeepPerLayer> = oneOfOption<MinKeepPerLayer>(
  numberOption({ min: 0, integer: true }),
  (value, field) => {
    if (!value || typeof value !== 'object' || !('fraction' in value)) throw new Error(`option ${field} must be a count or { fraction }`);
    return { fraction: numberOption({ min: 0, max: 1 })((value as { fraction: unknown }).fraction, `${field}.fraction`) };
  },
);

const MAGNITUDE_DEFAULTS: MagnitudeOptions = {
  allocation: 'global',
  minKeepPerLayer: { fraction: 0.01 },
  schedule: 'one-shot',
  initialSparsity: 0,
  finetune: true,
  pruneFirstConv: true,
  pruneClassifier: true,
};

export const magnitudeMethod: PruningMethod<MagnitudeOptions> = {
  name: 'magnitude',
  description: 'Magnitude pruning (Han et al. 2015), one-shot, iterative or gradual cubic (Zhu & Gupta 2017)',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  defaults: MAGNITUDE_DEFAULTS,
  parseOptions(options) {
    const parsed = parseMethodOptions('magnitude', MAGNITUDE_DEFAULTS, options, {
      allocation: enumOption(['global', 'layerwise', 'min-threshold'] as const),
      layerRatios: optionalOption(recordOption(numberOption({ min: 0 }))),
      minKeepPerLayer: minKeepValidator,
      schedule: enumOption(['one-shot', 'iterative', 'cubic'] as const),
      rounds: optionalOption(numberOption({ min: 1, integer: true })),
      initialSparsity: numberOption({ min: 0, maxExclusive: 1 }),
      finetune: booleanOption(),
      pruneFirstConv: booleanOption(),
      pruneClassifier: booleanOption(),
    });
    if (parsed.schedule === 'one-shot' && parsed.rounds !== undefined && parsed.rounds !== 1) {
      throw new Error(`magnitude: option rounds must be 1 for schedule "one-shot", got ${parsed.rounds}`);
    }
    if (parsed.layerRatios && parsed.allocation !== 'layerwise') {
      throw new Error('magnitude: option layerRatios needs allocation "layerwise"');
    }
    if (parsed.initialSparsity !== 0 && parsed.schedule !== 'cubic') {
      throw new Error('magnitude: option initialSparsity needs schedule "cubic"');
    }
    return parsed;
  },
  run: runMagnitude,
};

async function runMagnitude(context: MethodContext<MagnitudeOptions>): Promise<MethodResult> {
  const { model, options, trainer, log } = context;
  const prunable = restrictPrunable(model, context.prunable, options);
  const keepCount = keepCountForTarget(model, prunable, context.target);
  const prunableTotal = countPrunableParams(model, prunable).prunable;
  const finalSparsity = sparsityOfKeepCount(keepCount, prunableTotal);
  const rounds = options.rounds ?? DEFAULT_ROUNDS[options.schedule];
  if (options.layerRatios) {
    for (const name of Object.keys(options.layerRatios)) {
      if (!prunable.includes(name)) throw new Error(`magnitude: option layerRatios names "${name}", which is not prunable`);
    }
  }
  if (options.schedule === 'cubic' && options.initialSparsity > finalSparsity) {
    throw new Error(`magnitude: option initialSparsity ${options.initialSparsity} is above the target's sparsity ${finalSparsity}`);
  }
  const sparsities =
    options.schedule === 'one-shot'
      ? oneShot(finalSparsity)
      : options.schedule === 'iterative'
        ? iterativeSchedule(rounds, finalSparsity)
        : cubicSchedule(rounds, options.initialSparsity, finalSparsity);
  const keepCounts = keepCountsForSchedule(sparsities, prunableTotal, keepCount);
  // Each pruning step is followed by an equal share of the budget; the last share fine-tunes at the target.
  const chunks = splitBudget(options.finetune ? trainer.remainingExamples() : 0, keepCounts.length);

  let masks: Masks | undefined;
  for (let step = 0; step < keepCounts.length; step++) {
    const next = await allocate(context, prunable, keepCounts[step], masks);
    disposeMasks(masks);
    masks = next;
    applyMasks(model, masks);
    log(`magnitude step ${step + 1}/${keepCounts.length}: keep ${keepCounts[step]} of ${prunableTotal} prunable weights`);
    await trainUnlessEmpty(trainer, model, { examples: chunks[step], masks, label: `magnitude-step-${step + 1}` });
  }
  return {
    model,
    masks,
    details: {
      allocation: options.allocation,
      schedule: options.schedule,
      keepCounts,
      prunable,
      layerDensity: await layerDensities(masks!),
    },
  };
}

async function allocate(context: MethodContext<MagnitudeOptions>, prunable: string[], keepCount: number, current: Masks | undefined): Promise<Masks> {
  const { model, options } = context;
  const scores = magnitudeScores(model, prunable);
  try {
    if (options.allocation === 'global') return await globalMasks(scores, keepCount, { current });
    if (options.allocation === 'min-threshold') {
      return await minimumThresholdMasks(scores, keepCount, { minKeepPerLayer: options.minKeepPerLayer }, { current });
    }
    const sizes = new Map(prunable.map((name) => [name, getParam(model, name).size]));
    const caps = current ? await keptPerLayer(current) : undefined;
    // The step that reaches a sparsity target keeps the target's per-layer counts (round(s · nᵢ) pruned each).
    const reachesSparsityTarget =
      context.target.kind === 'sparsity' && !options.layerRatios && keepCount === keepCountForTarget(model, prunable, context.target);
    const counts = reachesSparsityTarget
      ? layerKeepCountsForTarget(model, prunable, context.target)
      : distributeKeepCount(sizes, keepCount, options.layerRatios, caps);
    return await layerwiseMasks(scores, { keepCounts: Object.fromEntries(counts) }, { current });
  } finally {
    disposeScores(scores);
  }
}

async function keptPerLayer(masks: Masks): Promise<Map<string, number>> {
  const kept = new Map<string, number>();
  for (const [name, mask] of masks) kept.set(name, await countKept(new Map([[name, mask]])));
  return kept;
}
