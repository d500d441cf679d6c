import { initEngine, resolveBackendRequest } from '@prunebench/engine';
import { TASKS, type LoadedTask, type TaskDefinition, type TaskSizing } from '@prunebench/harness';
import { defaultCheckpointCache, defaultDataSource, defaultWeightsDir, sharedDefault } from '../paths.js';
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
