import { StructureError, type ChannelGroup, type ModelStructure, type RemovableBlock, type SurgeryPlan } from './structure.js';
import type { Model } from './types.js';

/**
 * Family-agnostic checks of a SurgeryPlan against a model's groups and blocks: every error is a StructureError
 * naming the group or block. `blockOfGroup` maps a group to the block that owns it (a group inside a block that
 * the plan drops cannot also be cut). Returns the plan's keep lists and dropped blocks as lookups.
 */
export function checkSurgeryPlan(
  groups: readonly ChannelGroup[],
  blocks: readonly RemovableBlock[],
  plan: SurgeryPlan,
  blockOfGroup: (groupId: string) => string | null,
): { keep: Map<string, number[]>; removeBlocks: Set<string> } {
  if (plan === null || typeof plan !== 'object') throw new StructureError(`surgery plan must be an object, got ${JSON.stringify(plan)}`);
  const groupById = new Map(groups.map((g) => [g.id, g]));
  const blockIds = new Set(blocks.map((b) => b.id));
  const removeBlocks = new Set<string>();
  for (const id of plan.removeBlocks ?? []) {
    if (!blockIds.has(id)) {
      throw new StructureError(`block "${id}" cannot be dropped: not a removable block of this model (known: ${[...blockIds].join(', ') || 'none'})`);
    }
    if (removeBlocks.has(id)) throw new StructureError(`block "${id}" is listed twice in removeBlocks`);
    removeBlocks.add(id);
  }
  const keep = new Map<string, number[]>();
  for (const [id, indices] of Object.entries(plan.keep ?? {})) {
    const group = groupById.get(id);
    if (!group) throw new StructureError(`group "${id}" is not a channel group of this model (it may be coupled, removed, or misspelt)`);
    const owner = blockOfGroup(id);
    if (owner !== null && removeBlocks.has(owner)) {
      throw new StructureError(`group "${id}" is cut while its block "${owner}" is dropped; give one or the other`);
    }
    if (!Array.isArray(indices)) throw new StructureError(`group "${id}": keep must be an array of unit indices`);
    for (let i = 0; i < indices.length; i++) {
      const k = indices[i];
      if (!Number.isInteger(k) || k < 0 || k >= group.size) {
        throw new StructureError(`group "${id}": keep index ${JSON.stringify(k)} is outside [0, ${group.size})`);
      }
      if (i > 0 && k <= indices[i - 1]) throw new StructureError(`group "${id}": keep indices must be ascending and unique (${indices[i - 1]}, ${k})`);
    }
    if (indices.length < group.minSize) {
      throw new StructureError(`group "${id}": keeping ${indices.length} of ${group.size} units is below its minimum of ${group.minSize}`);
    }
    keep.set(id, [...indices]);
  }
  return { keep, removeBlocks };
}

/**
 * How many units to remove from each group so that the removed cost (Σ count_g · cost_g, e.g. `macsPerUnit` or
 * `paramsPerUnit`) reaches `amount`: group g loses round(min(1, c · ratio_g) · size_g) units (never going below
 * minSize), with the smallest scale c that reaches the amount (bisection; c is shared, so the ratios keep their
 * proportions, and equal ratios mean a uniform fraction). Groups without a ratio are left whole. A StructureError
 * when even cutting every listed group to its minimum does not reach the amount.
 */
export function removalCountsForAmount(
  groups: readonly ChannelGroup[],
  ratios: ReadonlyMap<string, number>,
  cost: (group: ChannelGroup) => number,
  amount: number,
): Map<string, number> {
  const listed = groups.filter((g) => (ratios.get(g.id) ?? 0) > 0);
  const countsAt = (c: number) =>
    new Map(listed.map((g) => [g.id, Math.min(g.size - g.minSize, Math.round(Math.min(1, c * ratios.get(g.id)!) * g.size))]));
  const removed = (counts: Map<string, number>) => listed.reduce((sum, g) => sum + counts.get(g.id)! * cost(g), 0);
  if (amount <= 0) return new Map(listed.map((g) => [g.id, 0]));
  const maxRatio = Math.max(0, ...listed.map((g) => ratios.get(g.id)!));
  let hi = maxRatio > 0 ? 1 / Math.min(...listed.map((g) => ratios.get(g.id)!)) : 0;
  if (!(maxRatio > 0) || removed(countsAt(hi)) < amount) {
    throw new StructureError(
      `cannot remove ${Math.round(amount)} (cost units) by cutting channel groups: at most ${Math.round(maxRatio > 0 ? removed(countsAt(hi)) : 0)} ` +
        `can go while every group keeps its minimum (${listed.length} groups listed)`,
    );
  }
  let lo = 0;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (removed(countsAt(mid)) >= amount) hi = mid;
    else lo = mid;
  }
  return countsAt(hi);
}

/**
 * Indices to keep in a group when removing `count` units with the lowest scores (compared by `scoreKeys`
 * lexicographically, lower = less important; ties by index), ascending as a SurgeryPlan wants them.
 */
export function keepIndicesByScore(scoreKeys: ReadonlyArray<ReadonlyArray<number>>, count: number): number[] {
  const order = scoreKeys.map((_, i) => i).sort((a, b) => {
    const ka = scoreKeys[a];
    const kb = scoreKeys[b];
    for (let k = 0; k < Math.max(ka.length, kb.length); k++) {
      const d = (ka[k] ?? 0) - (kb[k] ?? 0);
      if (d !== 0) return d;
    }
    return a - b;
  });
  const removed = new Set(order.slice(0, count));
  return scoreKeys.map((_, i) => i).filter((i) => !removed.has(i));
}

/** The two target kinds structured methods accept (the same shape as @prunebench/pruning's PruningTarget). */
export type StructuredTarget = { kind: 'compression'; ratio: number } | { kind: 'flops-reduction'; fraction: number };

/** What a structured target is measured in, and how much of it each group unit and block costs. */
export interface StructuredCost {
  metric: 'macs' | 'params';
  /** The measure of a model: MACs per example (structure.totalMacs) or total parameters. */
  measure(model: Model): number;
  unitCost(group: ChannelGroup): number;
  blockCost(block: RemovableBlock): number;
  /** The largest measure the final model may have: (1 − fraction) · MACs, or parameters / ratio, of `start`. */
  allowed(start: Model): number;
}

/**
 * How a FLOP-reduction target (MACs of the headline ops, as the harness checks it) or a compression target
 * (total parameters / remaining parameters, ShrinkBench's ratio for a model whose weights are all kept) is
 * priced in a structure's units. An Error when a FLOP target meets a structure without `totalMacs`.
 */
export function structuredCost(structure: ModelStructure, target: StructuredTarget): StructuredCost {
  if (target.kind === 'flops-reduction') {
    const totalMacs = structure.totalMacs?.bind(structure);
    if (!totalMacs) throw new Error('this model family\'s structure has no totalMacs(), which a flops-reduction target needs');
    if (!(target.fraction > 0 && target.fraction < 1)) throw new Error(`flops-reduction fraction must be in (0, 1), got ${target.fraction}`);
    return {
      metric: 'macs', measure: (m) => totalMacs(m), unitCost: (g) => g.macsPerUnit, blockCost: (b) => b.macs,
      allowed: (start) => (1 - target.fraction) * totalMacs(start),
    };
  }
  if (!(target.ratio >= 1)) throw new Error(`compression ratio must be >= 1, got ${target.ratio}`);
  const params = (m: Model) => [...m.params.values()].reduce((n, v) => n + v.size, 0);
  return { metric: 'params', measure: params, unitCost: (g) => g.paramsPerUnit, blockCost: (b) => b.params, allowed: (start) => params(start) / target.ratio };
}

/** A plan that keeps the first `size − count` units of each group (what sizes a plan: which units does not matter). */
export function planForCounts(groups: readonly ChannelGroup[], counts: ReadonlyMap<string, number>): SurgeryPlan {
  const keep: Record<string, number[]> = {};
  for (const g of groups) {
    const n = counts.get(g.id) ?? 0;
    if (n > 0) keep[g.id] = Array.from({ length: g.size - n }, (_, i) => i);
  }
  return { keep };
}

/**
 * removalCountsForAmount aimed at the surgered model's measure: at most `goal` (cost.allowed, or a step's share of
 * it). The unit costs add up exactly while the groups are independent (then this is removalCountsForAmount with
 * amount = measure − goal, unchanged). Coupled groups share weights with the independent groups that touch them, so
 * the sum of unit costs overstates what cutting both saves; where the structure sizes plans exactly (`planSize`),
 * the amount is raised by bisection until the exact size of the plan meets the goal. A StructureError when even the
 * largest amount does not.
 */
export function removalCountsForGoal(
  structure: ModelStructure,
  model: Model,
  groups: readonly ChannelGroup[],
  ratios: ReadonlyMap<string, number>,
  cost: StructuredCost,
  goal: number,
): Map<string, number> {
  const amount = cost.measure(model) - goal;
  const counts = removalCountsForAmount(groups, ratios, cost.unitCost, amount);
  const planSize = structure.planSize?.bind(structure);
  if (!planSize || amount <= 0) return counts;
  const exact = (c: Map<string, number>) => {
    const size = planSize(model, planForCounts(groups, c));
    return cost.metric === 'macs' ? size.macs : size.params;
  };
  if (exact(counts) <= goal) return counts;
  let lo = amount;
  let hi = groups.filter((g) => (ratios.get(g.id) ?? 0) > 0).reduce((sum, g) => sum + (g.size - g.minSize) * cost.unitCost(g), 0);
  if (exact(removalCountsForAmount(groups, ratios, cost.unitCost, hi)) > goal) {
    throw new StructureError(`cannot reach ${Math.round(goal)} (${cost.metric}) by cutting the listed channel groups, even to their minimum`);
  }
  for (let i = 0; i < 40 && hi - lo > 0.5; i++) {
    const mid = (lo + hi) / 2;
    if (exact(removalCountsForAmount(groups, ratios, cost.unitCost, mid)) <= goal) hi = mid;
    else lo = mid;
  }
  return removalCountsForAmount(groups, ratios, cost.unitCost, hi);
}
