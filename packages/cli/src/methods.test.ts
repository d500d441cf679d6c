// The built-in registry is the cli's: every method package under packages/methods is a dependency of the cli and
// registered once (its default export), and the harness depends on none of them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_METHODS, METHODS } from './methods.js';

const root = join(import.meta.dirname, '..', '..', '..');
const packageJson = (dir: string) => JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));

describe('the built-in method registry', () => {
  const methodDirs = readdirSync(join(root, 'packages', 'methods'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

  it('registers every method package once, by its default export, and the cli depends on each', async () => {
    expect(METHODS.size).toBe(BUILTIN_METHODS.length);
    const cliDeps = packageJson('packages/cli').dependencies as Record<string, string>;
    for (const dir of methodDirs) {
      const pkg = packageJson(join('packages', 'methods', dir));
      expect(pkg.name).toBe(`@prunebench/method-${dir}`);
      expect(pkg.nx.tags).toContain('scope:method');
      expect(cliDeps[pkg.name], `${pkg.name} in packages/cli/package.json`).toBe('*');
      const { default: method } = await import(`@prunebench/method-${dir}`);
      expect(BUILTIN_METHODS, `${dir}'s default export in packages/cli/src/methods.ts`).toContain(method);
    }
    expect(BUILTIN_METHODS).toHaveLength(methodDirs.length);
    for (const name of ['magnitude', 'random', 'lth', 'snip', 'safe', 'hrank', 'cka-hybrid']) expect(METHODS.has(name), name).toBe(true);
  });

  it('is not the harness\'s: the harness depends on no method package', () => {
    const harness = packageJson('packages/harness');
    expect(Object.keys(harness.dependencies).filter((name) => name.startsWith('@prunebench/method-'))).toEqual([]);
  });
});
