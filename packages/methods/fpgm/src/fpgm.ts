import {
  getModelStructure,
  keepIndicesByScore,
  planForCounts,
  removalCountsForGoal,
  structuredCost,
  StructureError,
  type ChannelGroup,
  type Model,
  type ModelStructure,
  type StructuredCost,
  type SurgeryPlan,
} from '@prunebench/models';
import {
  coupledGroupsOption,
  STRUCTURED_STEP_OPTIONS,
  defineMethod,
  enumOption,
  recordOption,
  splitBudget,
  structuredTargetOf,
  trainUnlessEmpty,
  type MethodContext,
  type MethodResult,
  type OptionsOf,
} from '@prunebench/pruning';
import { unitDistanceSums } from './median.js';

const FPGM_OPTIONS = {
  allocation: enumOption(['layerwise', 'global'] as const, {
    default: 'layerwise',
    doc:
      '`layerwise`: every channel group loses the same fraction (FPGM\'s one `rate` for all layers), scaled so the target is met. ' +
      '`global`: all units of all groups ranked together by their distance sum divided by the mean distance sum of their group ' +
      '(1 = a typical unit of that layer), the lowest removed until the target is met.',
  }),
  layerRatios: recordOption({
    each: { min: 0 },
    defaultText: '— (uniform)',
    doc:
      'With `layerwise`: relative pruning ratio per channel group, e.g. `{ "layer1.0.conv1": 0.6 }`, scaled by one factor so the target ' +
      'is met; unlisted groups stay whole. Left out: the same fraction in every group.',
  }),
  coupledGroups: coupledGroupsOption('scored by the distance sums of their concatenated producing weights'),
  ...STRUCTURED_STEP_OPTIONS,
};

export type FpgmOptions = OptionsOf<typeof FPGM_OPTIONS>;

export const fpgmMethod = defineMethod({
  name: 'fpgm',
  description: 'FPGM (He et al. 2019): remove the filters nearest the geometric median of their layer (smallest sum of distances to the others), by model surgery',
  structured: true,
  targetKinds: ['flops-reduction', 'compression'],
  options: FPGM_OPTIONS,
  run: runFpgm,
});

async function runFpgm(context: MethodContext<FpgmOptions>): Promise<MethodResult> {
  const { options, trainer, log } = context;
  const structure = getModelStructure(context.model);
  const cost = structuredCost(structure, structuredTargetOf(context.target));
  const startMeasure = cost.measure(context.model);
  const allowed = cost.allowed(context.model);
  const groupOptions = { coupled: options.coupledGroups };
  const startGroups = structure.channelGroups(context.model, groupOptions);
  if (options.layerRatios) {
    if (options.allocation === 'global') throw new Error('fpgm: option layerRatios is for allocation "layerwise"; global allocation ranks every unit together');
    const known = new Set(startGroups.map((g) => g.id));
    for (const id of Object.keys(options.layerRatios)) {
      if (!known.has(id)) throw new Error(`fpgm: option layerRatios names "${id}", which is not a channel group (known: ${[...known].join(', ')})`);
    }
  }
  const ratios = new Map(startGroups.map((g) => [g.id, options.layerRatios ? (options.layerRatios[g.id] ?? 0) : 1]));
  const chunks = splitBudget(options.finetune ? trainer.remainingExamples() : 0, options.steps);

  let model: Model = context.model;
  const steps: Record<string, unknown>[] = [];
  try {
    for (let step = 1; step <= options.steps; step++) {
      // Each step removes an equal share of what the target asks for, from the model as it now is.
      const goal = startMeasure - ((startMeasure - allowed) * step) / options.steps;
      const groups = structure.channelGroups(model, groupOptions).filter((g) => (ratios.get(g.id) ?? 0) > 0);
      const sums = new Map<string, Float64Array>();
      for (const group of groups) sums.set(group.id, await unitDistanceSums(structure, model, group.id));
      const keeps = options.allocation === 'global'
        ? globalKeeps(structure, model, groups, sums, cost, goal)
        : layerwiseKeeps(structure, model, groups, ratios, sums, cost, goal);
      const plan: SurgeryPlan = { keep: {} };
      const record: Record<string, { kept: number; of: number }> = {};
      for (const group of groups) {
        const keep = keeps.get(group.id)!;
        if (keep.length < group.size) plan.keep![group.id] = keep;
        record[group.id] = { kept: keep.length, of: group.size };
      }
      const pruned = structure.applySurgery(model, plan);
      if (model !== context.model) model.dispose();
      model = pruned;
      log(`fpgm step ${step}/${options.steps}: ${cost.metric} ${Math.round(cost.measure(model))} (goal ${Math.round(goal)}), fine-tune ${chunks[step - 1]} examples`);
      steps.push({ step, measure: cost.measure(model), groups: record });
      await trainUnlessEmpty(trainer, model, { examples: chunks[step - 1], label: `fpgm-step-${step}` });
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
      allocation: options.allocation,
      coupledGroups: options.coupledGroups,
      steps,
    },
  };
}

/** The same fraction per group (or the layerRatios' proportions): the counts as HRank's, the units by distance sum. */
function layerwiseKeeps(
  structure: ModelStructure, model: Model, groups: readonly ChannelGroup[], ratios: ReadonlyMap<string, number>,
  sums: ReadonlyMap<string, Float64Array>, cost: StructuredCost, goal: number,
): Map<string, number[]> {
  const counts = removalCountsForGoal(structure, model, groups, ratios, cost, goal);
  return new Map(groups.map((g) => [g.id, keepIndicesByScore(Array.from(sums.get(g.id)!, (d) => [d]), counts.get(g.id) ?? 0)]));
}

/**
 * Global ranking: each unit's distance sum divided by its group's mean distance sum (so layers of different widths,
 * fan-ins and weight scales compare: 1 is a typical unit of its layer, below 1 nearer the median than most), all
 * units sorted ascending (ties by group order, then index), and the shortest prefix of that order removed whose
 * surgered model meets the goal (exact sizes via planSize where the structure has it, else the unit costs), no
 * group going below its minSize.
 */
function globalKeeps(
  structure: ModelStructure, model: Model, groups: readonly ChannelGroup[], sums: ReadonlyMap<string, Float64Array>,
  cost: StructuredCost, goal: number,
): Map<string, number[]> {
  const units: { group: number; index: number; score: number }[] = [];
  groups.forEach((g, gi) => {
    const d = sums.get(g.id)!;
    const mean = d.reduce((a, b) => a + b, 0) / Math.max(1, d.length);
    d.forEach((x, index) => units.push({ group: gi, index, score: mean > 0 ? x / mean : 0 }));
  });
  units.sort((a, b) => a.score - b.score || a.group - b.group || a.index - b.index);
  // the removal order, skipping units that would take their group below its minimum
  const left = groups.map((g) => g.size);
  const order = units.filter((u) => {
    if (left[u.group] <= groups[u.group].minSize) return false;
    left[u.group]--;
    return true;
  });
  const countsAfter = (k: number) => {
    const counts = new Map(groups.map((g) => [g.id, 0]));
    for (let i = 0; i < k; i++) counts.set(groups[order[i].group].id, counts.get(groups[order[i].group].id)! + 1);
    return counts;
  };
  const start = cost.measure(model);
  const planSize = structure.planSize?.bind(structure);
  const sizeAfter = (k: number) => {
    if (planSize) {
      const s = planSize(model, planForCounts(groups, countsAfter(k)));
      return cost.metric === 'macs' ? s.macs : s.params;
    }
    let saved = 0;
    for (let i = 0; i < k; i++) saved += cost.unitCost(groups[order[i].group]);
    return start - saved;
  };
  if (sizeAfter(order.length) > goal) {
    throw new StructureError(`fpgm: cannot reach ${Math.round(goal)} (${cost.metric}) by cutting the channel groups, even to their minimum`);
  }
  let lo = 0;
  let hi = order.length; // sizeAfter(hi) <= goal
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (sizeAfter(mid) <= goal) hi = mid;
    else lo = mid + 1;
  }
  const removed = groups.map(() => new Set<number>());
  for (let i = 0; i < hi; i++) removed[order[i].group].add(order[i].index);
  return new Map(groups.map((g, gi) => [g.id, Array.from({ length: g.size }, (_, i) => i).filter((i) => !removed[gi].has(i))]));
}
