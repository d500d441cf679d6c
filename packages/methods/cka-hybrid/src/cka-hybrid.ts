import * as tf from '@tensorflow/tfjs';
import {
  StructureError,
  getModelStructure,
  keepIndicesByScore,
  removalCountsForGoal,
  structuredCost,
  type ChannelGroupOptions,
  type Model,
  type ModelStructure,
  type StructuredCost,
  type SurgeryPlan,
} from '@prunebench/models';
import {
  booleanOption,
  coupledGroupsOption,
  disposeBatch,
  numberOption,
  defineMethod,
  trainUnlessEmpty,
  type Batch,
  type BudgetedTrainer,
  type MethodContext,
  type MethodResult,
  type OptionsOf,
  structuredTargetOf,
} from '@prunebench/pruning';
import { linearCka } from './linear-cka.js';

const CKA_HYBRID_OPTIONS = {
  probeSize: numberOption({ default: 256, min: 2, integer: true, doc: 'Training images (not augmented) on which representations are compared.' }),
  stepFraction: numberOption({
    default: 0.1,
    minExclusive: 0,
    max: 1,
    doc: 'Each step removes about this fraction of the starting model\'s MACs (or parameters, for a compression target).',
  }),
  candidateExamples: numberOption({
    default: 128,
    min: 0,
    integer: true,
    doc: 'Examples each candidate is fine-tuned on before it is scored (both candidates, charged); 0: score right after surgery.',
  }),
  finalFraction: numberOption({ default: 0.5, min: 0, max: 1, doc: 'Share of the budget kept for the final fine-tuning at the target; the rest is spread over the steps.' }),
  finetune: booleanOption({ default: true, doc: '`false`: prune only (no fine-tuning at all, candidates included).' }),
  coupledGroups: coupledGroupsOption(
    'in the units candidate, by the mean |activation| of the stream after the stage\'s last block (BERT: of the final layer\'s output), ' +
      'the cut sized exactly by `planSize` where the shared weights make unit costs overlap',
  ),
};

export type CkaHybridOptions = OptionsOf<typeof CKA_HYBRID_OPTIONS>;

export const ckaHybridMethod = defineMethod({
  name: 'cka-hybrid',
  description: 'Iterative structured pruning: per step, drop blocks or prune units, whichever keeps linear CKA to the parent higher',
  structured: true,
  targetKinds: ['flops-reduction', 'compression'],
  options: CKA_HYBRID_OPTIONS,
  run: runCkaHybrid,
});

export interface Candidate {
  kind: 'blocks' | 'units';
  model: Model;
  removed: string[] | Record<string, number>;
  saving: number;
  cka?: number;
}

/** Pooled features of the probe, as a host array [examples × features]. */
async function probeFeatures(structure: ModelStructure, model: Model, probe: Batch): Promise<Float32Array> {
  const capture = structure.forwardWithActivations(model, probe.inputs, []);
  try {
    return Float32Array.from((await capture.features.data()) as Float32Array);
  } finally {
    tf.dispose([capture.output, capture.features, ...capture.activations.values()]);
  }
}

/**
 * Pooled features of the probe on the model without each one of `blockIds`, as host arrays. Where the structure
 * has `featuresWithoutEachBlock` (resnet-cifar), one shared pass computes them (the same numbers, tested);
 * otherwise each model is built by surgery and run whole.
 */
export async function featuresWithoutEachBlock(
  structure: ModelStructure, model: Model, probe: Batch, blockIds: readonly string[],
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  if (structure.featuresWithoutEachBlock) {
    const features = structure.featuresWithoutEachBlock(model, probe.inputs, blockIds);
    try {
      for (const id of blockIds) out.set(id, Float32Array.from((await features.get(id)!.data()) as Float32Array));
    } finally {
      tf.dispose([...features.values()]);
    }
    return out;
  }
  for (const id of blockIds) {
    const without = structure.applySurgery(model, { removeBlocks: [id] });
    try {
      out.set(id, await probeFeatures(structure, without, probe));
    } finally {
      without.dispose();
    }
  }
  return out;
}

/** Mean |activation| of every unit of every group on the probe (lower = pruned first). */
async function meanAbsActivations(structure: ModelStructure, model: Model, probe: Batch, groupIds: string[]): Promise<Map<string, Float64Array>> {
  const capture = structure.forwardWithActivations(model, probe.inputs, groupIds);
  try {
    const out = new Map<string, Float64Array>();
    for (const id of groupIds) {
      const t = capture.activations.get(id)!;
      const means = tf.tidy(() => tf.mean(tf.abs(t), [0, 2, 3]));
      out.set(id, Float64Array.from(await means.data()));
      means.dispose();
    }
    return out;
  } finally {
    tf.dispose([capture.output, capture.features, ...capture.activations.values()]);
  }
}

async function runCkaHybrid(context: MethodContext<CkaHybridOptions>): Promise<MethodResult> {
  const { options, trainer, log } = context;
  const structure = getModelStructure(context.model);
  const cost = structuredCost(structure, structuredTargetOf(context.target));
  const start = cost.measure(context.model);
  const allowed = cost.allowed(context.model);
  const stepAmount = options.stepFraction * start;
  const estimatedSteps = Math.max(1, Math.ceil((start - allowed) / stepAmount));
  const budget = options.finetune ? trainer.remainingExamples() : 0;
  const finalReserve = Math.floor(budget * options.finalFraction);
  const candidateExamples = options.finetune ? options.candidateExamples : 0;
  const perStep = Math.max(0, Math.floor((budget - finalReserve - estimatedSteps * 2 * candidateExamples) / estimatedSteps));
  const [probe] = trainer.sampleBatches(1, options.probeSize, context.rng.fork('cka-probe'));
  const groupOptions: ChannelGroupOptions = { coupled: options.coupledGroups };

  let model: Model = context.model;
  const history: Record<string, unknown>[] = [];
  const owned = (m: Model) => m !== context.model;
  try {
    for (let step = 1; cost.measure(model) > allowed; step++) {
      const parent = await probeFeatures(structure, model, probe);
      const want = Math.min(stepAmount, cost.measure(model) - allowed);
      const candidates: Candidate[] = [];
      try {
        const blocks = await blockCandidate(structure, model, probe, parent, want, cost.blockCost);
        if (blocks) candidates.push(blocks);
        const units = await unitCandidate(structure, model, probe, blocks?.saving ?? want, cost, groupOptions);
        if (units) candidates.push(units);
        if (candidates.length === 0) {
          throw new StructureError(`cka-hybrid: step ${step} can neither drop a block nor cut units; the target cannot be reached`);
        }
        for (const candidate of candidates) {
          await trainUnlessEmpty(trainer, candidate.model, {
            examples: Math.min(candidateExamples, remainingFor(trainer, 0)), label: `cka-step-${step}-${candidate.kind}`,
          });
          candidate.cka = linearCka(parent, await probeFeatures(structure, candidate.model, probe), probe.size);
        }
      } catch (error) {
        for (const c of candidates) c.model.dispose();
        throw error;
      }
      // the more similar candidate wins; a tie goes to dropping blocks (the bigger speed-up on real hardware)
      const winner = candidates.reduce((best, c) => (c.cka! > best.cka! ? c : best));
      for (const c of candidates) if (c !== winner) c.model.dispose();
      if (owned(model)) model.dispose();
      model = winner.model;
      log(`cka-hybrid step ${step}: ${winner.kind} (CKA ${candidates.map((c) => `${c.kind} ${c.cka!.toFixed(4)}`).join(', ')}), ` +
        `${cost.metric} ${Math.round(cost.measure(model))} → target ${Math.round(allowed)}`);
      history.push({
        step, choice: winner.kind, removed: winner.removed, measure: cost.measure(model),
        cka: Object.fromEntries(candidates.map((c) => [c.kind, round(c.cka!)])),
      });
      await trainUnlessEmpty(trainer, model, { examples: Math.min(perStep, remainingFor(trainer, finalReserve)), label: `cka-step-${step}-finetune` });
    }
    await trainUnlessEmpty(trainer, model, { examples: options.finetune ? trainer.remainingExamples() : 0, label: 'cka-final' });
  } catch (error) {
    if (owned(model)) model.dispose();
    throw error;
  } finally {
    disposeBatch(probe);
  }
  return {
    model,
    details: {
      metric: cost.metric, start, final: cost.measure(model), reduction: 1 - cost.measure(model) / start, probeSize: probe.size,
      coupledGroups: options.coupledGroups, steps: history,
    },
  };
}

/** What may be spent now while keeping `reserve` examples for later. */
function remainingFor(trainer: BudgetedTrainer, reserve: number): number {
  return Math.max(0, trainer.remainingExamples() - reserve);
}

/**
 * Drop the blocks whose individual removal changes the probe representation least (highest CKA to the parent),
 * as many as it takes to save `want`. Null when the model has no block left to drop.
 */
async function blockCandidate(
  structure: ModelStructure, model: Model, probe: Batch, parent: Float32Array, want: number, blockCost: (b: ReturnType<ModelStructure['removableBlocks']>[number]) => number,
): Promise<Candidate | null> {
  const blocks = structure.removableBlocks(model);
  if (blocks.length === 0) return null;
  const features = await featuresWithoutEachBlock(structure, model, probe, blocks.map((block) => block.id));
  const scored = blocks.map((block, index) => ({ block, index, cka: linearCka(parent, features.get(block.id)!, probe.size) }));
  scored.sort((a, b) => b.cka - a.cka || a.index - b.index);
  const chosen: string[] = [];
  let saving = 0;
  for (const { block } of scored) {
    if (saving >= want) break;
    chosen.push(block.id);
    saving += blockCost(block);
  }
  // a dropped block's costs are its own weights' (no group shares them), so the saving adds up exactly
  return { kind: 'blocks', model: structure.applySurgery(model, { removeBlocks: chosen }), removed: chosen, saving };
}

/**
 * Cut the same fraction of every group, lowest mean |activation| first, to save `amount`. With coupled groups the
 * unit costs of a stream and of the blocks' mid channels overlap, so the counts are sized by the surgered model's
 * exact measure (removalCountsForGoal, via planSize) and the saving is measured, not summed. Null when impossible.
 */
export async function unitCandidate(
  structure: ModelStructure, model: Model, probe: Batch, amount: number, cost: StructuredCost, groupOptions: ChannelGroupOptions,
): Promise<Candidate | null> {
  const groups = structure.channelGroups(model, groupOptions);
  if (groups.length === 0) return null;
  const before = cost.measure(model);
  let counts: Map<string, number>;
  try {
    counts = removalCountsForGoal(structure, model, groups, new Map(groups.map((g) => [g.id, 1])), cost, before - amount);
  } catch (error) {
    if (error instanceof StructureError) return null;
    throw error;
  }
  const cut = groups.filter((g) => (counts.get(g.id) ?? 0) > 0);
  const scores = await meanAbsActivations(structure, model, probe, cut.map((g) => g.id));
  const plan: SurgeryPlan = { keep: {} };
  for (const group of cut) {
    plan.keep![group.id] = keepIndicesByScore(Array.from(scores.get(group.id)!, (s) => [s]), counts.get(group.id)!);
  }
  const pruned = structure.applySurgery(model, plan);
  return { kind: 'units', model: pruned, removed: Object.fromEntries(counts), saving: before - cost.measure(pruned) };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
