// The method generator on a virtual copy of this workspace's registry, cli package.json and lock file, and its
// generated package written inside the repository and checked like a real one: typecheck, lint, its own test.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { OPTION_TABLE_BEGIN, OPTION_TABLE_END } from '@prunebench/cli';
import { CLI_PACKAGE_JSON, CLI_REGISTRY_FILE, addToRegistry, methodGenerator } from './generator.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const fromRepo = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

/** A virtual workspace holding the files the generator edits, as they are in this repository. */
function workspace(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  for (const path of [CLI_REGISTRY_FILE, CLI_PACKAGE_JSON, 'package-lock.json']) tree.write(path, fromRepo(path));
  return tree;
}

const read = (tree: Tree, path: string) => tree.read(path, 'utf-8')!;
/** npm's order (package-lock.json, package.json dependencies). */
const sorted = (keys: string[]) => [...keys].sort((a, b) => a.localeCompare(b, 'en'));
const json = (tree: Tree, path: string) => JSON.parse(read(tree, path));
const PACKAGE_FILES = ['README.md', 'package.json', 'src/index.ts', 'src/toy-score.test.ts', 'src/toy-score.ts', 'tsconfig.json'];

describe('npx nx g @prunebench/tools:method', () => {
  it('creates packages/methods/<name> like the other method packages and registers it in the cli', async () => {
    const tree = workspace();
    await methodGenerator(tree, { name: 'toy-score', description: "A toy's score" });
    const dir = 'packages/methods/toy-score';
    expect(tree.children(dir).sort()).toEqual(['README.md', 'package.json', 'src', 'tsconfig.json']);
    expect(tree.children(`${dir}/src`).sort()).toEqual(['index.ts', 'toy-score.test.ts', 'toy-score.ts']);

    const pkg = json(tree, `${dir}/package.json`);
    expect(pkg).toMatchObject({ name: '@prunebench/method-toy-score', type: 'module', exports: { '.': './src/index.ts' }, description: "A toy's score" });
    expect(pkg.nx.tags).toEqual(['scope:method']);
    expect(Object.keys(pkg.nx.targets)).toEqual(['test', 'typecheck']);
    expect(pkg.dependencies).toEqual({ '@prunebench/pruning': '*' });
    expect(json(tree, `${dir}/tsconfig.json`).extends).toBe('../../../tsconfig.base.json');

    const source = read(tree, `${dir}/src/toy-score.ts`);
    expect(source).toContain('export const toyScoreMethod = defineScoreMethod({');
    expect(source).toContain("name: 'toy-score',");
    expect(source).toContain("description: 'A toy\\'s score',");
    expect(read(tree, `${dir}/src/index.ts`)).toContain('export default toyScoreMethod;');
    expect(read(tree, `${dir}/src/toy-score.test.ts`)).toContain("from '@prunebench/pruning/testing'");

    const readme = read(tree, `${dir}/README.md`);
    expect(readme.startsWith("# @prunebench/method-toy-score\n\nA toy's score\n")).toBe(true);
    // the option table's markers, filled by npm run docs:methods (the generator runs it once the files are written)
    expect(readme).toContain(`${OPTION_TABLE_BEGIN}\n${OPTION_TABLE_END}`);
    expect(readme).toContain('npx vitest run --config vitest.shared.ts packages/methods/toy-score');

    // the registry line: one import in package order, one entry at the end of BUILTIN_METHODS
    const registry = read(tree, CLI_REGISTRY_FILE);
    const before = fromRepo(CLI_REGISTRY_FILE).split('\n');
    expect(registry.split('\n').filter((line) => !before.includes(line))).toEqual(["import { toyScoreMethod } from '@prunebench/method-toy-score';", '  toyScoreMethod,']);
    expect(registry).toContain('  toyScoreMethod,\n];');
    const methodImports = [...registry.matchAll(/from '(@prunebench\/method-[^']+)';/g)].map((m) => m[1]);
    expect(methodImports).toEqual(sorted(methodImports));
    const cliDependencies = Object.keys(json(tree, CLI_PACKAGE_JSON).dependencies);
    expect(cliDependencies.filter((d) => !(d in JSON.parse(fromRepo(CLI_PACKAGE_JSON)).dependencies))).toEqual(['@prunebench/method-toy-score']);
    const methodDependencies = cliDependencies.filter((d) => d.startsWith('@prunebench/method-'));
    expect(methodDependencies).toEqual(sorted(methodDependencies));

    // the lock file as npm install would write it (npm ci stays in sync without a network)
    const lock = json(tree, 'package-lock.json');
    expect(lock.packages[dir]).toEqual({ name: '@prunebench/method-toy-score', version: '0.1.0', dependencies: { '@prunebench/pruning': '*' } });
    expect(lock.packages['node_modules/@prunebench/method-toy-score']).toEqual({ resolved: dir, link: true });
    expect(lock.packages['packages/cli'].dependencies['@prunebench/method-toy-score']).toBe('*');
    const keys = Object.keys(lock.packages);
    const previous = JSON.parse(fromRepo('package-lock.json')).packages;
    expect(keys.filter((k) => !(k in previous))).toEqual(['node_modules/@prunebench/method-toy-score', dir]);
    for (const group of ['node_modules/@prunebench/method-', 'packages/methods/']) {
      const inGroup = keys.filter((k) => k.startsWith(group));
      expect(inGroup).toEqual(sorted(inGroup));
    }
  });

  it('refuses names that are not kebab-case, and a method that exists', async () => {
    const tree = workspace();
    await expect(methodGenerator(tree, { name: 'Toy_Score' })).rejects.toThrow(/method name "Toy_Score": use kebab-case/);
    await expect(methodGenerator(tree, { name: 'magnitude' })).rejects.toThrow(/imports @prunebench\/method-magnitude already/);
    tree.write('packages/methods/taken/README.md', '# taken\n');
    await expect(methodGenerator(tree, { name: 'taken' })).rejects.toThrow('packages/methods/taken exists already');
    await expect(methodGenerator(tree, { name: 'fine', description: 'two\nlines' })).rejects.toThrow(/one line/);
  });

  it('adds the first method import after the harness import of an empty registry, and keeps the imports in package order', () => {
    const empty = "import { createMethodRegistry } from '@prunebench/harness';\n\nexport const BUILTIN_METHODS: ReadonlyArray<PruningMethod<any>> = [\n];\n";
    const one = addToRegistry(empty, { exportName: 'bMethod', packageName: '@prunebench/method-b' });
    expect(one).toBe(
      "import { createMethodRegistry } from '@prunebench/harness';\nimport { bMethod } from '@prunebench/method-b';\n\nexport const BUILTIN_METHODS: ReadonlyArray<PruningMethod<any>> = [\n  bMethod,\n];\n",
    );
    const two = addToRegistry(one, { exportName: 'aMethod', packageName: '@prunebench/method-a' });
    expect(two).toContain("import { aMethod } from '@prunebench/method-a';\nimport { bMethod } from '@prunebench/method-b';\n");
    expect(two).toContain('  bMethod,\n  aMethod,\n];');
    expect(() => addToRegistry('export const OTHER = [];\n', { exportName: 'aMethod', packageName: '@prunebench/method-a' })).toThrow(/no "export const BUILTIN_METHODS/);
  });

  describe('the generated package, written inside the repository', () => {
    mkdirSync(join(repoRoot, 'tmp'), { recursive: true });
    const scratch = mkdtempSync(join(repoRoot, 'tmp', 'method-generator-'));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    it('typechecks with its own tsconfig, lints clean and passes its own test on a toy model', async () => {
      const tree = workspace();
      await methodGenerator(tree, { name: 'toy-score' });
      // tmp/<scratch>/toy-score/ sits as deep as packages/methods/toy-score/, so its tsconfig's "extends" holds
      const dir = join(scratch, 'toy-score');
      for (const file of PACKAGE_FILES) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), read(tree, `packages/methods/toy-score/${file}`));
      }
      const run = (args: string[]) => spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, NX_TASK_TARGET_PROJECT: 'generated-method-check', NO_COLOR: '1', FORCE_COLOR: '0' } });

      const tsc = run([join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json'), '--noEmit']);
      expect(tsc.stdout + tsc.stderr, 'tsc').toBe('');
      expect(tsc.status).toBe(0);

      // eslint's ignore list has no tmp/; the module-boundary rule has no project here, the TypeScript rules apply
      const eslint = run([join(repoRoot, 'node_modules/eslint/bin/eslint.js'), '--rule', '@nx/enforce-module-boundaries: off', relative(repoRoot, dir)]);
      expect(eslint.stdout + eslint.stderr, 'eslint').toBe('');
      expect(eslint.status).toBe(0);

      const vitest = run([join(repoRoot, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.shared.ts', '--dir', relative(repoRoot, dir), '--reporter', 'default']);
      expect(vitest.status, vitest.stdout + vitest.stderr).toBe(0);
      expect(vitest.stdout.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Tests\s+4 passed \(4\)/);
    }, 180_000);
  });
});
