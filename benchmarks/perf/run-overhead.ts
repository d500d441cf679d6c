/**
 * Issue 16, "the run, not only the step": a suite's training wall time per example beside the step benchmark's,
 * measured in one command on one backend. The target: the run within 15 % of the step.
 *
 *   step   `trainStep` on ResNet-20 at batch 128 (the cifar10-resnet20 recipe: SGD momentum 0.9, weight decay 5e-4,
 *          50 % random masks on every conv and linear weight, as a pruned run's fine-tuning has), one untimed step,
 *          then --steps timed ones; seconds per example. Measured before, between and after the runs, to bracket the load.
 *   run    `prunebench run` of a one-method suite (magnitude 2×, one-shot, fine-tuned on --budgets × 128 examples of
 *          the real CIFAR-10 training split with augmentation, checkpoints every chunk) in a child process; from its
 *          record: `training.seconds / budget.usedExamples` (the trainer's loop: data loading and augmentation, the
 *          step, loss reads, logging, checkpoints) and, apart, the whole run's wall time (which adds loading, the
 *          dense and final evaluations and the ONNX export: costs that do not grow with the budget). The record's
 *          `training.batchSeconds` (where the trainer has it) is the main thread's time spent getting batches.
 *   batches  the main thread's wait per training batch of the real CIFAR-10 task (batch 128, augmentation), taking
 *          them as the trainer does with the main thread idle --idle-ms between takes (a GPU step, during which the
 *          host only waits): from `trainBatches` on the main thread (as before issue 16's prefetch) and from the
 *          task's ahead-prepared stream (a worker thread fills them) once its worker has started, and the worker's
 *          start time; the median of 5 alternating rounds of 20.
 *   fit    with two or more --budgets, wall = fixed + slope × examples by least squares over the runs: the fixed
 *          seconds, the seconds per example, and the whole run's ratio to the step projected at one epoch (45,000).
 *
 *   PRUNEBENCH_DATA=… PRUNEBENCH_WEIGHTS=… npx tsx benchmarks/perf/run-overhead.ts [--backend wasm] [--steps 20]
 *       [--budgets 20,60] [--idle-ms 10] [--batches-only] [--label x] [--out file.json]
 * --batches-only: the batches part alone (a backend where a batch-128 step takes minutes: the software adapter).
 * --steps: timed steps of the step benchmark; --budgets: each suite run's budget in steps of 128 (default --steps).
 * Writes JSON (machine, load, backend, adapter, versions, every timing) to --out, default
 * benchmarks/perf/results/run-overhead-<backend>-<date>[-<label>].json, and prints a Markdown table.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine, parseBackendRequest, SeededRng, type BackendRequest } from '@prunebench/engine';
import { RECORD_FILE, TASKS, openTrainStream, type BatchStream } from '@prunebench/harness';
import { createResNetCifar, resnetCifarArch } from '@prunebench/models';
import { createMaskedOptimizer, trainStep } from '@prunebench/pruning';
import { exitWithUsage, scriptArgs } from './script-helpers.js';

const USAGE = 'usage: npx tsx benchmarks/perf/run-overhead.ts [--backend wasm|webgpu|cpu] [--steps 20] [--budgets 20,60] [--idle-ms 10] [--batches-only] [--label x] [--out file.json]';
const args = scriptArgs('run-overhead', USAGE, { strings: ['backend', 'steps', 'budgets', 'idle-ms', 'label', 'out'], flags: ['batches-only'] });
let backend: BackendRequest;
try {
  backend = parseBackendRequest(args.string('backend') ?? 'wasm', '--backend');
} catch (error) {
  exitWithUsage('run-overhead', (error as Error).message, USAGE);
}
const steps = args.int('steps', 20);
const budgets = (args.string('budgets') ?? `${steps}`).split(',').map((raw) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) exitWithUsage('run-overhead', `--budgets must be positive integers (steps of 128) separated by commas, got '${raw}'`, USAGE);
  return value;
});
const idleMs = args.int('idle-ms', 10);
/** One epoch of CIFAR-10's training split less the 5,000 validation images: where the fit projects the whole run. */
const EPOCH = 45_000;
const BATCH = 128;
const repo = join(dirname(new URL(import.meta.url).pathname), '..', '..');

const engine = await initEngine({ backend });

/** Seconds per example of `steps` trainStep calls after one untimed one, on fresh random batches like the loader's. */
async function stepSecondsPerExample(): Promise<number> {
  const model = createResNetCifar(resnetCifarArch(20), { seed: 0 });
  const rng = new SeededRng(1);
  const masks = new Map<string, tf.Tensor>();
  for (const [name, v] of model.params) {
    const kind = model.paramKinds.get(name);
    if (kind === 'conv2d' || kind === 'linear') masks.set(name, tf.tensor(Float32Array.from({ length: v.size }, () => (rng.next() < 0.5 ? 0 : 1)), v.shape));
  }
  const optimizer = createMaskedOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
  const step = async () => {
    const batch = { inputs: tf.tensor4d(rng.normalArray(BATCH * 32 * 32 * 3), [BATCH, 32, 32, 3]), labels: tf.tensor1d(Array.from({ length: BATCH }, () => rng.int(10)), 'int32'), size: BATCH };
    try {
      await trainStep(model, batch, optimizer, { learningRate: 0.01, masks });
    } finally {
      tf.dispose([batch.inputs, batch.labels]);
    }
  };
  await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const seconds = (performance.now() - t0) / 1000;
  optimizer.dispose();
  tf.dispose([...masks.values()]);
  model.dispose();
  return seconds / (steps * BATCH);
}

/** Median ms the main thread waits per batch, synchronous and ahead-prepared, over alternating rounds. */
async function batchWaits(): Promise<{ synchronousMs: number; aheadMs: number; workerStartMs: number; rounds: { synchronousMs: number; aheadMs: number; workerStartMs: number }[]; idleMs: number }> {
  const definition = TASKS.get('cifar10-resnet20')!;
  const cacheDir = mkdtempSync(join(os.tmpdir(), 'run-overhead-cache-'));
  const task = await definition.load({ ...definition.defaultSizing, valSize: 500, testSize: 500 }, {
    // No dataDir / weightsDir: the task's defaults read PRUNEBENCH_DATA and PRUNEBENCH_WEIGHTS, as the CLI's run does.
    cacheDir, log: () => {},
  });
  const idle = () => new Promise((resolve) => setTimeout(resolve, idleMs));
  /** Mean ms per batch of 20 takes once the stream is ready (the worker started), and how long that took. */
  const wait = async (stream: BatchStream) => {
    const opened = performance.now();
    let ms = 0;
    try {
      const worker = await stream.ready();
      const startMs = performance.now() - opened;
      for (let i = 0; i < 20; i++) {
        await idle();
        const asked = performance.now();
        const batch = await stream.next();
        ms += performance.now() - asked;
        tf.dispose([batch.inputs as tf.Tensor, batch.labels]);
      }
      return { ms: ms / 20, worker, startMs };
    } finally {
      await stream.close();
    }
  };
  const rounds: { synchronousMs: number; aheadMs: number; workerStartMs: number }[] = [];
  for (let r = 0; r < 5; r++) {
    const synchronous = await wait(openTrainStream({ trainBatches: (b, rng) => task.trainBatches(b, rng) }, BATCH, new SeededRng(r)));
    const ahead = await wait(openTrainStream(task, BATCH, new SeededRng(r)));
    if (!ahead.worker) throw new Error('the ahead-prepared stream fell back to the main thread: its worker did not start');
    rounds.push({ synchronousMs: synchronous.ms, aheadMs: ahead.ms, workerStartMs: ahead.startMs });
  }
  rmSync(cacheDir, { recursive: true, force: true });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { synchronousMs: median(rounds.map((r) => r.synchronousMs)), aheadMs: median(rounds.map((r) => r.aheadMs)), workerStartMs: median(rounds.map((r) => r.workerStartMs)), rounds, idleMs };
}

interface RunFigures {
  trainingSecondsPerExample: number; wallSecondsPerExample: number; usedExamples: number; trainingSeconds: number; wallSeconds: number;
  steps: number; compiledSteps: number;
  /** The main thread's seconds getting batches inside the train calls (null: the trainer did not record it). */
  batchSeconds: number | null;
}

/** One `prunebench run` of the fine-tuning suite on `budgetSteps` × 128 examples in a child process; figures from its magnitude record. */
function suiteRun(budgetSteps: number): RunFigures {
  const dir = mkdtempSync(join(os.tmpdir(), 'run-overhead-'));
  try {
    const suite = {
      name: 'run-overhead',
      description: 'issue 16: the run beside the step (benchmarks/perf/run-overhead.ts)',
      tasks: [{ id: 'cifar10-resnet20', valSize: 500, testSize: 500 }],
      methods: ['magnitude'],
      targets: [{ compression: 2 }],
      seeds: [0],
      budget: budgetSteps * BATCH,
    };
    writeFileSync(join(dir, 'suite.json'), JSON.stringify(suite));
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'packages/cli/src/main.ts'), 'run', join(dir, 'suite.json'), '--store', join(dir, 'store'), '--backend', backend], {
      cwd: repo, stdio: ['ignore', 'inherit', 'inherit'], env: process.env,
    });
    if (child.status !== 0) throw new Error(`prunebench run exited ${child.status}`);
    const runs = join(dir, 'store');
    for (const id of readdirSync(runs)) {
      let record: { description: { method: string }; status: string; budget: { usedExamples: number }; wallTimeSeconds: number; training?: { steps: number; compiledSteps: number; seconds: number; batchSeconds?: number } };
      try {
        record = JSON.parse(readFileSync(join(runs, id, RECORD_FILE), 'utf8'));
      } catch {
        continue;
      }
      if (record.description.method !== 'magnitude') continue;
      if (record.status !== 'completed' || !record.training) throw new Error(`the magnitude run did not complete (${record.status})`);
      const used = record.budget.usedExamples;
      return {
        trainingSecondsPerExample: record.training.seconds / used, wallSecondsPerExample: record.wallTimeSeconds / used, usedExamples: used,
        trainingSeconds: record.training.seconds, wallSeconds: record.wallTimeSeconds, steps: record.training.steps, compiledSteps: record.training.compiledSteps,
        batchSeconds: record.training.batchSeconds ?? null,
      };
    }
    throw new Error('no magnitude record in the store');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The step is measured before, between and after the runs; each run is set beside the mean of the two around it,
// and the fit beside the mean of all, so a change of the machine's load mid-command shows instead of skewing a ratio.
const loadBefore = os.loadavg();
const batches = await batchWaits();
if (args.flag('batches-only')) {
  const out = args.string('out') ?? join(repo, 'benchmarks/perf/results', `run-overhead-batches-${engine.backend}-${new Date().toISOString().slice(0, 10)}${args.string('label') ? `-${args.string('label')}` : ''}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ benchmark: 'perf-run-overhead-batches', date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavg: { before: loadBefore, after: os.loadavg() } }, tfjs: engine, batch: BATCH, batches }, null, 2)}\n`);
  console.log(`backend ${engine.backend} on ${engine.device}; load ${loadBefore.map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`main thread's wait per batch of ${BATCH} (idle ${idleMs} ms between takes, median of ${batches.rounds.length} rounds): trainBatches ${batches.synchronousMs.toFixed(2)} ms, ahead-prepared ${batches.aheadMs.toFixed(2)} ms once its worker started (${batches.workerStartMs.toFixed(0)} ms after the stream opened; until then batches are filled on the main thread)\nwrote ${out}`);
  process.exit(0);
}
const stepTimes: number[] = [await stepSecondsPerExample()];
const runs: (RunFigures & { stepSecondsPerExample: number; outsideTrainingSeconds: number })[] = [];
for (const budget of budgets) {
  const figures = suiteRun(budget);
  stepTimes.push(await stepSecondsPerExample());
  runs.push({ ...figures, stepSecondsPerExample: (stepTimes.at(-2)! + stepTimes.at(-1)!) / 2, outsideTrainingSeconds: figures.wallSeconds - figures.trainingSeconds });
}
const stepBefore = stepTimes[0];
const stepAfter = stepTimes.at(-1)!;
const step = stepTimes.reduce((a, b) => a + b, 0) / stepTimes.length;
const run = runs[0];

/** Least squares of y = fixed + slope × x over the runs (null with fewer than two distinct budgets). */
function fit(y: (r: RunFigures) => number) {
  const xs = runs.map((r) => r.usedExamples);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = runs.map(y).reduce((a, b) => a + b, 0) / runs.length;
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  if (sxx === 0) return null;
  const slope = runs.reduce((a, r) => a + (r.usedExamples - mx) * (y(r) - my), 0) / sxx;
  const fixed = my - slope * mx;
  return { fixedSeconds: fixed, secondsPerExample: slope, overStep: slope / step, projectedAtEpoch: { examples: EPOCH, wallOverStep: (fixed / EPOCH + slope) / step } };
}
const fits = { wall: fit((r) => r.wallSeconds), training: fit((r) => r.trainingSeconds) };
const result = {
  benchmark: 'perf-run-overhead',
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavg: { before: loadBefore, after: os.loadavg() } },
  tfjs: engine,
  batch: BATCH,
  steps,
  budgets,
  step: { secondsPerExampleBefore: stepBefore, secondsPerExampleAfter: stepAfter, secondsPerExampleEach: stepTimes, secondsPerExample: step },
  batches,
  run,
  runs,
  ratios: runs.map((r) => ({ examples: r.usedExamples, trainingOverStep: r.trainingSecondsPerExample / r.stepSecondsPerExample, wallOverStep: r.wallSecondsPerExample / r.stepSecondsPerExample })),
  fit: fits,
};
const date = result.date.slice(0, 10);
const out = args.string('out') ?? join(repo, 'benchmarks/perf/results', `run-overhead-${engine.backend}-${date}${args.string('label') ? `-${args.string('label')}` : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
const ms = (s: number) => (s * 1000).toFixed(2);
console.log(`\nbackend ${engine.backend} on ${engine.device}; step benchmark ${steps} steps of ${BATCH}; load ${loadBefore.map((l) => l.toFixed(1)).join(' ')}\n`);
console.log(`main thread's wait per batch of ${BATCH} (idle ${idleMs} ms between takes, median of ${batches.rounds.length} rounds): trainBatches ${batches.synchronousMs.toFixed(2)} ms, ahead-prepared ${batches.aheadMs.toFixed(2)} ms once its worker started (${batches.workerStartMs.toFixed(0)} ms after the stream opened; until then batches are filled on the main thread)\n`);
console.log('| measured | ms per example | × step |\n| --- | ---: | ---: |');
console.log(`| step (trainStep), before / between / after the runs | ${stepTimes.map(ms).join(' / ')} | 1 |`);
for (const r of runs) {
  const at = `${r.usedExamples} examples`;
  const over = (seconds: number) => (seconds / r.usedExamples / r.stepSecondsPerExample).toFixed(3);
  console.log(`| run of ${at}: the trainer's train calls (${r.steps} steps, ${r.compiledSteps} compiled) | ${ms(r.trainingSecondsPerExample)} | ${over(r.trainingSeconds)} |`);
  if (r.batchSeconds !== null) console.log(`| run of ${at}: of which waiting for batches | ${ms(r.batchSeconds / r.usedExamples)} | ${over(r.batchSeconds)} |`);
  console.log(`| run of ${at}: whole wall time (adds loading, evaluations, export) | ${ms(r.wallSecondsPerExample)} | ${over(r.wallSeconds)} |`);
  // The run's fixed part, measured: its wall time outside the train calls; with the train calls' rate, the run at one epoch.
  const outside = r.outsideTrainingSeconds;
  console.log(`| run of ${at}: outside the train calls ${outside.toFixed(1)} s; at ${EPOCH} examples the whole run would be | ${ms(outside / EPOCH + r.trainingSecondsPerExample)} | ${((outside / EPOCH + r.trainingSecondsPerExample) / r.stepSecondsPerExample).toFixed(3)} |`);
}
if (fits.wall && fits.training) {
  console.log(`| fit over the runs: train calls, per example (fixed ${fits.training.fixedSeconds.toFixed(1)} s) | ${ms(fits.training.secondsPerExample)} | ${fits.training.overStep.toFixed(3)} |`);
  console.log(`| fit over the runs: whole wall time, per example (fixed ${fits.wall.fixedSeconds.toFixed(1)} s) | ${ms(fits.wall.secondsPerExample)} | ${fits.wall.overStep.toFixed(3)} |`);
  console.log(`| fit: whole wall time projected at ${EPOCH} examples | ${ms(fits.wall.projectedAtEpoch.wallOverStep * step)} | ${fits.wall.projectedAtEpoch.wallOverStep.toFixed(3)} |`);
}
console.log(`\nwrote ${out}`);
