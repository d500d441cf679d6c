import {
  applyMasks,
  booleanOption,
  disposeScores,
  enumOption,
  globalMasks,
  keepCountForTarget,
  layerDensities,
  layerKeepCountsForTarget,
  layerwiseMasks,
  parseMethodOptions,
  randomScores,
  trainUnlessEmpty,
  type MethodContext,
  type MethodResult,
  type PruningMethod,
} from '@prunebench/pruning';

export interface RandomOptions extends Record<string, unknown> {
  /** global: a uniformly random subset of all prunable weights; layerwise: the same sparsity in every layer. */
  allocation: 'global' | 'layerwise';
  /** Spend the whole budget fine-tuning after pruning (the same treatment as every other method). */
  finetune: boolean;
}

const RANDOM_DEFAULTS: RandomOptions = { allocation: 'global', finetune: true };

/** Random pruning (ShrinkBench's RandomPruning baseline): masks in one shot, then fine-tuning within the budget. */
export const randomMethod: PruningMethod<RandomOptions> = {
  name: 'random',
  description: 'Random unstructured pruning, the control baseline',
  structured: false,
  targetKinds: ['compression', 'sparsity'],
  defaults: RANDOM_DEFAULTS,
  parseOptions(options) {
    return parseMethodOptions('random', RANDOM_DEFAULTS, options, {
      allocation: enumOption(['global', 'layerwise'] as const),
      finetune: booleanOption(),
    });
  },
  async run(context: MethodContext<RandomOptions>): Promise<MethodResult> {
    const { model, options, trainer, prunable } = context;
    const keepCount = keepCountForTarget(model, prunable, context.target);
    const scores = randomScores(model, prunable, context.rng.fork('random-scores'));
    let masks;
    if (options.allocation === 'global') masks = await globalMasks(scores, keepCount);
    else masks = await layerwiseMasks(scores, { keepCounts: Object.fromEntries(layerKeepCountsForTarget(model, prunable, context.target)) });
    disposeScores(scores);
    applyMasks(model, masks);
    context.log(`random: keep ${keepCount} prunable weights (${options.allocation})`);
    if (options.finetune) {
      await trainUnlessEmpty(trainer, model, { examples: trainer.remainingExamples(), masks, label: 'random-finetune' });
    }
    return { model, masks, details: { allocation: options.allocation, keepCount, layerDensity: await layerDensities(masks) } };
  },
};
