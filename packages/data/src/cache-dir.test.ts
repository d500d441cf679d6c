import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRepoRoot } from '@prunebench/engine';
import { defaultCacheDir } from './cache-dir.js';

describe('cache location', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunebench-root-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the nearest folder holding nx.json, or null', () => {
    writeFileSync(join(dir, 'nx.json'), '{}');
    const deep = join(dir, 'a', 'b', 'c');
    mkdirSync(deep, { recursive: true });
    expect(findRepoRoot(deep)).toBe(dir);
    expect(findRepoRoot('/')).toBeNull();
  });

  it('defaults to <repo root>/datasets/cache', () => {
    const cache = defaultCacheDir();
    expect(cache.endsWith(join('datasets', 'cache'))).toBe(true);
    expect(findRepoRoot(cache)).toBe(join(cache, '..', '..'));
  });
});
