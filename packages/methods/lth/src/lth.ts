import {
  booleanOption,
  countPrunableParams,
  disposeMasks,
  disposeScores,
  disposeSnapshot,
  fixedFractionSchedule,
  globalMasks,
  keepCountForTarget,
  keepCountsForSchedule,
  layerDensities,
  magnitudeScores,
  numberOption,
  parseMethodOptions,
  restoreSnapshot,
  sparsityOfKeepCount,
  splitBudget,
  takeSnapshot,
  trainUnlessEmpty,
  type Masks,
  type MethodContext,
  type MethodResult,
  type PruningMethod,
} from '@prunebench/pruning';

export interface LthOptions extends Record<string, unknown> {
  /** Fraction of the remaining prunable weights removed per round, globally (Frankle & Carbin 2019: 20 %). */
  pruneFraction: number;
  /**
   * Examples of training before the rewind point is saved (k). 0 = rewind to the starting weights (the
   * original hypothesis); > 0 = late rewinding (Frankle et al. 2020). Charged to the budget.
   */
  rewindExamples: number;
  /** Train before the first pruning round (true: train → prune → rewind → retrain…; false: prune the start). */
  trainFirst: boolean;
}

const LTH_DEFAULTS: LthOptions = { pruneFraction: 0.2, rewindExamples: 0, trainFirst: true };

/**
 * Iterative magnitude pruning with rewinding. The rounds share the budget: after the rewind-point training,
 * what remains is split equally over the training phases (one before the first pruning when trainFirst, then
 * one after every pruning round).
 */
export const lthMethod: PruningMethod<LthOptions> = {
  name: 'lth',
  description: 'Lottery ticket hypothesis: iterative global magnitude pruning with weight rewinding',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  defaults: LTH_DEFAULTS,
  parseOptions(options) {
    return parseMethodOptions('lth', LTH_DEFAULTS, options, {
      pruneFraction: numberOption({ minExclusive: 0, maxExclusive: 1 }),
      rewindExamples: numberOption({ min: 0, integer: true }),
      trainFirst: booleanOption(),
    });
  },
  run: runLth,
};

async function runLth(context: MethodContext<LthOptions>): Promise<MethodResult> {
  const { model, options, trainer, prunable, log } = context;
  const keepCount = keepCountForTarget(model, prunable, context.target);
  const prunableTotal = countPrunableParams(model, prunable).prunable;
  const schedule = fixedFractionSchedule(options.pruneFraction, sparsityOfKeepCount(keepCount, prunableTotal));
  const keepCounts = keepCountsForSchedule(schedule, prunableTotal, keepCount);
  if (options.rewindExamples > trainer.remainingExamples()) {
    throw new Error(`lth: option rewindExamples (${options.rewindExamples}) exceeds the remaining budget (${trainer.remainingExamples()})`);
  }

  await trainUnlessEmpty(trainer, model, { examples: options.rewindExamples, label: 'lth-rewind-point' });
  const rewindPoint = takeSnapshot(model);
  const phases = keepCounts.length + (options.trainFirst ? 1 : 0);
  const chunks = splitBudget(trainer.remainingExamples(), phases);
  let phase = 0;
  let masks: Masks | undefined;
  try {
    if (options.trainFirst) await trainUnlessEmpty(trainer, model, { examples: chunks[phase++], label: 'lth-train' });
    for (let round = 0; round < keepCounts.length; round++) {
      const scores = magnitudeScores(model, prunable);
      const next = await globalMasks(scores, keepCounts[round], { current: masks });
      disposeScores(scores);
      disposeMasks(masks);
      masks = next;
      restoreSnapshot(model, rewindPoint, masks);
      log(`lth round ${round + 1}/${keepCounts.length}: keep ${keepCounts[round]} of ${prunableTotal}, rewound`);
      await trainUnlessEmpty(trainer, model, { examples: chunks[phase++], masks, label: `lth-round-${round + 1}` });
    }
  } finally {
    disposeSnapshot(rewindPoint);
  }
  return {
    model,
    masks,
    details: { rounds: keepCounts.length, keepCounts, rewindExamples: options.rewindExamples, layerDensity: await layerDensities(masks!) },
  };
}
