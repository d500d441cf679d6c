import {
  ALLOCATION_OPTIONS,
  FinetuneSkipRule,
  PRUNABLE_OPTIONS,
  SKIP_FINETUNE_OPTIONS,
  applyMasks,
  booleanOption,
  checkAllocationSettings,
  countPrunableParams,
  defineMethod,
  disposeSnapshot,
  fixedFractionSchedule,
  keepCountForTarget,
  keepCountsForSchedule,
  layerDensities,
  magnitudeScores,
  nextMasks,
  numberOption,
  prunableFor,
  restoreSnapshot,
  sparsityOfKeepCount,
  splitBudget,
  takeSnapshot,
  trainUnlessEmpty,
  type Masks,
  type MethodContext,
  type MethodResult,
  type OptionsOf,
} from '@prunebench/pruning';

const LTH_OPTIONS = {
  pruneFraction: numberOption({
    default: 0.2,
    minExclusive: 0,
    maxExclusive: 1,
    doc: 'Fraction of the remaining prunable weights removed per round (Frankle & Carbin 2019: 20 %); the last round lands on the target.',
  }),
  rewindExamples: numberOption({
    default: 0,
    min: 0,
    integer: true,
    doc: 'Examples trained before the rewind point is saved (k): 0 rewinds to the starting weights, > 0 is late rewinding (Frankle et al. 2020); charged.',
  }),
  trainFirst: booleanOption({
    default: true,
    doc: '`true`: train → prune → rewind → retrain …; `false`: prune the starting weights in the first round.',
  }),
  ...ALLOCATION_OPTIONS,
  ...PRUNABLE_OPTIONS,
  // ICE-pruning's skip rule: a round whose pruning costs less validation than this is neither rewound nor retrained.
  ...SKIP_FINETUNE_OPTIONS,
};

export type LthOptions = OptionsOf<typeof LTH_OPTIONS>;

/**
 * Iterative magnitude pruning with rewinding. The rounds share the budget: after the rewind-point training,
 * what remains is split equally over the training phases (one before the first pruning when trainFirst, then
 * one after every pruning round).
 */
export const lthMethod = defineMethod({
  name: 'lth',
  description: 'Lottery ticket hypothesis: iterative global magnitude pruning with weight rewinding',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  options: LTH_OPTIONS,
  check: (options) => checkAllocationSettings('lth', options),
  run: runLth,
});

async function runLth(context: MethodContext<LthOptions>): Promise<MethodResult> {
  const { model, options, trainer, log } = context;
  const prunable = prunableFor('lth', model, context.prunable, options);
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
  const skip = new FinetuneSkipRule('lth', options.skipFinetuneBelow, trainer, log);
  try {
    if (options.trainFirst) await trainUnlessEmpty(trainer, model, { examples: chunks[phase++], label: 'lth-train' });
    for (let round = 0; round < keepCounts.length; round++) {
      await skip.beforePruning(model);
      masks = await nextMasks(magnitudeScores(model, prunable), keepCounts[round], options, { model, prunable, target: context.target, current: masks });
      // The skip rule measures the pruning itself: the trained weights, masked, before any rewinding.
      if (skip.enabled) applyMasks(model, masks);
      const chunk = chunks[phase++];
      const examples = await skip.afterPruning(model, round, keepCounts.length, chunk);
      if (skip.enabled && examples === 0 && chunk > 0) {
        log(`lth round ${round + 1}/${keepCounts.length}: keep ${keepCounts[round]} of ${prunableTotal}, not rewound (skip rule)`);
        continue;
      }
      restoreSnapshot(model, rewindPoint, masks);
      log(`lth round ${round + 1}/${keepCounts.length}: keep ${keepCounts[round]} of ${prunableTotal}, rewound`);
      await trainUnlessEmpty(trainer, model, { examples, masks, label: `lth-round-${round + 1}` });
    }
  } finally {
    disposeSnapshot(rewindPoint);
  }
  return {
    model,
    masks,
    details: { rounds: keepCounts.length, keepCounts, rewindExamples: options.rewindExamples, ...skip.details(), layerDensity: await layerDensities(masks!) },
  };
}
