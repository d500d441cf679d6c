import { RIGL_OPTIONS, defineDynamicSparseMethod, type OptionsOf } from '@prunebench/pruning';

export type RiglOptions = OptionsOf<typeof RIGL_OPTIONS>;

/** RigL (Evci et al. 2020): drop the smallest active weights, regrow where the dense gradient (one charged batch) is largest. */
export const riglMethod = defineDynamicSparseMethod({
  name: 'rigl',
  description: 'RigL: dynamic sparse training, magnitude drop and gradient regrowth at a fixed sparsity',
  grow: 'gradient',
  options: RIGL_OPTIONS,
});
