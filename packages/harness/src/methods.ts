import { ckaHybridMethod } from '@prunebench/method-cka-hybrid';
import { hrankMethod } from '@prunebench/method-hrank';
import { lthMethod } from '@prunebench/method-lth';
import { magnitudeMethod } from '@prunebench/method-magnitude';
import { randomMethod } from '@prunebench/method-random';
import { safeMethod } from '@prunebench/method-safe';
import { snipMethod } from '@prunebench/method-snip';
import type { PruningMethod } from '@prunebench/pruning';

/** Registered methods by name: one line per method package in BUILTIN_METHODS. */
export type MethodRegistry = ReadonlyMap<string, PruningMethod<any>>;

export function createMethodRegistry(methods: ReadonlyArray<PruningMethod<any>>): MethodRegistry {
  const registry = new Map<string, PruningMethod<any>>();
  for (const method of methods) {
    if (registry.has(method.name)) throw new Error(`two methods are registered as "${method.name}"`);
    registry.set(method.name, method);
  }
  return registry;
}

/** Every method package the harness knows (a new method: one import and one entry here). */
export const BUILTIN_METHODS: ReadonlyArray<PruningMethod<any>> = [
  magnitudeMethod,
  randomMethod,
  lthMethod,
  snipMethod,
  safeMethod,
  hrankMethod,
  ckaHybridMethod,
];

export const METHODS: MethodRegistry = createMethodRegistry(BUILTIN_METHODS);
