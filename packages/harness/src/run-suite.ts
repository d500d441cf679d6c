import { join } from 'node:path';
import { canonicalJson } from './canonical.js';
import { RunInterruptedError } from './errors.js';
import { describeTarget } from './labels.js';
import type { PlannedRun } from './plan.js';
import type { RunRecord } from './record.js';
import { LOCK_FILE } from './run-files.js';
import { describeLockOwner, readLock } from './run-lock.js';
import { executeRun, type RunContext } from './run.js';
import type { RunStore } from './store.js';
import { inspectWeights } from './weights-fingerprint.js';
import type { LoadedTask, TaskEnvironment } from './tasks/types.js';

/** Hooks for progress display (the CLI draws bars with them). */
export interface SuiteProgress {
  runStarted?(run: PlannedRun, index: number, count: number, resumed: boolean): void;
  runProgress?(run: PlannedRun, usedExamples: number, totalExamples: number): void;
  runSkipped?(run: PlannedRun, index: number, count: number): void;
  runFinished?(run: PlannedRun, record: RunRecord, index: number, count: number): void;
}

export interface RunSuiteOptions extends Pick<RunContext, 'environment' | 'measureLatency' | 'chunkExamples' | 'signal'> {
  runs: PlannedRun[];
  store: RunStore;
  taskEnvironment: TaskEnvironment;
  progress?: SuiteProgress;
  log?: (message: string) => void;
}

export interface SuiteOutcome {
  /** Runs executed now and completed. */
  completed: RunRecord[];
  /** Runs executed now and failed (the suite went on). */
  failed: RunRecord[];
  /** Ids already completed in the store (not redone). */
  skipped: string[];
}

/** How often a run another process holds is looked at again. */
export const LOCK_POLL_MS = 1000;

/**
 * Executes runs in order: a completed run is skipped (unless its record is unusable or its starting weights changed),
 * an interrupted one resumes from its checkpoints, a failed one is retried. A failure is recorded and the suite goes
 * on. Each run is worked on under its lock: runs another process holds are left for later and then waited for, so
 * several processes on one store share the work. Each task is loaded once per sizing and shared by its runs.
 * An interruption (the signal) ends the suite with RunInterruptedError, also when it came during a run's last steps.
 */
export async function runSuite(options: RunSuiteOptions): Promise<SuiteOutcome> {
  const { store, runs, progress } = options;
  const log = options.log ?? (() => {});
  const outcome: SuiteOutcome = { completed: [], failed: [], skipped: [] };
  if (runs.length > 0) store.checkWritable();
  const taskKey = (run: PlannedRun) => `${run.task.id}:${canonicalJson(run.sizing)}`;
  const loaded = new Map<string, Promise<LoadedTask>>();
  const loadTask = (run: PlannedRun) => {
    const key = taskKey(run);
    let task = loaded.get(key);
    if (!task) {
      task = run.task.load(run.sizing, { ...options.taskEnvironment, ...(options.signal ? { signal: options.signal } : {}) });
      // A failed load is not cached, so the next run of the task gets a fresh attempt and the same clear error.
      task.catch(() => loaded.delete(key));
      loaded.set(key, task);
    }
    return task;
  };
  const fingerprints = new Map<string, Promise<string>>();
  const startingFingerprint = (run: PlannedRun) => {
    const key = taskKey(run);
    let fingerprint = fingerprints.get(key);
    if (!fingerprint) {
      fingerprint = loadTask(run).then(async (task) => {
        const model = await task.startingModel();
        try {
          return (await inspectWeights(model)).sha256;
        } finally {
          model.dispose();
        }
      });
      fingerprint.catch(() => fingerprints.delete(key));
      fingerprints.set(key, fingerprint);
    }
    return fingerprint;
  };
  const runLog = (run: PlannedRun) => (message: string) => log(`[${run.id} ${run.description.method} ${describeTarget(run.description.target)}] ${message}`);

  /** True when the stored record can stand: usable, completed, from the same starting weights. */
  const alreadyDone = async (run: PlannedRun): Promise<boolean> => {
    let record: RunRecord;
    try {
      if (store.state(run.id) !== 'completed') return false;
      record = store.readRecord(run.id);
    } catch (error) {
      runLog(run)(`${(error as Error).message}; running it again`);
      return false;
    }
    const recorded = record.startingPoint?.sha256;
    if (!recorded) return true; // recorded before starting points were hashed
    let current: string;
    try {
      current = await startingFingerprint(run);
    } catch (error) {
      runLog(run)(`cannot check its starting weights (${(error as Error).message}); keeping the completed record`);
      return true;
    }
    if (current === recorded) return true;
    runLog(run)(`the starting weights changed since it was recorded (sha256 ${recorded.slice(0, 12)}, now ${current.slice(0, 12)}); running it again`);
    return false;
  };

  /** Works on one run under its lock; false when another process holds it. `after`: a failure recorded since then is not retried. */
  const attempt = async (run: PlannedRun, index: number, after?: string): Promise<boolean> => {
    const attempted = store.lockRun(run.id);
    if (!attempted.held) return false;
    try {
      if (attempted.tookOverFrom) runLog(run)(`took over the lock of ${describeLockOwner(attempted.tookOverFrom)}, which stopped`);
      for (const file of store.removeTemporaryFiles(run.id)) runLog(run)(`removed ${file}, left by a write that never finished`);
      if (await alreadyDone(run)) {
        store.clearCheckpoints(run.id); // left when a process died between writing the record and removing them
        outcome.skipped.push(run.id);
        progress?.runSkipped?.(run, index, runs.length);
        return true;
      }
      if (after !== undefined && store.state(run.id) === 'failed') {
        const record = store.readRecord(run.id);
        if (record.finishedAt >= after) {
          runLog(run)(`failed in the process that held it: ${record.error}`);
          outcome.failed.push(record);
          return true;
        }
      }
      const resumed = store.hasCheckpoints(run.id);
      progress?.runStarted?.(run, index, runs.length, resumed);
      const record = await executeRun(run, {
        store,
        loadTask,
        environment: options.environment,
        measureLatency: options.measureLatency,
        chunkExamples: options.chunkExamples,
        signal: options.signal,
        log: runLog(run),
        onProgress: (used, total) => progress?.runProgress?.(run, used, total),
      });
      (record.status === 'completed' ? outcome.completed : outcome.failed).push(record);
      progress?.runFinished?.(run, record, index, runs.length);
      return true;
    } finally {
      attempted.lock.release();
    }
  };

  const stopIfInterrupted = () => {
    if (options.signal?.aborted) throw new RunInterruptedError();
  };
  try {
    let waiting: Array<{ run: PlannedRun; index: number; since: string }> = [];
    for (let i = 0; i < runs.length; i++) {
      stopIfInterrupted();
      const since = new Date().toISOString();
      if (!(await attempt(runs[i], i))) {
        const owner = readLock(join(store.runDir(runs[i].id), LOCK_FILE));
        runLog(runs[i])(`${describeLockOwner(owner)} is working on it; coming back to it after the other runs`);
        waiting.push({ run: runs[i], index: i, since });
      }
    }
    while (waiting.length > 0) {
      stopIfInterrupted();
      const still: typeof waiting = [];
      for (const entry of waiting) {
        stopIfInterrupted();
        if (!(await attempt(entry.run, entry.index, entry.since))) still.push(entry);
      }
      waiting = still;
      if (waiting.length > 0) await pause(LOCK_POLL_MS, options.signal);
    }
    stopIfInterrupted();
  } finally {
    for (const task of loaded.values()) {
      await task.then((t) => t.dispose(), () => {});
    }
  }
  return outcome;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
