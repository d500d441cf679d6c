import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from '@prunebench/engine';
import { CHECKPOINT_DIR, DESCRIPTION_FILE, LOG_FILE, RECORD_FILE } from './run-files.js';
import { StoreNotWritableError } from './errors.js';
import type { RunDescription, RunRecord } from './record.js';
import { recordDefect } from './record-validation.js';
import { tryLockRun, type LockAttempt } from './run-lock.js';
import { readTensorFile, writeTensorFile, type TensorFileContents } from './tensor-file.js';
import type { TrainLogRow, TrainerCheckpoints } from './trainer.js';

export type RunState = 'completed' | 'failed' | 'interrupted' | 'absent';

/**
 * The result store: `<root>/<id>/` holds description.json, record.json (written last: its presence with
 * status `completed` means done), log.jsonl (per-chunk training log; per-layer density is in the record),
 * checkpoint/ (trainer checkpoints, removed when the run completes) and lock.json while a process works on the run.
 * Every file is written atomically (a temporary file renamed into place); temporaries a killed process left behind
 * are removed by the next process that takes the run's lock.
 */
export class RunStore {
  constructor(readonly root: string) {}

  runDir(id: string): string {
    if (!/^[0-9a-f]{12}$/.test(id)) throw new Error(`not an experiment id: "${id}"`);
    return join(this.root, id);
  }

  state(id: string): RunState {
    const dir = this.runDir(id);
    if (existsSync(join(dir, RECORD_FILE))) {
      const record = this.readRecord(id);
      return record.status === 'completed' ? 'completed' : 'failed';
    }
    return existsSync(dir) ? 'interrupted' : 'absent';
  }

  hasCheckpoints(id: string): boolean {
    const dir = join(this.runDir(id), CHECKPOINT_DIR);
    return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.ckpt'));
  }

  /** The run's record; a missing, corrupt or unusable one (see recordDefect) raises an Error naming the file. */
  readRecord(id: string): RunRecord {
    const path = join(this.runDir(id), RECORD_FILE);
    const record = readJsonFile(path);
    const defect = recordDefect(record, id);
    if (defect) throw new Error(`${path} is not a usable run record: ${defect}`);
    return record as RunRecord;
  }

  /** Takes the run's lock (see tryLockRun): one process at a time works on a run. */
  lockRun(id: string): LockAttempt {
    return tryLockRun(this.runDir(id));
  }

  /**
   * Removes the temporary files of writes that never finished (a killed process) from the run's folder and its
   * checkpoints; call it only while holding the run's lock. Returns the paths removed.
   */
  removeTemporaryFiles(id: string): string[] {
    const removed: string[] = [];
    for (const dir of [this.runDir(id), join(this.runDir(id), CHECKPOINT_DIR)]) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        if (!isTemporaryFileName(name)) continue;
        rmSync(join(dir, name), { force: true });
        removed.push(join(dir, name));
      }
    }
    return removed;
  }

  /** Fails with StoreNotWritableError (EACCES / EROFS named) when the store cannot be created or written. */
  checkWritable(): void {
    let probe = this.root;
    try {
      mkdirSync(this.root, { recursive: true });
      accessSync(this.root, constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      // recursive mkdir can report ENOENT for a folder it may not create: ask the nearest existing parent
      while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
      let cause = code;
      try {
        accessSync(probe, constants.W_OK);
      } catch (inner) {
        cause = (inner as NodeJS.ErrnoException).code ?? code;
      }
      if (cause === 'EACCES' || cause === 'EPERM' || cause === 'EROFS') {
        throw new StoreNotWritableError(this.root, cause, `${probe} cannot be written`);
      }
      throw error;
    }
  }

  writeDescription(id: string, description: RunDescription): void {
    writeJsonAtomic(join(this.runDir(id), DESCRIPTION_FILE), description);
  }

  writeRecord(record: RunRecord): void {
    writeJsonAtomic(join(this.runDir(record.id), RECORD_FILE), record);
  }

  writeLog(id: string, rows: readonly TrainLogRow[]): void {
    writeFileAtomic(join(this.runDir(id), LOG_FILE), rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  }

  readLog(id: string): TrainLogRow[] {
    const path = join(this.runDir(id), LOG_FILE);
    if (!existsSync(path)) return [];
    const text = readFileSyncUtf8(path);
    return text.split('\n').filter((l) => l.trim()).map((line, i) => {
      try {
        return JSON.parse(line) as TrainLogRow;
      } catch {
        throw new Error(`${path}:${i + 1} is not valid JSON`);
      }
    });
  }

  checkpoints(id: string, log?: (message: string) => void): TrainerCheckpoints {
    return directoryCheckpoints(join(this.runDir(id), CHECKPOINT_DIR), log);
  }

  /**
   * Ties the run's checkpoints to the starting weights they grew from (`checkpoint/starting-point.json`): checkpoints
   * made from other starting weights are removed (returns true), so the run starts afresh instead of failing to resume.
   */
  bindCheckpoints(id: string, startingSha256: string): boolean {
    const dir = join(this.runDir(id), CHECKPOINT_DIR);
    const marker = join(dir, 'starting-point.json');
    let stale = false;
    if (this.hasCheckpoints(id)) {
      let recorded: unknown = null;
      try {
        recorded = (readJsonFile(marker) as { sha256?: unknown }).sha256;
      } catch {
        // checkpoints from before the marker existed, or an unreadable marker: cannot tell, so keep them
        recorded = startingSha256;
      }
      if (recorded !== startingSha256) {
        this.clearCheckpoints(id);
        stale = true;
      }
    }
    writeJsonAtomic(marker, { sha256: startingSha256 });
    return stale;
  }

  clearCheckpoints(id: string): void {
    rmSync(join(this.runDir(id), CHECKPOINT_DIR), { recursive: true, force: true });
  }

  /** Ids of every run folder in the store. */
  ids(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[0-9a-f]{12}$/.test(e.name))
      .map((e) => e.name)
      .sort();
  }

  /** Every record in the store (completed and failed); a corrupt or unusable record raises an Error naming its file. */
  records(): RunRecord[] {
    return this.ids().filter((id) => existsSync(join(this.runDir(id), RECORD_FILE))).map((id) => this.readRecord(id));
  }
}

/**
 * Trainer checkpoints as files `call-NNNN.{done,partial}.ckpt` in `dir`. A file that fails its checksum (or cannot
 * be parsed) is set aside as `<name>.corrupt-<time>`, logged, and read as absent, so the trainer resumes from the
 * last good checkpoint (or from the start of that train call) instead of failing on every retry.
 */
export function directoryCheckpoints(dir: string, log: (message: string) => void = () => {}): TrainerCheckpoints {
  const file = (call: number, kind: 'done' | 'partial') => join(dir, `call-${String(call).padStart(4, '0')}.${kind}.ckpt`);
  const read = (path: string): TensorFileContents | null => {
    if (!existsSync(path)) return null;
    try {
      return readTensorFile(path);
    } catch (error) {
      const aside = `${path}.corrupt-${Date.now()}`;
      renameSync(path, aside);
      log(`${(error as Error).message}; set aside as ${aside}, resuming from the last good checkpoint`);
      return null;
    }
  };
  return {
    readFinished: (call) => read(file(call, 'done')),
    readPartial: (call) => read(file(call, 'partial')),
    writeFinished: (call, contents) => {
      writeTensorFile(file(call, 'done'), contents);
      rmSync(file(call, 'partial'), { force: true });
    },
    writePartial: (call, contents) => writeTensorFile(file(call, 'partial'), contents),
  };
}

/** Names of atomic-write temporaries: `.<name>.<pid>.<n>.tmp` (writeFileAtomic) and `<name>.tmp-<pid>-<time>` (left by earlier versions). */
export function isTemporaryFileName(name: string): boolean {
  return /^\..+\.\d+\.\d+\.tmp$/.test(name) || /\.tmp-\d+-\d+$/.test(name);
}

function readFileSyncUtf8(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
}
