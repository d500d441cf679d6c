import { bertFamily } from './bert/family.js';
import { resnetCifarFamily } from './resnet-cifar-structure.js';
import type { ModelStructure } from './structure.js';
import type { ArchSpec, LayerSpec, Model, ModelFamily } from './types.js';

/** Model families by name, so generic code (metrics, export, surgery) can trace any model's arch. */
const families = new Map<string, ModelFamily>();

export function registerModelFamily<A extends ArchSpec>(family: ModelFamily<A>): void {
  if (!family.family) throw new Error('registerModelFamily: family.family (the name) is required');
  families.set(family.family, family as unknown as ModelFamily);
}

export function getModelFamily(name: string): ModelFamily {
  const family = families.get(name);
  if (!family) {
    throw new Error(`unknown model family "${name}"; known: ${[...families.keys()].sort().join(', ') || '(none)'}`);
  }
  return family;
}

export function listModelFamilies(): string[] {
  return [...families.keys()].sort();
}

/** The structured-pruning interface of a model's family; an Error when the family has none. */
export function getModelStructure(model: Model): ModelStructure {
  const family = getModelFamily(model.arch.family);
  if (!family.structure) throw new Error(`model family "${family.family}" does not support structured pruning (no surgery)`);
  return family.structure;
}

/** Trace any arch through its registered family. */
export function traceLayers(arch: ArchSpec, inputShape: number[]): LayerSpec[] {
  return getModelFamily(arch.family).traceLayers(arch, inputShape);
}

registerModelFamily(resnetCifarFamily);
registerModelFamily(bertFamily);
