/** Seeded, class-balanced subsets: validation carved from train, and small per-class subsets. */
import type { SeededRng } from '@prunebench/engine';
import { checkImageSet, selectImages, type ImageSet } from './image-set.js';

/** Indices of each class, in set order; the class count is max label + 1. */
function indicesByClass(set: ImageSet): number[][] {
  let numClasses = 0;
  for (let i = 0; i < set.count; i++) numClasses = Math.max(numClasses, set.labels[i] + 1);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < set.count; i++) byClass[set.labels[i]].push(i);
  return byClass;
}

/**
 * Chooses `perClass[c]` random indices of each class c. Returns a flag per example (chosen or not) so
 * callers can keep both parts in the original order.
 */
function chooseBalanced(byClass: number[][], perClass: number[], rng: SeededRng, count: number): Uint8Array {
  const chosen = new Uint8Array(count);
  byClass.forEach((indices, c) => {
    const need = perClass[c];
    if (indices.length < need) {
      throw new RangeError(`too few examples of class ${c}: need ${need}, have ${indices.length}`);
    }
    const shuffled = rng.shuffle(indices.slice());
    for (let k = 0; k < need; k++) chosen[shuffled[k]] = 1;
  });
  return chosen;
}

function indicesWhere(flags: Uint8Array, value: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < flags.length; i++) if (flags[i] === value) out.push(i);
  return out;
}

/**
 * Splits `train` into train and a class-balanced validation set of `valSize` examples
 * (valSize / numClasses per class; the remainder goes one each to randomly chosen classes).
 * Both parts keep the original order. The test split stays untouched for final reporting.
 */
export function splitTrainVal(train: ImageSet, opts: { valSize: number; rng: SeededRng }): { train: ImageSet; val: ImageSet } {
  checkImageSet(train, 'train');
  const { valSize, rng } = opts;
  if (!Number.isInteger(valSize) || valSize <= 0 || valSize >= train.count) {
    throw new RangeError(`valSize must be an integer in [1, ${train.count - 1}], got ${valSize}`);
  }
  const byClass = indicesByClass(train);
  const numClasses = byClass.length;
  const perClass = new Array<number>(numClasses).fill(Math.floor(valSize / numClasses));
  const extra = rng.permutation(numClasses);
  for (let k = 0; k < valSize % numClasses; k++) perClass[extra[k]]++;
  const chosen = chooseBalanced(byClass, perClass, rng, train.count);
  return { train: selectImages(train, indicesWhere(chosen, 0)), val: selectImages(train, indicesWhere(chosen, 1)) };
}

/** A subset with exactly `perClass` random examples of every class, in the set's original order. */
export function classBalancedSubset(set: ImageSet, perClass: number, rng: SeededRng): ImageSet {
  checkImageSet(set, 'set');
  if (!Number.isInteger(perClass) || perClass <= 0) throw new RangeError(`perClass must be a positive integer, got ${perClass}`);
  const byClass = indicesByClass(set);
  const chosen = chooseBalanced(byClass, byClass.map(() => perClass), rng, set.count);
  return selectImages(set, indicesWhere(chosen, 1));
}
