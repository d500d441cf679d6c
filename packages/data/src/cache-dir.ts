/** Where downloaded and extracted datasets live by default: <repo root>/datasets/cache (git-ignored). */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from `start` to the first folder holding nx.json; null when there is none. */
export function findRepoRoot(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The repo's datasets/cache (found from this file, then from the working directory), else ~/.cache/prunebench. */
export function defaultCacheDir(): string {
  const root = findRepoRoot(dirname(fileURLToPath(import.meta.url))) ?? findRepoRoot(process.cwd());
  return root ? join(root, 'datasets', 'cache') : join(homedir(), '.cache', 'prunebench', 'datasets');
}
