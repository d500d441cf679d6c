import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The repository root (the nearest folder with nx.json above the working folder), else the working folder. */
export function projectRoot(start = process.cwd()): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(start);
    dir = parent;
  }
}

export const defaultStoreDir = () => join(projectRoot(), 'reports', 'runs');
export const defaultReportDir = () => join(projectRoot(), 'reports', 'latest');
export const defaultCheckpointCache = () => join(projectRoot(), 'datasets', 'cache', 'checkpoints');

/**
 * A shared data folder beside the checkout (`../shared`, as on the project's development machines), used
 * when neither a flag nor an environment variable names the data; otherwise undefined and the loaders
 * fall back to their own caches and downloads.
 */
export function sharedDefault(relative: string): string | undefined {
  const candidate = join(projectRoot(), '..', 'shared', relative);
  return existsSync(candidate) ? candidate : undefined;
}

export function defaultDataSource(): string | undefined {
  if (process.env.PRUNEBENCH_CIFAR10 || process.env.PRUNEBENCH_DATA) return undefined;
  return sharedDefault('datasets/cifar-10/cifar-10-binary.tar.gz');
}

export function defaultWeightsDir(): string | undefined {
  if (process.env.PRUNEBENCH_WEIGHTS) return undefined;
  return sharedDefault('weights');
}
