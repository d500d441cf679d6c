import { createMethodRegistry, type MethodRegistry } from '@prunebench/harness';
import { ckaHybridMethod } from '@prunebench/method-cka-hybrid';
import { fpgmMethod } from '@prunebench/method-fpgm';
import { hrankMethod } from '@prunebench/method-hrank';
import { lthMethod } from '@prunebench/method-lth';
import { magnitudeMethod } from '@prunebench/method-magnitude';
import { randomMethod } from '@prunebench/method-random';
import { riglMethod } from '@prunebench/method-rigl';
import { safeMethod } from '@prunebench/method-safe';
import { setMethod } from '@prunebench/method-set';
import { snipMethod } from '@prunebench/method-snip';
import { sparsegptMethod } from '@prunebench/method-sparsegpt';
import { wandaMethod } from '@prunebench/method-wanda';
import type { PruningMethod } from '@prunebench/pruning';

/**
 * Every method package the command knows, in `prunebench list methods` order. A new method: one import and one
 * entry here (`npx nx g @prunebench/tools:method <name>` writes both), and the package in cli's package.json.
 */
export const BUILTIN_METHODS: ReadonlyArray<PruningMethod<any>> = [
  magnitudeMethod,
  randomMethod,
  lthMethod,
  snipMethod,
  safeMethod,
  hrankMethod,
  ckaHybridMethod,
  riglMethod,
  setMethod,
  fpgmMethod,
  wandaMethod,
  sparsegptMethod,
];

/** The built-in registry, handed to the harness's suite validation, planning and runs. */
export const METHODS: MethodRegistry = createMethodRegistry(BUILTIN_METHODS);
