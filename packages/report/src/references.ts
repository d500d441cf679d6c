import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreProblem } from './run-store.js';

/** One published result, as printed in its paper (accuracies in %, reductions in % of the dense model). */
export interface ReferenceRow {
  /** Our task it compares with, e.g. `cifar10-resnet56`; also matches `cifar10-resnet56-<variant>`. */
  task: string;
  method: string;
  top1: number;
  baselineTop1: number;
  flopsReductionPct: number;
  paramsReductionPct?: number;
  source: { paper: string; venue: string; year: number; url?: string; arxiv?: string; doi?: string; note?: string };
  /** How their setup differs from ours, in a sentence. */
  setup: string;
}

export interface ReferenceFile {
  description?: string;
  rows: ReferenceRow[];
}

/** Reads every `*.json` in `referencesDir`; an unreadable file or a malformed row is a problem, not a crash. */
export function readReferences(referencesDir: string): { references: ReferenceRow[]; problems: StoreProblem[] } {
  const references: ReferenceRow[] = [];
  const problems: StoreProblem[] = [];
  if (!existsSync(referencesDir)) {
    problems.push({ file: referencesDir, message: 'references folder not found' });
    return { references, problems };
  }
  for (const name of readdirSync(referencesDir).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(referencesDir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      problems.push({ file, message: `corrupt JSON: ${(error as Error).message}` });
      continue;
    }
    const rows = (parsed as ReferenceFile | null)?.rows;
    if (!Array.isArray(rows)) {
      problems.push({ file, message: 'expected an object with a "rows" array' });
      continue;
    }
    rows.forEach((row, index) => {
      const defect = describeReferenceDefect(row);
      if (defect) problems.push({ file, message: `rows[${index}]: ${defect}` });
      else references.push(row as ReferenceRow);
    });
  }
  return { references, problems };
}

function describeReferenceDefect(row: any): string | null {
  if (typeof row !== 'object' || row === null) return 'not an object';
  for (const key of ['task', 'method', 'setup']) if (typeof row[key] !== 'string') return `missing string "${key}"`;
  for (const key of ['top1', 'baselineTop1', 'flopsReductionPct']) if (typeof row[key] !== 'number') return `missing number "${key}"`;
  if (row.paramsReductionPct !== undefined && typeof row.paramsReductionPct !== 'number') return '"paramsReductionPct" must be a number';
  if (typeof row.source?.paper !== 'string') return 'missing "source.paper"';
  return null;
}

/** References that compare with `task`: same task name, or `task` is a variant `<reference task>-…`. */
export function referencesForTask(references: ReferenceRow[], task: string): ReferenceRow[] {
  return references.filter((r) => task === r.task || task.startsWith(`${r.task}-`));
}

/** A FLOP reduction of p % as a theoretical speedup: 1 / (1 − p/100). */
export function speedupFromReduction(reductionPct: number): number {
  return 1 / (1 - reductionPct / 100);
}

/** Where to cite a reference: URL, else arXiv, else DOI. */
export function referenceLink(row: ReferenceRow): string | null {
  if (row.source.url) return row.source.url;
  if (row.source.arxiv) return `https://arxiv.org/abs/${row.source.arxiv}`;
  if (row.source.doi) return `https://doi.org/${row.source.doi}`;
  return null;
}
