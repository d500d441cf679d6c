import {
  getModelStructure,
  keepIndicesByScore,
  removalCountsForGoal,
  structuredCost,
  type Model,
  type SurgeryPlan,
} from '@prunebench/models';
import {
  coupledGroupsOption,
  disposeBatch,
  numberOption,
  STRUCTURED_STEP_OPTIONS,
  defineMethod,
  recordOption,
  splitBudget,
  trainUnlessEmpty,
  type MethodContext,
  type MethodResult,
  type OptionsOf,
  structuredTargetOf,
} from '@prunebench/pruning';
import { averageRanks } from './ranks.js';

const HRANK_OPTIONS = {
  rankBatches: numberOption({ default: 5, min: 1, integer: true, doc: 'Batches whose feature maps are ranked (HRank\'s `--limit`, 5 in its `rank_generation.py`).' }),
  rankBatchSize: numberOption({ default: 128, min: 1, integer: true, doc: 'Images per rank batch (HRank\'s training batch size).' }),
  layerRatios: recordOption({
    each: { min: 0 },
    defaultText: '— (uniform)',
    doc:
      'Relative pruning ratio per channel group (HRank\'s per-layer `compress_rate`), e.g. `{ "layer1.0.conv1": 0.6 }`, scaled by one ' +
      'factor so the target is met; unlisted groups stay whole. Left out: the same fraction in every group.',
  }),
  coupledGroups: coupledGroupsOption('ranked by the stream after the stage\'s last block (BERT: the final layer\'s output)'),
  ...STRUCTURED_STEP_OPTIONS,
};

export type HRankOptions = OptionsOf<typeof HRANK_OPTIONS>;

export const hrankMethod = defineMethod({
  name: 'hrank',
  description: 'HRank (Lin et al. 2020): remove the filters whose feature maps have the lowest average rank, by model surgery',
  structured: true,
  targetKinds: ['flops-reduction', 'compression'],
  options: HRANK_OPTIONS,
  run: runHRank,
});

async function runHRank(context: MethodContext<HRankOptions>): Promise<MethodResult> {
  const { options, trainer, log } = context;
  const structure = getModelStructure(context.model);
  const cost = structuredCost(structure, structuredTargetOf(context.target));
  const startMeasure = cost.measure(context.model);
  const allowed = cost.allowed(context.model);
  const groupOptions = { coupled: options.coupledGroups };
  const startGroups = structure.channelGroups(context.model, groupOptions);
  if (options.layerRatios) {
    const known = new Set(startGroups.map((g) => g.id));
    for (const id of Object.keys(options.layerRatios)) {
      if (!known.has(id)) throw new Error(`hrank: option layerRatios names "${id}", which is not a channel group (known: ${[...known].join(', ')})`);
    }
  }
  const ratios = new Map(startGroups.map((g) => [g.id, options.layerRatios ? (options.layerRatios[g.id] ?? 0) : 1]));
  const chunks = splitBudget(options.finetune ? trainer.remainingExamples() : 0, options.steps);
  const rankRng = context.rng.fork('hrank-rank-batches');

  let model: Model = context.model;
  const steps: Record<string, unknown>[] = [];
  try {
    for (let step = 1; step <= options.steps; step++) {
      // Each step removes an equal share of what the target asks for, from the model as it now is.
      const goal = startMeasure - ((startMeasure - allowed) * step) / options.steps;
      const groups = structure.channelGroups(model, groupOptions).filter((g) => (ratios.get(g.id) ?? 0) > 0);
      const counts = removalCountsForGoal(structure, model, groups, ratios, cost, goal);
      const batches = trainer.sampleBatches(options.rankBatches, options.rankBatchSize, rankRng.fork(`step-${step}`));
      let ranks;
      try {
        ranks = await averageRanks(structure, model, batches, groups.map((g) => g.id));
      } finally {
        for (const b of batches) disposeBatch(b);
      }
      const plan: SurgeryPlan = { keep: {} };
      const record: Record<string, { kept: number; of: number; meanRank: number }> = {};
      for (const group of groups) {
        const r = ranks.get(group.id)!;
        const keep = keepIndicesByScore(Array.from(r.rank, (rank, i) => [rank, r.norm[i]]), counts.get(group.id) ?? 0);
        if (keep.length < group.size) plan.keep![group.id] = keep;
        record[group.id] = { kept: keep.length, of: group.size, meanRank: round(mean(r.rank)) };
      }
      const pruned = structure.applySurgery(model, plan);
      if (model !== context.model) model.dispose();
      model = pruned;
      log(`hrank step ${step}/${options.steps}: ${cost.metric} ${Math.round(cost.measure(model))} (goal ${Math.round(goal)}), fine-tune ${chunks[step - 1]} examples`);
      steps.push({ step, measure: cost.measure(model), groups: record });
      await trainUnlessEmpty(trainer, model, { examples: chunks[step - 1], label: `hrank-step-${step}` });
    }
  } catch (error) {
    if (model !== context.model) model.dispose();
    throw error;
  }
  return {
    model,
    details: {
      metric: cost.metric,
      start: startMeasure,
      final: cost.measure(model),
      reduction: 1 - cost.measure(model) / startMeasure,
      rankExamples: options.rankBatches * options.rankBatchSize,
      steps,
    },
  };
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length ? s / values.length : 0;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
