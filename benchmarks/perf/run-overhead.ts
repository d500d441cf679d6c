/**
 * Issue 16, "the run, not only the step": a suite's training wall time per example beside the step benchmark's,
 * measured in one command on one backend. The target: the run within 15 % of the step.
 *
 *   step   `trainStep` on ResNet-20 at batch 128 (the cifar10-resnet20 recipe: SGD momentum 0.9, weight decay 5e-4,
 *          50 % random masks on every conv and linear weight, as a pruned run's fine-tuning has), one untimed step,
 *          then --steps timed ones; seconds per example. Measured before and after the run, to bracket the load.
 *   run    `prunebench run` of a one-method suite (magnitude 2×, one-shot, fine-tuned on --steps × 128 examples of
 *          the real CIFAR-10 training split with augmentation, checkpoints every chunk) in a child process; from its
 *          record: `training.seconds / budget.usedExamples` (the trainer's loop: data loading and augmentation, the
 *          step, loss reads, logging, checkpoints) and, apart, the whole run's wall time (which adds loading, the
 *          dense and final evaluations and the ONNX export: costs that do not grow with the budget).
 *
 *   PRUNEBENCH_DATA=… PRUNEBENCH_WEIGHTS=… npx tsx benchmarks/perf/run-overhead.ts [--backend wasm] [--steps 20]
 *       [--label x] [--out file.json]
 * Writes JSON (machine, load, backend, adapter, versions, every timing) to --out, default
 * benchmarks/perf/results/run-overhead-<backend>-<date>[-<label>].json, and prints a Markdown table.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine, parseBackendRequest, SeededRng, type BackendRequest } from '@prunebench/engine';
import { RECORD_FILE } from '@prunebench/harness';
import { createResNetCifar, resnetCifarArch } from '@prunebench/models';
import { createMaskedOptimizer, trainStep } from '@prunebench/pruning';
import { exitWithUsage, scriptArgs } from './script-helpers.js';

const USAGE = 'usage: npx tsx benchmarks/perf/run-overhead.ts [--backend wasm|webgpu|cpu] [--steps 20] [--label x] [--out file.json]';
const args = scriptArgs('run-overhead', USAGE, { strings: ['backend', 'steps', 'label', 'out'] });
let backend: BackendRequest;
try {
  backend = parseBackendRequest(args.string('backend') ?? 'wasm', '--backend');
} catch (error) {
  exitWithUsage('run-overhead', (error as Error).message, USAGE);
}
const steps = args.int('steps', 20);
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

interface RunFigures { trainingSecondsPerExample: number; wallSecondsPerExample: number; usedExamples: number; trainingSeconds: number; wallSeconds: number; steps: number; compiledSteps: number }

/** One `prunebench run` of the fine-tuning suite in a child process; figures from its magnitude record. */
function suiteRun(): RunFigures {
  const dir = mkdtempSync(join(os.tmpdir(), 'run-overhead-'));
  try {
    const suite = {
      name: 'run-overhead',
      description: 'issue 16: the run beside the step (benchmarks/perf/run-overhead.ts)',
      tasks: [{ id: 'cifar10-resnet20', valSize: 500, testSize: 500 }],
      methods: ['magnitude'],
      targets: [{ compression: 2 }],
      seeds: [0],
      budget: steps * BATCH,
    };
    writeFileSync(join(dir, 'suite.json'), JSON.stringify(suite));
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'packages/cli/src/main.ts'), 'run', join(dir, 'suite.json'), '--store', join(dir, 'store'), '--backend', backend], {
      cwd: repo, stdio: ['ignore', 'inherit', 'inherit'], env: process.env,
    });
    if (child.status !== 0) throw new Error(`prunebench run exited ${child.status}`);
    const runs = join(dir, 'store');
    for (const id of readdirSync(runs)) {
      let record: { description: { method: string }; status: string; budget: { usedExamples: number }; wallTimeSeconds: number; training?: { steps: number; compiledSteps: number; seconds: number } };
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
      };
    }
    throw new Error('no magnitude record in the store');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const loadBefore = os.loadavg();
const stepBefore = await stepSecondsPerExample();
const run = suiteRun();
const stepAfter = await stepSecondsPerExample();
const step = (stepBefore + stepAfter) / 2;
const result = {
  benchmark: 'perf-run-overhead',
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavg: { before: loadBefore, after: os.loadavg() } },
  tfjs: engine,
  batch: BATCH,
  steps,
  step: { secondsPerExampleBefore: stepBefore, secondsPerExampleAfter: stepAfter, secondsPerExample: step },
  run,
  ratios: { trainingOverStep: run.trainingSecondsPerExample / step, wallOverStep: run.wallSecondsPerExample / step },
};
const date = result.date.slice(0, 10);
const out = args.string('out') ?? join(repo, 'benchmarks/perf/results', `run-overhead-${engine.backend}-${date}${args.string('label') ? `-${args.string('label')}` : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
const ms = (s: number) => (s * 1000).toFixed(2);
console.log(`\nbackend ${engine.backend} on ${engine.device}; ${steps} steps of ${BATCH}; load ${loadBefore.map((l) => l.toFixed(1)).join(' ')}\n`);
console.log('| measured | ms per example | × step |\n| --- | ---: | ---: |');
console.log(`| step (trainStep), before / after the run | ${ms(stepBefore)} / ${ms(stepAfter)} | 1 |`);
console.log(`| run: the trainer's train calls (${run.steps} steps, ${run.compiledSteps} compiled) | ${ms(run.trainingSecondsPerExample)} | ${result.ratios.trainingOverStep.toFixed(3)} |`);
console.log(`| run: whole wall time (adds loading, evaluations, export) | ${ms(run.wallSecondsPerExample)} | ${result.ratios.wallOverStep.toFixed(3)} |`);
console.log(`\nwrote ${out}`);
