import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_FILE, recordDefect, type RunRecord } from '@prunebench/harness';

/** A record that could not be used, with the file it came from. */
export interface StoreProblem {
  file: string;
  message: string;
}

export interface RunStoreContents {
  /** Readable records (completed and failed), sorted by task, method and id. */
  records: RunRecord[];
  problems: StoreProblem[];
}


/**
 * Reads every `<storeDir>/<id>/record.json`. A missing store is an Error naming the folder; a corrupt or
 * malformed record (non-finite metrics, another run's id), or a run folder without a record, is listed in `problems`
 * and skipped.
 */
export function readRunStore(storeDir: string): RunStoreContents {
  if (!existsSync(storeDir)) throw new Error(`run store not found: ${storeDir} (no such folder)`);
  if (!statSync(storeDir).isDirectory()) throw new Error(`run store is not a folder: ${storeDir}`);
  const records: RunRecord[] = [];
  const problems: StoreProblem[] = [];
  const runFolders = readdirSync(storeDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
  for (const folder of runFolders) {
    const file = join(storeDir, folder, RECORD_FILE);
    if (!existsSync(file)) {
      problems.push({ file, message: `no ${RECORD_FILE} (run interrupted or still running)` });
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      problems.push({ file, message: `corrupt JSON: ${(error as Error).message}` });
      continue;
    }
    const defect = recordDefect(parsed, folder);
    if (defect) {
      problems.push({ file, message: `not a run record: ${defect}` });
      continue;
    }
    records.push(parsed as RunRecord);
  }
  records.sort(
    (a, b) =>
      a.description.task.localeCompare(b.description.task) ||
      a.description.method.localeCompare(b.description.method) ||
      a.id.localeCompare(b.id),
  );
  return { records, problems };
}
