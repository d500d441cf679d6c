/**
 * A tiny fake suite run to completion on the store named by the first argument, for the crash-safety test: it
 * prints one line per event (`start <id>`, `train <id> <used>`, `done <id> <status>`, `skip <id>`, `suite-done`)
 * so the test can kill it at chosen points; each training step is followed by a short pause (CRASH_RUN_STEP_MS,
 * default 15 ms) so kills land inside runs. Not for benchmarking.
 */
import * as tf from '@tensorflow/tfjs';
import { collectEnvironment } from '../environment.js';
import { createMethodRegistry } from '../methods.js';
import { planSuite } from '../plan.js';
import { runSuite } from '../run-suite.js';
import { RunStore } from '../store.js';
import { validateSuite } from '../suite.js';
import { fakeIterativeMagnitude } from './fake-methods.js';
import { fakeTask } from './fake-task.js';

export const CRASH_SUITE = {
  name: 'crash-safety',
  tasks: [{ id: 'fake-blobs', testSize: 30 }],
  methods: [{ name: 'fake-iterative', options: { rounds: 3 } }],
  targets: [{ compression: 2 }, { compression: 4 }],
  seeds: [3],
  budget: 96,
};

await tf.setBackend('cpu');
const registries = { tasks: new Map([['fake-blobs', fakeTask('fake-blobs')]]), methods: createMethodRegistry([fakeIterativeMagnitude]) };
const runs = planSuite(validateSuite(CRASH_SUITE, registries), registries).runs;
const say = (line: string) => process.stdout.write(`${line}\n`);
const stepPause = new Int32Array(new SharedArrayBuffer(4));
const stepMs = Number(process.env.CRASH_RUN_STEP_MS ?? 15);
await runSuite({
  runs,
  store: new RunStore(process.argv[2]),
  environment: collectEnvironment({ backend: 'cpu', device: 'test', versions: {} }),
  taskEnvironment: { cacheDir: '/nonexistent', log: () => {} },
  chunkExamples: 8,
  progress: {
    runStarted: (run) => say(`start ${run.id}`),
    runProgress: (run, used) => {
      say(`train ${run.id} ${used}`);
      Atomics.wait(stepPause, 0, 0, stepMs); // a synchronous pause: the process is killed mid-run, as by a real crash
    },
    runFinished: (run, record) => say(`done ${run.id} ${record.status}`),
    runSkipped: (run) => say(`skip ${run.id}`),
  },
});
say('suite-done');
