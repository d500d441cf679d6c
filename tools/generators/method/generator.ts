/**
 * `npx nx g @prunebench/tools:method <name>`: a new pruning-method package in packages/methods/<name>
 * (@prunebench/method-<name>, tagged scope:method) with a declared score method, a test on a toy model and a
 * README, registered in the cli's built-in registry (packages/cli/src/methods.ts) and in the cli's and the lock
 * file's dependencies, so that it shows in `prunebench list methods`, suites can name it, and it passes lint,
 * typecheck and its tests as generated.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { generateFiles, names, updateJson, type GeneratorCallback, type Tree } from '@nx/devkit';

export interface MethodGeneratorOptions {
  /** Registry name, kebab-case (`my-method`). */
  name: string;
  /** One line for `prunebench list methods` and the README. */
  description?: string;
}

export const METHOD_NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const DEFAULT_DESCRIPTION = 'TODO: one line on what the method prunes and why';
/** The cli's built-in registry, where the command is assembled. */
export const CLI_REGISTRY_FILE = 'packages/cli/src/methods.ts';
export const CLI_PACKAGE_JSON = 'packages/cli/package.json';
export const METHODS_DIR = 'packages/methods';
/** Rewrites the option table of every built-in method's README (npm run docs:methods). */
export const DOCS_SCRIPT = 'scripts/update-method-docs.ts';
/** The generated package's dependencies (what its src imports, besides @tensorflow/tfjs from the root). */
const METHOD_DEPENDENCIES = ['@prunebench/pruning'];

/** Names derived from the registry name `my-method`. */
export function methodNames(name: string) {
  if (!METHOD_NAME_PATTERN.test(name)) {
    throw new Error(`method name "${name}": use kebab-case, lower-case letters and digits (e.g. "my-method"); it is the registry name suites spell`);
  }
  const { fileName, propertyName, className, constantName } = names(name);
  return {
    name,
    fileName,
    className,
    constantName,
    /** `myMethodMethod`: the exported declaration, as the other packages name theirs. */
    exportName: `${propertyName}Method`,
    packageName: `@prunebench/method-${name}`,
    packageDir: `${METHODS_DIR}/${name}`,
  };
}

export async function methodGenerator(tree: Tree, options: MethodGeneratorOptions): Promise<GeneratorCallback> {
  const n = methodNames(options.name);
  const description = (options.description ?? DEFAULT_DESCRIPTION).trim();
  if (!description || /[\n\r]/.test(description) || description.includes('*/')) throw new Error('description: one line of text (no "*/")');
  if (tree.exists(n.packageDir)) throw new Error(`${n.packageDir} exists already`);
  if (!tree.exists(CLI_REGISTRY_FILE)) throw new Error(`${CLI_REGISTRY_FILE} not found: run the generator from the workspace root`);

  const registry = tree.read(CLI_REGISTRY_FILE, 'utf-8')!;
  tree.write(CLI_REGISTRY_FILE, addToRegistry(registry, n));

  generateFiles(tree, join(templateDir(), 'files'), n.packageDir, {
    ...n,
    description,
    // escaped for a single-quoted TypeScript string and for a JSON string
    descriptionLiteral: description.replace(/\\/g, '\\\\').replace(/'/g, "\\'"),
    descriptionJson: JSON.stringify(description).slice(1, -1),
  });

  updateJson(tree, CLI_PACKAGE_JSON, (json) => {
    json.dependencies = Object.fromEntries(insertSorted(Object.entries(json.dependencies ?? {}), '@prunebench/method-', [n.packageName, '*']));
    return json;
  });
  if (tree.exists('package-lock.json')) updateJson(tree, 'package-lock.json', (lock) => addToLockfile(lock, n));

  return () => {
    linkWorkspacePackage(tree.root, n.packageDir, n.packageName);
    fillOptionTable(tree.root, n.packageDir);
    console.log(
      [
        '',
        `${n.packageName} in ${n.packageDir}, registered as "${n.name}" in ${CLI_REGISTRY_FILE}. Next:`,
        `  npx vitest run --config vitest.shared.ts ${n.packageDir}   # its tests on a toy model`,
        `  npm run prunebench -- list methods   # shows "${n.name}" and its options`,
        `  then write its score function in ${n.packageDir}/src/${n.fileName}.ts and name it in a suite: "methods": ["${n.name}"]`,
      ].join('\n'),
    );
  };
}

export default methodGenerator;

function templateDir(): string {
  // __dirname under tsx's require (how Nx loads it) and under vitest alike
  return typeof __dirname === 'string' ? __dirname : dirname(new URL(import.meta.url).pathname);
}

const METHOD_IMPORT = /^import \{ (\w+) \} from '(@prunebench\/method-[^']+)';$/gm;
const BUILTIN_LIST = /(export const BUILTIN_METHODS\b[^=]*=\s*\[\n)([\s\S]*?)(\];)/;

/** The registry source with one import (in package order among the method imports) and one entry (last) added. */
export function addToRegistry(source: string, n: { exportName: string; packageName: string }): string {
  if (source.includes(`'${n.packageName}'`)) throw new Error(`${CLI_REGISTRY_FILE} imports ${n.packageName} already`);
  const list = BUILTIN_LIST.exec(source);
  if (!list) throw new Error(`${CLI_REGISTRY_FILE}: no "export const BUILTIN_METHODS … = [ … ];" list to add ${n.exportName} to`);
  const body = list[2].endsWith('\n') || list[2] === '' ? list[2] : `${list[2]}\n`;
  let out = source.slice(0, list.index) + list[1] + body + `  ${n.exportName},\n` + list[3] + source.slice(list.index + list[0].length);

  const line = `import { ${n.exportName} } from '${n.packageName}';\n`;
  const imports = [...out.matchAll(METHOD_IMPORT)];
  const after = imports.find((m) => m[2].localeCompare(n.packageName, 'en') > 0);
  if (after) out = out.slice(0, after.index) + line + out.slice(after.index);
  else if (imports.length) {
    const last = imports[imports.length - 1];
    const at = last.index! + last[0].length + 1;
    out = out.slice(0, at) + line + out.slice(at);
  } else {
    const harness = /^import .* from '@prunebench\/harness';\n/m.exec(out);
    if (!harness) throw new Error(`${CLI_REGISTRY_FILE}: no import to put "${line.trim()}" after`);
    const at = harness.index + harness[0].length;
    out = out.slice(0, at) + line + out.slice(at);
  }
  return out;
}

/** The workspace entries `npm install` would write, so that `npm ci` stays in sync without a network. */
export function addToLockfile(lock: any, n: { packageName: string; packageDir: string }): any {
  const packages: Record<string, any> = lock.packages ?? {};
  const cli = packages['packages/cli'];
  if (cli) cli.dependencies = sortKeys({ ...cli.dependencies, [n.packageName]: '*' });
  let entries = Object.entries(packages);
  // npm lists the links beside the other node_modules/@prunebench/* entries and the folders beside packages/*, in order
  entries = insertSorted(entries, 'node_modules/@prunebench/', [`node_modules/${n.packageName}`, { resolved: n.packageDir, link: true }]);
  entries = insertSorted(entries, 'packages/', [
    n.packageDir,
    { name: n.packageName, version: '0.1.0', dependencies: Object.fromEntries(METHOD_DEPENDENCIES.map((d) => [d, '*'])) },
  ]);
  lock.packages = Object.fromEntries(entries);
  return lock;
}

/** `entry` among the keys starting with `group`, before the first that sorts after it (else after the last; else at the end). */
function insertSorted(entries: [string, any][], group: string, entry: [string, any]): [string, any][] {
  const inGroup = entries.map(([key], i) => [key, i] as const).filter(([key]) => key.startsWith(group));
  const next = inGroup.find(([key]) => key.localeCompare(entry[0], 'en') > 0);
  const at = next ? next[1] : inGroup.length ? inGroup[inGroup.length - 1][1] + 1 : entries.length;
  return [...entries.slice(0, at), entry, ...entries.slice(at)];
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b, 'en')));
}

/** The README's option table comes from the declarations: `npm run docs:methods` (scripts/update-method-docs.ts) writes it. */
function fillOptionTable(root: string, packageDir: string): void {
  const script = join(root, DOCS_SCRIPT);
  const done = existsSync(script) && spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: 'inherit' }).status === 0;
  if (!done) console.warn(`${packageDir}/README.md: its option table is empty; run npm run docs:methods`);
}

/** What `npm install` would do for a new workspace package: node_modules/@prunebench/<pkg> → the folder. */
function linkWorkspacePackage(root: string, packageDir: string, packageName: string): void {
  const link = join(root, 'node_modules', ...packageName.split('/'));
  if (!existsSync(join(root, 'node_modules'))) return;
  try {
    lstatSync(link);
    return;
  } catch {
    // absent: link it
  }
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(relative(dirname(link), join(root, packageDir)), link, 'dir');
}
