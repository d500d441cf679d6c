import { canonicalJson } from './canonical.js';
import { describeTarget, type PlannedRun } from './plan.js';
import type { RunRecord } from './record.js';
import { executeRun, type RunContext } from './run.js';
import type { RunStore } from './store.js';
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

/**
 * Executes runs in order: a completed run is skipped, an interrupted one resumes from its checkpoints,
 * a failed one is retried. A failure is recorded and the suite goes on. Each task is loaded once per
 * sizing and shared by its runs.
 */
export async function runSuite(options: RunSuiteOptions): Promise<SuiteOutcome> {
  const { store, runs, progress } = options;
  const log = options.log ?? (() => {});
  const outcome: SuiteOutcome = { completed: [], failed: [], skipped: [] };
  const loaded = new Map<string, Promise<LoadedTask>>();
  const loadTask = (run: PlannedRun) => {
    const key = `${run.task.id}:${canonicalJson(run.sizing)}`;
    let task = loaded.get(key);
    if (!task) {
      task = run.task.load(run.sizing, options.taskEnvironment);
      // A failed load is not cached, so the next run of the task gets a fresh attempt and the same clear error.
      task.catch(() => loaded.delete(key));
      loaded.set(key, task);
    }
    return task;
  };
  try {
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i];
      let state: ReturnType<RunStore['state']>;
      try {
        state = store.state(run.id);
      } catch (error) {
        log(`${(error as Error).message}; running ${run.id} again`);
        state = 'failed';
      }
      if (state === 'completed') {
        outcome.skipped.push(run.id);
        progress?.runSkipped?.(run, i, runs.length);
        continue;
      }
      const resumed = store.hasCheckpoints(run.id);
      progress?.runStarted?.(run, i, runs.length, resumed);
      const record = await executeRun(run, {
        store,
        loadTask,
        environment: options.environment,
        measureLatency: options.measureLatency,
        chunkExamples: options.chunkExamples,
        signal: options.signal,
        log: (message) => log(`[${run.id} ${run.description.method} ${describeTarget(run.description.target)}] ${message}`),
        onProgress: (used, total) => progress?.runProgress?.(run, used, total),
      });
      (record.status === 'completed' ? outcome.completed : outcome.failed).push(record);
      progress?.runFinished?.(run, record, i, runs.length);
    }
  } finally {
    for (const task of loaded.values()) {
      await task.then((t) => t.dispose(), () => {});
    }
  }
  return outcome;
}
