import { initEngine, parseBackendRequest } from '@prunebench/engine';
import { TASKS, type LoadedTask, type TaskDefinition, type TaskSizing } from '@prunebench/harness';
import { defaultCheckpointCache, defaultDataSource, defaultWeightsDir } from '../paths.js';
import { UsageError, type CliIO } from '../usage.js';

export const TASK_FLAGS = {
  task: { type: 'string' }, backend: { type: 'string' }, data: { type: 'string' }, weights: { type: 'string' }, cache: { type: 'string' },
} as const;

/** Starts the engine and loads a registered task with its default sizing (or `sizing` over it), for single-task commands. */
export async function loadTaskFromFlags(
  command: string, values: Record<string, unknown>, io: CliIO, sizing: Partial<TaskSizing> = {},
): Promise<{ definition: TaskDefinition; task: LoadedTask }> {
  const id = values.task;
  if (typeof id !== 'string') throw new UsageError(`${command}: --task is required; known: ${[...TASKS.keys()].join(', ')}`);
  const definition = TASKS.get(id);
  if (!definition) throw new UsageError(`${command}: unknown task "${id}"; known: ${[...TASKS.keys()].join(', ')}`);
  await initEngine({ backend: parseBackendRequest(String(values.backend ?? 'auto'), '--backend') });
  const task = await definition.load({ ...definition.defaultSizing, ...sizing }, {
    dataDir: (values.data as string | undefined) ?? defaultDataSource(),
    weightsDir: (values.weights as string | undefined) ?? defaultWeightsDir(),
    cacheDir: (values.cache as string | undefined) ?? defaultCheckpointCache(),
    log: (message) => io.err(`  ${message}\n`),
  });
  return { definition, task };
}
