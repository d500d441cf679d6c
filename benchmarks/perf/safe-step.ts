/**
 * Issue 16: what one SAFE step (SAM's two gradients, the ADMM direction, the optimizer's step) costs the host on
 * webgpu, as a run does it: PRUNEBENCH_COMPILED_STEP=0 (everything op by op) against =1 (the paths a hardware
 * adapter takes by default, here on the software adapter too: the trainer's gradient reads on the compiled gradient
 * step, SAM's ascent, the ADMM direction and SAFE's SGD step fused, one dispatch per parameter). SAFE runs on ResNet-20 (8×8 images, batch 8: a tiny
 * graph, so the figures are host cost and hold on the software adapter), with no fine-tuning and no batch-norm
 * re-estimation, at two step counts; per step = the difference over the difference in steps, so the method's
 * fixed work (masks, projection) drops out.
 *
 *   tfjs kernels/step   tfjs kernel executions (tf.profile) per SAFE step: what is still issued op by op
 *   ms/step             wall milliseconds per SAFE step on the tiny graph (mostly host cost; on a software adapter
 *                       its CPU rasterizer's work is in it too: not a GPU speed figure)
 *
 *   npx tsx benchmarks/perf/safe-step.ts [--steps 4] [--label x] [--out file.json]
 * Writes JSON (machine, load, adapter, versions, every count) to --out, default
 * benchmarks/perf/results/safe-step-<date>[-<label>].json, and prints a Markdown table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine, takeBackendErrors, type SeededRng } from '@prunebench/engine';
import safeMethod from '@prunebench/method-safe';
import { createResNetCifar, disposeCompiledTrainingSteps, type Model } from '@prunebench/models';
import { BudgetLedger, denseLossAndGradients, type Batch, type BudgetedTrainer, type TrainSummary } from '@prunebench/pruning';
import { RandomImageTrainer, testMethodContext } from '@prunebench/pruning/testing';
import { scriptArgs } from './script-helpers.js';

const USAGE = 'usage: npx tsx benchmarks/perf/safe-step.ts [--steps 4] [--label x] [--out file.json]';
const args = scriptArgs('safe-step', USAGE, { strings: ['steps', 'label', 'out'] });
const steps = args.int('steps', 4);
const label = args.string('label');
const BATCH = 8;

/** RandomImageTrainer's data and validation, with its own budget and the harness trainer's gradient reads (`compiledStep: 'auto'`). */
class GradientPathTrainer implements BudgetedTrainer {
  private readonly data: RandomImageTrainer;
  private readonly ledger: BudgetLedger;
  constructor(totalExamples: number) {
    this.data = new RandomImageTrainer(totalExamples);
    this.ledger = new BudgetLedger(totalExamples);
  }
  get totalExamples(): number { return this.ledger.total; }
  usedExamples(): number { return this.ledger.used; }
  remainingExamples(): number { return this.ledger.remaining; }
  train(): Promise<TrainSummary> { throw new Error('safe-step: no fine-tuning here (finetuneFraction 0)'); }
  sampleBatches(count: number, batchSize: number, rng: SeededRng): Batch[] { return this.data.sampleBatches(count, batchSize, rng); }
  validate(model: Model): Promise<number> { return this.data.validate(model); }
  gradients(model: Model, batch: Batch): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    this.ledger.charge(batch.size);
    return denseLossAndGradients(model, batch, 'auto');
  }
}

/** Kernels and wall ms of a SAFE run of `n` steps. */
async function safeRun(n: number): Promise<{ kernels: number; ms: number }> {
  const model = createResNetCifar(20, { seed: 0 });
  const trainer = new GradientPathTrainer(2 * BATCH * n);
  const context = testMethodContext(safeMethod, {
    model, trainer, target: { kind: 'compression', ratio: 2 },
    options: { batchSize: BATCH, finetuneFraction: 0, bnTuningExamples: 0 },
  });
  const t0 = performance.now();
  let result!: Awaited<ReturnType<typeof safeMethod.run>>;
  const profile = await tf.profile(async () => {
    result = await safeMethod.run(context);
  });
  const ms = performance.now() - t0;
  tf.dispose([...(result.masks?.values() ?? [])]);
  await disposeCompiledTrainingSteps(model);
  model.dispose();
  return { kernels: profile.kernels.length, ms };
}

const engine = await initEngine({ backend: 'webgpu' });
console.log(`machine: ${os.cpus()[0]?.model?.trim()}, ${os.cpus().length} cores; ${engine.device}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const rows: { compiledStepEnv: '0' | '1'; kernelsPerStep: number; msPerStep: number; runs: { steps: number; kernels: number; ms: number }[] }[] = [];
for (const env of ['0', '1'] as const) {
  process.env.PRUNEBENCH_COMPILED_STEP = env;
  await safeRun(1); // shaders compiled, buffers made
  const short = await safeRun(1);
  const long = await safeRun(1 + steps);
  const row = {
    compiledStepEnv: env, kernelsPerStep: (long.kernels - short.kernels) / steps, msPerStep: (long.ms - short.ms) / steps,
    runs: [{ steps: 1, ...short }, { steps: 1 + steps, ...long }],
  };
  rows.push(row);
  console.log(`PRUNEBENCH_COMPILED_STEP=${env}: ${row.kernelsPerStep} tfjs kernels per SAFE step, ${row.msPerStep.toFixed(1)} ms per step (tiny graph)`);
}
delete process.env.PRUNEBENCH_COMPILED_STEP;
const errors = takeBackendErrors();
if (errors.length > 0) throw new Error(`webgpu errors: ${errors.join('; ')}`);

const date = new Date().toISOString();
const report = {
  benchmark: 'perf-safe-step', date, label: label ?? null, options: { steps, batch: BATCH, model: 'resnet20', images: '8x8' },
  machine: { cpu: os.cpus()[0]?.model?.trim() ?? 'unknown', cores: os.cpus().length, loadavg: os.loadavg() },
  webgpu: engine, rows,
};
const out = args.string('out') ?? join(import.meta.dirname, 'results', `safe-step-${date.slice(0, 10)}${label ? `-${label}` : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
const adapter = engine.adapter ? `${engine.adapter.software ? 'SOFTWARE adapter (a CPU rasterizer, not a GPU speed figure): ' : ''}${engine.adapter.description}` : engine.device;
console.log(`\n### One SAFE step on ResNet-20 (tiny graph), tfjs ${engine.versions.tfjs} webgpu on ${adapter}\n`);
console.log('| PRUNEBENCH_COMPILED_STEP | tfjs kernels/step | wall ms/step (tiny graph) |');
console.log('| --- | ---: | ---: |');
for (const r of rows) console.log(`| ${r.compiledStepEnv === '0' ? '0: op by op' : '1: compiled gradient reads (2 submits), fused SAM ascent (2), ADMM direction (1) and SGD step (1)'} | ${r.kernelsPerStep} | ${r.msPerStep.toFixed(1)} |`);
console.log(`\nwritten: ${out}`);
