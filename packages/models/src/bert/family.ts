import type { ModelFamily } from '../types.js';
import type { BertArch } from './arch.js';
import { createBert } from './model.js';
import { bertStructure } from './structure.js';
import { traceBert } from './trace.js';

/** The `bert` model family: creation, tracing for MAC counts and the structure for heads / FFN neurons / encoder layers. */
export const bertFamily: ModelFamily<BertArch> = {
  family: 'bert',
  traceLayers: traceBert,
  structure: bertStructure,
  create: (arch, options) => createBert(arch, options),
};
