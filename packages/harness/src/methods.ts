import type { PruningMethod } from '@prunebench/pruning';

/**
 * Registered methods by name. The harness knows methods only through a registry it is handed (suite validation,
 * planning and runs take one as an argument); the built-in list is assembled where the command is
 * (`packages/cli/src/methods.ts`), so the harness depends on no method package.
 */
export type MethodRegistry = ReadonlyMap<string, PruningMethod<any>>;

export function createMethodRegistry(methods: ReadonlyArray<PruningMethod<any>>): MethodRegistry {
  const registry = new Map<string, PruningMethod<any>>();
  for (const method of methods) {
    if (registry.has(method.name)) throw new Error(`two methods are registered as "${method.name}"`);
    registry.set(method.name, method);
  }
  return registry;
}
