import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { RunStore } from './store.js';

export interface MergeOutcome {
  /** Runs copied into the target store. */
  copied: string[];
  /** Runs the target already had completed (kept as they are). */
  kept: string[];
  /** Ids completed in two sources with different metrics (the first source's record is kept). */
  conflicts: string[];
  /** Source runs with no record (interrupted), not copied. */
  incomplete: string[];
}

const RUN_FILES = ['description.json', 'log.jsonl', 'model.safetensors', 'record.json'];

/**
 * Combines run stores (for example one per shard) into `into`. A completed record wins over a failed one;
 * a record already completed in the target is never replaced. Checkpoints are not copied. record.json is
 * copied last, so an interrupted merge leaves no record without its description and log.
 */
export function mergeStores(sources: string[], into: string): MergeOutcome {
  const target = new RunStore(into);
  const outcome: MergeOutcome = { copied: [], kept: [], conflicts: [], incomplete: [] };
  for (const source of sources) {
    if (!existsSync(source)) throw new Error(`merge: store ${source} does not exist`);
    const store = new RunStore(source);
    for (const id of store.ids()) {
      const state = store.state(id);
      if (state !== 'completed' && state !== 'failed') {
        outcome.incomplete.push(`${source}/${id}`);
        continue;
      }
      const incoming = store.readRecord(id);
      const existing = target.state(id);
      if (existing === 'completed') {
        const current = target.readRecord(id);
        if (incoming.status === 'completed' && JSON.stringify(current.metrics) !== JSON.stringify(incoming.metrics)) outcome.conflicts.push(id);
        else outcome.kept.push(id);
        continue;
      }
      if (existing === 'failed' && incoming.status === 'failed') {
        outcome.kept.push(id);
        continue;
      }
      for (const file of RUN_FILES) {
        const from = join(store.runDir(id), file);
        if (existsSync(from)) writeFileAtomic(join(target.runDir(id), file), readFileSync(from));
      }
      outcome.copied.push(id);
    }
  }
  return outcome;
}
