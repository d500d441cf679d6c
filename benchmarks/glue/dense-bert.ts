/**
 * Trains (or reads from the cache) the dense starting point of GLUE BERT tasks and prints their dev scores.
 *   PRUNEBENCH_DATA=… PRUNEBENCH_VOCAB=… npx tsx benchmarks/glue/dense-bert.ts glue-sst2-bert-tiny [more task ids]
 * Resumable: an interrupted training continues from its last chunk when run again.
 */
import { join } from 'node:path';
import { initEngine } from '@prunebench/engine';
import { TASKS } from '@prunebench/harness';

const ids = process.argv.slice(2);
const unknown = ids.filter((id) => !TASKS.get(id)?.id.startsWith('glue-'));
if (ids.length === 0 || unknown.length > 0) {
  const known = [...TASKS.keys()].filter((id) => id.startsWith('glue-')).join(', ');
  console.error(`${ids.length === 0 ? 'usage: dense-bert.ts <task id> [...]' : `dense-bert: unknown GLUE task ${unknown.join(', ')}`}; known: ${known}`);
  process.exit(2);
}
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
