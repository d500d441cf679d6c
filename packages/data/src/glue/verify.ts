/**
 * Structural verification of a GLUE task folder: train.tsv and dev.tsv present (test.tsv checked when present;
 * local CoLA copies often lack it), every row well-formed with a valid label, and the official row counts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError } from '../errors.js';
import { readGlueTask } from './read.js';
import { GLUE_SPLITS, glueSplitFile, glueTaskInfo, type GlueSplit, type GlueTaskName } from './tasks.js';

export interface GlueFormatOptions {
  /**
   * Rows each split must hold. Default: the official counts (GLUE_TASKS[task].rows). `false` skips the count check
   * (small synthetic files in tests); columns and labels are checked regardless.
   */
  expectedRows?: Partial<Record<GlueSplit, number>> | false;
}

const REQUIRED_SPLITS: readonly GlueSplit[] = ['train', 'dev'];

/** Throws a DatasetError naming the file unless `dir` holds a well-formed copy of the task; returns rows per split found. */
export function verifyGlueTaskDir(taskName: GlueTaskName, dir: string, opts: GlueFormatOptions = {}): Partial<Record<GlueSplit, number>> {
  const task = glueTaskInfo(taskName);
  const counts: Partial<Record<GlueSplit, number>> = {};
  for (const split of GLUE_SPLITS) {
    const file = join(dir, glueSplitFile(split));
    if (!existsSync(file)) {
      if (REQUIRED_SPLITS.includes(split)) throw new DatasetError(`GLUE ${task.folder} folder ${dir} has no ${glueSplitFile(split)}`, file);
      continue;
    }
    const rows = readGlueTask(taskName, split, dir).length;
    const expected = opts.expectedRows === false ? undefined : (opts.expectedRows?.[split] ?? task.rows[split]);
    if (expected !== undefined && rows !== expected) {
      throw new DatasetError(`GLUE ${task.folder} ${split} file ${file} has ${rows} rows, expected ${expected}`, file);
    }
    counts[split] = rows;
  }
  return counts;
}
