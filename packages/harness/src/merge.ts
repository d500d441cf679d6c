import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '@prunebench/engine';
import { FINISHED_RUN_FILES, RECORD_FILE } from './run-files.js';
import { canonicalJson } from './canonical.js';
import type { MergeChoice, RunRecord } from './record.js';
import { RunStore } from './store.js';

/** How `merge` picks between different completed records of one run: by argument order, or the latest finish. */
export type MergePreference = MergeChoice['prefer'];
export const MERGE_PREFERENCES: readonly MergePreference[] = ['first', 'last', 'newest'];

export interface MergeOutcome {
  /** Runs copied into the target store. */
  copied: string[];
  /** Runs the target already had (kept as they are). */
  kept: string[];
  /** Ids completed with different metrics in two stores (the target counts as the first), settled by the preference. */
  conflicts: string[];
  /** Source runs with no record (interrupted), not copied. */
  incomplete: string[];
  /** Source records that fail validation (`<store>/<id>: why`), not copied. */
  invalid: string[];
}

/** Stores disagree on completed runs and no preference was given: nothing was written. */
export class MergeConflictError extends Error {
  constructor(readonly conflicts: Array<{ id: string; stores: string[] }>) {
    super(
      `${conflicts.length} run(s) completed with different metrics in several stores; nothing merged. ` +
        `Choose with --prefer first|last|newest:\n  ${conflicts.map((c) => `${c.id}: ${c.stores.join(', ')}`).join('\n  ')}`,
    );
    this.name = 'MergeConflictError';
  }
}

const RUN_FILES = FINISHED_RUN_FILES;

interface Candidate {
  store: RunStore;
  record: RunRecord;
}

/**
 * Combines run stores (for example one per shard) into `into`. A completed record wins over a failed one. When
 * stores (the target first, then the sources in order) hold completed records of one run with different metrics,
 * `prefer` decides and the kept record says so in its `merge` field; without it nothing is written and
 * MergeConflictError lists the conflicts. Checkpoints are not copied. record.json is copied last, so an
 * interrupted merge leaves no record without its description and log.
 */
export function mergeStores(sources: string[], into: string, options: { prefer?: MergePreference } = {}): MergeOutcome {
  const target = new RunStore(into);
  const outcome: MergeOutcome = { copied: [], kept: [], conflicts: [], incomplete: [], invalid: [] };
  const candidates = new Map<string, Candidate[]>();
  const inSources = new Set<string>();
  const add = (store: RunStore, id: string, record: RunRecord) => {
    const list = candidates.get(id) ?? [];
    list.push({ store, record });
    candidates.set(id, list);
  };
  for (const id of target.ids()) {
    try {
      const state = target.state(id);
      if (state === 'completed' || state === 'failed') add(target, id, target.readRecord(id));
    } catch {
      // an unusable target record is replaced by a source's
    }
  }
  for (const source of sources) {
    if (!existsSync(source)) throw new Error(`merge: store ${source} does not exist`);
    const store = new RunStore(source);
    for (const id of store.ids()) {
      let state: ReturnType<RunStore['state']>;
      try {
        state = store.state(id);
      } catch (error) {
        outcome.invalid.push(`${join(source, id)}: ${(error as Error).message}`);
        continue;
      }
      if (state !== 'completed' && state !== 'failed') {
        outcome.incomplete.push(join(source, id));
        continue;
      }
      inSources.add(id);
      add(store, id, store.readRecord(id));
    }
  }

  const decisions: Array<{ id: string; winner: Candidate; choice?: MergeChoice }> = [];
  const unresolved: Array<{ id: string; stores: string[] }> = [];
  for (const [id, list] of candidates) {
    if (!inSources.has(id)) continue;
    const completed = list.filter((c) => c.record.status === 'completed');
    const pool = completed.length > 0 ? completed : list;
    const distinct = new Set(completed.map((c) => canonicalJson(c.record.metrics)));
    if (distinct.size <= 1) {
      decisions.push({ id, winner: pool[0] });
      continue;
    }
    outcome.conflicts.push(id);
    if (!options.prefer) {
      unresolved.push({ id, stores: completed.map((c) => c.store.root) });
      continue;
    }
    const winner = pickCandidate(completed, options.prefer);
    decisions.push({
      id,
      winner,
      choice: {
        prefer: options.prefer,
        keptFrom: winner.store.root,
        candidates: completed.map((c) => ({ store: c.store.root, finishedAt: c.record.finishedAt })),
      },
    });
  }
  if (unresolved.length > 0) throw new MergeConflictError(unresolved);

  for (const { id, winner, choice } of decisions) {
    const record: RunRecord = choice ? { ...winner.record, merge: choice } : winner.record;
    if (winner.store === target) {
      if (choice) target.writeRecord(record);
      outcome.kept.push(id);
      continue;
    }
    for (const file of RUN_FILES) {
      const from = join(winner.store.runDir(id), file);
      const to = join(target.runDir(id), file);
      if (file === RECORD_FILE) writeJsonAtomic(to, record);
      else if (existsSync(from)) writeFileAtomic(to, readFileSync(from));
      else rmSync(to, { force: true }); // no stale file of a replaced record
    }
    outcome.copied.push(id);
  }
  outcome.copied.sort();
  outcome.kept.sort();
  return outcome;
}

function pickCandidate(completed: Candidate[], prefer: MergePreference): Candidate {
  if (prefer === 'first') return completed[0];
  if (prefer === 'last') return completed[completed.length - 1];
  return completed.reduce((best, c) => (c.record.finishedAt > best.record.finishedAt ? c : best));
}
