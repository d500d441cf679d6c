import { initEngine, resolveBackendRequest } from '@prunebench/engine';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FINAL_MODEL_FILE, RunStore, TASKS, type LoadedTask, type RunRecord, type TaskDefinition, type TaskSizing } from '@prunebench/harness';
import { defaultCheckpointCache, defaultDataSource, defaultStoreDir, defaultWeightsDir, sharedDefault } from '../paths.js';
import { UsageError, type CliIO } from '../usage.js';

export const TASK_FLAGS = {
  task: { type: 'string' }, backend: { type: 'string' }, data: { type: 'string' }, weights: { type: 'string' }, cache: { type: 'string' },
  vocab: { type: 'string' }, glue: { type: 'string' },
} as const;

/** The BERT vocabulary folder when PRUNEBENCH_VOCAB is unset: `../shared/vocab` beside the checkout, if present. */
export function defaultVocabDir(): string | undefined {
  return process.env.PRUNEBENCH_VOCAB ? undefined : sharedDefault('vocab');
}

/** GLUE data when neither PRUNEBENCH_GLUE nor PRUNEBENCH_DATA is set: `../shared/datasets/glue`, if present. */
export function defaultGlueDir(): string | undefined {
  return process.env.PRUNEBENCH_GLUE || process.env.PRUNEBENCH_DATA ? undefined : sharedDefault('datasets/glue');
}

/** Starts the engine and loads a registered task with its default sizing (or `sizing` over it), for single-task commands. */
export async function loadTaskFromFlags(
  command: string, values: Record<string, unknown>, io: CliIO, sizing: Partial<TaskSizing> = {},
): Promise<{ definition: TaskDefinition; task: LoadedTask }> {
  const id = values.task;
  if (typeof id !== 'string') throw new UsageError(`${command}: --task is required; known: ${[...TASKS.keys()].join(', ')}`);
  const definition = TASKS.get(id);
  if (!definition) throw new UsageError(`${command}: unknown task "${id}"; known: ${[...TASKS.keys()].join(', ')}`);
  await initEngine({ backend: resolveBackendRequest({ flag: values.backend as string | undefined }).request });
  const task = await definition.load({ ...definition.defaultSizing, ...sizing }, {
    dataDir: (values.data as string | undefined) ?? defaultDataSource(),
    weightsDir: (values.weights as string | undefined) ?? defaultWeightsDir(),
    vocabDir: (values.vocab as string | undefined) ?? defaultVocabDir(),
    glueDir: (values.glue as string | undefined) ?? defaultGlueDir(),
    cacheDir: (values.cache as string | undefined) ?? defaultCheckpointCache(),
    log: (message) => io.err(`  ${message}\n`),
  });
  return { definition, task };
}

/**
 * The completed run `--run` names in `--store` (default reports/runs) and its final weights, for commands that
 * read a run's model; `task`, when given, must be the run's. Usage errors name the command.
 */
export function completedRunWeights(
  command: string, runId: string, storeDir: string | undefined, task: string | undefined,
): { record: RunRecord; weightsFile: string } {
  const store = new RunStore(storeDir ?? defaultStoreDir());
  let state: string;
  try {
    state = store.state(runId);
  } catch (error) {
    throw new UsageError(`${command}: --run: ${(error as Error).message}`);
  }
  if (state !== 'completed') throw new UsageError(`${command}: run ${runId} is ${state} in ${store.root}, not completed`);
  const record = store.readRecord(runId);
  if (task !== undefined && task !== record.description.task) {
    throw new UsageError(`${command}: run ${runId} belongs to task ${record.description.task}, not ${task}`);
  }
  const weightsFile = join(store.runDir(runId), FINAL_MODEL_FILE);
  if (!existsSync(weightsFile)) throw new Error(`${command}: ${weightsFile} is missing (the run was recorded before final weights were stored)`);
  return { record, weightsFile };
}
