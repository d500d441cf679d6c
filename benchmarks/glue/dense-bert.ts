/**
 * Trains (or reads from the cache) the dense starting point of GLUE BERT tasks and prints their dev scores.
 *   PRUNEBENCH_DATA=… PRUNEBENCH_VOCAB=… npx tsx benchmarks/glue/dense-bert.ts glue-sst2-bert-tiny [more task ids]
 * Resumable: an interrupted training continues from its last chunk when run again.
 */
import { join } from 'node:path';
import { initEngine } from '@prunebench/engine';
import { TASKS } from '@prunebench/harness';
import { exitWithUsage, scriptArgs } from '../perf/script-helpers.js';

const known = [...TASKS.keys()].filter((id) => id.startsWith('glue-')).join(', ');
const usage = `usage: dense-bert.ts <task id> [...]; known: ${known}`;
const ids = scriptArgs('dense-bert', usage, { positionals: { min: 1, max: Infinity } }).positionals;
const unknown = ids.filter((id) => !TASKS.get(id)?.id.startsWith('glue-'));
if (unknown.length > 0) exitWithUsage('dense-bert', `unknown GLUE task ${unknown.join(', ')}`, usage);
await initEngine({ backend: 'wasm' });
for (const id of ids) {
  const definition = TASKS.get(id)!;
  const started = Date.now();
  const task = await definition.load(definition.defaultSizing, {
    cacheDir: process.env.PRUNEBENCH_CHECKPOINT_CACHE ?? join(process.cwd(), 'datasets', 'cache', 'checkpoints'),
    log: (message) => console.error(`  ${message}`),
  });
  const model = await task.startingModel();
  const dev = await task.evaluate(model, 'test');
  const val = await task.evaluate(model, 'val');
  console.log(JSON.stringify({ task: id, dev, val, seconds: Math.round((Date.now() - started) / 1000) }));
  model.dispose();
  task.dispose();
}
