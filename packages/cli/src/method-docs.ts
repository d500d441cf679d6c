import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { optionTable, type PruningMethod } from '@prunebench/pruning';

/** The option table of a method's README sits between these two lines; `npm run docs:methods` rewrites it. */
export const OPTION_TABLE_BEGIN = "<!-- options: generated from the method's option declarations by `npm run docs:methods`; edit those, not this table -->";
export const OPTION_TABLE_END = '<!-- /options -->';

/** A built-in method's package folder is named after the method (`packages/methods/<name>`). */
export function methodReadmePath(repoRoot: string, method: Pick<PruningMethod, 'name'>): string {
  return join(repoRoot, 'packages', 'methods', method.name, 'README.md');
}

/** The README text with its option table regenerated from the method's declarations. */
export function withOptionTable(readme: string, method: Pick<PruningMethod, 'name' | 'options'>, file = 'README.md'): string {
  const begin = readme.indexOf(OPTION_TABLE_BEGIN);
  const end = readme.indexOf(OPTION_TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`${file}: no option table markers for method "${method.name}" (${OPTION_TABLE_BEGIN} … ${OPTION_TABLE_END})`);
  const table = Object.keys(method.options).length ? optionTable(method.options) : '(no options)';
  return `${readme.slice(0, begin + OPTION_TABLE_BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}

/** Rewrites every method README whose table is stale; returns the files written. */
export function updateMethodReadmes(repoRoot: string, methods: ReadonlyArray<PruningMethod<any>>): string[] {
  const written: string[] = [];
  for (const method of methods) {
    const file = methodReadmePath(repoRoot, method);
    const before = readFileSync(file, 'utf8');
    const after = withOptionTable(before, method, file);
    if (after !== before) {
      writeFileSync(file, after);
      written.push(file);
    }
  }
  return written;
}
