/** Where downloaded and extracted datasets live by default: <repo root>/datasets/cache (git-ignored). */
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot } from '@prunebench/engine';

/** The repo's datasets/cache (found from this file, then from the working directory), else ~/.cache/prunebench. */
export function defaultCacheDir(): string {
  const root = findRepoRoot(dirname(fileURLToPath(import.meta.url))) ?? findRepoRoot(process.cwd());
  return root ? join(root, 'datasets', 'cache') : join(homedir(), '.cache', 'prunebench', 'datasets');
}
