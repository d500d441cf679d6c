import type { Model } from '@prunebench/models';
import { getParam } from './masks.js';

/** The first conv weight in parameter order (the stem), if any. */
export function firstConvName(model: Model): string | undefined {
  for (const [name, kind] of model.paramKinds) if (kind === 'conv2d') return name;
  return undefined;
}

/** The last linear weight in parameter order (the classifier), if any. */
export function classifierName(model: Model): string | undefined {
  let last: string | undefined;
  for (const [name, kind] of model.paramKinds) if (kind === 'linear') last = name;
  return last;
}

/**
 * Narrow the task's prunable set by a method's own rule: drop the first conv and/or the classifier (many
 * papers keep them dense). Every name must exist in the model.
 */
export function restrictPrunable(
  model: Model,
  prunable: readonly string[],
  rule: { pruneFirstConv: boolean; pruneClassifier: boolean },
): string[] {
  for (const name of prunable) getParam(model, name);
  const drop = new Set<string>();
  const first = firstConvName(model);
  const classifier = classifierName(model);
  if (!rule.pruneFirstConv && first) drop.add(first);
  if (!rule.pruneClassifier && classifier) drop.add(classifier);
  const kept = prunable.filter((name) => !drop.has(name));
  if (kept.length === 0) throw new Error('no prunable parameters left after excluding the first conv / classifier');
  return kept;
}
