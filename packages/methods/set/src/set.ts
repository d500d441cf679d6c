import { DST_OPTIONS, defineDynamicSparseMethod, type OptionsOf } from '@prunebench/pruning';

export type SetOptions = OptionsOf<typeof DST_OPTIONS>;

/** SET (Mocanu et al. 2018): drop the smallest active weights, regrow at random (seeded per update). */
export const setMethod = defineDynamicSparseMethod({
  name: 'set',
  description: 'SET: sparse evolutionary training, magnitude drop and random regrowth at a fixed sparsity',
  grow: 'random',
  options: DST_OPTIONS,
});
