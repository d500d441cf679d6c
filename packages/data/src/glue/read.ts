/**
 * Readers for GLUE task files. The files are tab-separated with no quoting at all (sentences hold unbalanced
 * double quotes), so papaparse runs with a quote character that never occurs (NUL). Every row is checked:
 * header, column count, label; errors name the file and the 1-based line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Papa from 'papaparse';
import { DatasetError } from '../errors.js';
import { GLUE_SPLITS, glueSplitFile, glueTaskInfo, type GlueSplit, type GlueTaskInfo, type GlueTaskName } from './tasks.js';

export interface GlueExample {
  textA: string;
  /** The second sentence of pair tasks (MRPC, RTE); absent for single-sentence tasks. */
  textB?: string;
  /** Label id (0..numLabels-1); null in the unlabelled test splits. */
  label: number | null;
}

/** Parses one GLUE TSV file's text. `file` is used in error messages only. */
export function parseGlueTsv(taskName: GlueTaskName, split: GlueSplit, text: string, file: string): GlueExample[] {
  const task = glueTaskInfo(taskName);
  if (!GLUE_SPLITS.includes(split)) throw new RangeError(`unknown GLUE split "${split}" (known: ${GLUE_SPLITS.join(', ')})`);
  const layout = task.layouts[split];
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (body.includes('\u0000')) throw new DatasetError(`${file}: contains NUL bytes; not a GLUE TSV file`, file);

  const parsed = Papa.parse<string[]>(body, { delimiter: '\t', newline: '\n', quoteChar: '\u0000', escapeChar: '\u0000', header: false, skipEmptyLines: false });
  if (parsed.errors.length > 0) {
    const e = parsed.errors[0];
    throw new DatasetError(`${file}:${(e.row ?? 0) + 1}: ${e.message}`, file);
  }
  const rows = parsed.data;
  // A final newline leaves one empty row behind.
  if (rows.length > 0 && rows[rows.length - 1].length === 1 && rows[rows.length - 1][0] === '') rows.pop();

  let first = 0;
  if (layout.header) {
    if (rows.length === 0) throw new DatasetError(`${file}: empty file (expected the header "${layout.header.join('\\t')}")`, file);
    const header = rows[0].map(stripCr);
    if (header.length !== layout.header.length || header.some((h, i) => h !== layout.header![i])) {
      throw new DatasetError(
        `${file}:1: unexpected header "${header.join('\\t')}" for ${task.folder} ${split} (expected "${layout.header.join('\\t')}")`,
        file,
      );
    }
    first = 1;
  }

  const out: GlueExample[] = [];
  for (let r = first; r < rows.length; r++) {
    const line = r + 1;
    const row = rows[r];
    if (row.length > 0) row[row.length - 1] = stripCr(row[row.length - 1]);
    if (row.length !== layout.columns) {
      throw new DatasetError(
        `${file}:${line}: expected ${layout.columns} tab-separated columns for ${task.folder} ${split}, found ${row.length}` +
          (row.length === 1 && row[0] === '' ? ' (empty line)' : ''),
        file,
      );
    }
    const label = layout.label === undefined ? null : parseLabel(task, row[layout.label], file, line);
    out.push(layout.textB === undefined ? { textA: row[layout.textA], label } : { textA: row[layout.textA], textB: row[layout.textB], label });
  }
  return out;
}

function stripCr(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}

function parseLabel(task: GlueTaskInfo, raw: string, file: string, line: number): number {
  if (task.labelsAreNames) {
    const id = task.labelNames.indexOf(raw);
    if (id >= 0) return id;
    throw new DatasetError(`${file}:${line}: bad label "${raw}" for ${task.folder} (expected one of ${task.labelNames.join(', ')})`, file);
  }
  if (/^[0-9]+$/.test(raw)) {
    const id = Number(raw);
    if (id < task.numLabels) return id;
  }
  throw new DatasetError(`${file}:${line}: bad label "${raw}" for ${task.folder} (expected an integer 0..${task.numLabels - 1})`, file);
}

/**
 * The folder that holds the task's TSVs: `dir` itself, or `dir/<Folder>` when `dir` is a GLUE root
 * (e.g. `glue/` holding `SST-2/`).
 */
export function glueTaskFolder(taskName: GlueTaskName, dir: string): string {
  const task = glueTaskInfo(taskName);
  const nested = join(dir, task.folder);
  const holdsTsv = GLUE_SPLITS.some((s) => existsSync(join(dir, glueSplitFile(s))));
  return !holdsTsv && existsSync(nested) ? nested : dir;
}

/**
 * Reads one split of a GLUE task from a folder in the GLUE layout (`train.tsv`, `dev.tsv`, `test.tsv`).
 * `dir` is the task's folder (`.../glue/SST-2`) or the GLUE root holding it. Test examples have `label: null`.
 */
export function readGlueTask(taskName: GlueTaskName, split: GlueSplit, dir: string): GlueExample[] {
  const file = join(glueTaskFolder(taskName, dir), glueSplitFile(split));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new DatasetError(`cannot read GLUE ${glueTaskInfo(taskName).folder} ${split} split ${file}: ${why}`, file);
  }
  return parseGlueTsv(taskName, split, text, file);
}
