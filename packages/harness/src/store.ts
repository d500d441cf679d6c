import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from './atomic-file.js';
import type { RunDescription, RunRecord } from './record.js';
import { readTensorFile, writeTensorFile, type TensorFileContents } from './tensor-file.js';
import type { TrainLogRow, TrainerCheckpoints } from './trainer.js';

export type RunState = 'completed' | 'failed' | 'interrupted' | 'absent';

/**
 * The result store: `<root>/<id>/` holds description.json, record.json (written last: its presence with
 * status `completed` means done), log.jsonl (per-chunk training log; per-layer density is in the record),
 * and checkpoint/ (trainer checkpoints, removed when the run completes). Every file is written atomically.
 */
export class RunStore {
  constructor(readonly root: string) {}

  runDir(id: string): string {
    if (!/^[0-9a-f]{12}$/.test(id)) throw new Error(`not an experiment id: "${id}"`);
    return join(this.root, id);
  }

  state(id: string): RunState {
    const dir = this.runDir(id);
    if (existsSync(join(dir, 'record.json'))) {
      const record = this.readRecord(id);
      return record.status === 'completed' ? 'completed' : 'failed';
    }
    return existsSync(dir) ? 'interrupted' : 'absent';
  }

  hasCheckpoints(id: string): boolean {
    const dir = join(this.runDir(id), 'checkpoint');
    return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.ckpt'));
  }

  readRecord(id: string): RunRecord {
    const path = join(this.runDir(id), 'record.json');
    const record = readJsonFile(path) as RunRecord;
    if (typeof record !== 'object' || record === null || record.id !== id || (record.status !== 'completed' && record.status !== 'failed')) {
      throw new Error(`${path} is not a run record for ${id} (missing id or status)`);
    }
    return record;
  }

  writeDescription(id: string, description: RunDescription): void {
    writeJsonAtomic(join(this.runDir(id), 'description.json'), description);
  }

  writeRecord(record: RunRecord): void {
    writeJsonAtomic(join(this.runDir(record.id), 'record.json'), record);
  }

  writeLog(id: string, rows: readonly TrainLogRow[]): void {
    writeFileAtomic(join(this.runDir(id), 'log.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  }

  readLog(id: string): TrainLogRow[] {
    const path = join(this.runDir(id), 'log.jsonl');
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

  checkpoints(id: string): TrainerCheckpoints {
    return directoryCheckpoints(join(this.runDir(id), 'checkpoint'));
  }

  clearCheckpoints(id: string): void {
    rmSync(join(this.runDir(id), 'checkpoint'), { recursive: true, force: true });
  }

  /** Ids of every run folder in the store. */
  ids(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[0-9a-f]{12}$/.test(e.name))
      .map((e) => e.name)
      .sort();
  }

  /** Every record in the store (completed and failed); a corrupt record raises an Error naming its file. */
  records(): RunRecord[] {
    return this.ids().filter((id) => existsSync(join(this.runDir(id), 'record.json'))).map((id) => this.readRecord(id));
  }
}

/** Trainer checkpoints as files `call-NNNN.{done,partial}.ckpt` in `dir`. */
export function directoryCheckpoints(dir: string): TrainerCheckpoints {
  const file = (call: number, kind: 'done' | 'partial') => join(dir, `call-${String(call).padStart(4, '0')}.${kind}.ckpt`);
  const read = (path: string): TensorFileContents | null => (existsSync(path) ? readTensorFile(path) : null);
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

function readFileSyncUtf8(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
}
