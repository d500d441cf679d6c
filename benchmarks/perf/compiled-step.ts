/**
 * Issue 16: the engine's compiled ResNet-CIFAR training step (design b: pipelines and bind groups built once, one
 * command encoder and one submit per step) against tfjs's op-by-op step (`trainStep` with prunebench's masked SGD),
 * both on the webgpu backend, and the op-by-op step on wasm for reference. Same step on both paths: training-mode
 * forward with the running-statistics update, softmax cross-entropy, backward, SGD momentum 0.9 + weight decay
 * 5e-4, the loss read back.
 *
 * Per depth (--depths, default 20,56):
 *   dispatches/step   compiled: its dispatch list (one compute pass); tfjs: WebGPUBackend.recordAndSubmit calls
 *                     (dispatch-counter.ts). Plus, during a compiled step, what tfjs itself issued (should be nothing).
 *   host ms/step      the method of throughput.ts: the same graph at trivial sizes (batch 1, 8×8 images), timed from
 *                     the call until it returns its promise (every command encoded and submitted, the loss read
 *                     requested), median of --host-steps after two untimed steps. For the compiled step also its
 *                     parts (prepare: bindings and inputs checked, tfjs's pending work flushed; encode; submit).
 *                     On a software adapter queue.submit may do part of the GPU's work on the host: it is reported
 *                     apart.
 *   throughput        at --batch (default 16) on 32×32 images, --steps timed steps after one untimed one, on the
 *                     adapter there is (a software one here: a CPU rasterizer, not a GPU speed figure); the
 *                     compiled step's first step (lavapipe compiles its shaders then) is reported apart. --no-full
 *                     skips it; --no-tfjs-full skips the op-by-op path's (slow on a software adapter).
 *   wasm              the op-by-op step on tfjs wasm at --wasm-batch (default 128), --steps steps; --no-wasm skips.
 *   torch             with --torch: PyTorch's eager step at --batch (torch_reference.py, CUDA where torch sees a GPU,
 *                     else CPU; --python or $PRUNEBENCH_TORCH_PYTHON, default /usr/bin/python3), --steps steps after
 *                     one warm-up, and the compiled step's throughput as a fraction of it (issue 16's GPU target:
 *                     ≥ 40 % of PyTorch eager fp32 on the GPU machine).
 *
 *   npx tsx benchmarks/perf/compiled-step.ts [--depths 20,56] [--batch 16] [--steps 2] [--host-steps 10]
 *       [--wasm-batch 128] [--no-full] [--no-tfjs-full] [--no-wasm] [--torch] [--python p] [--label x] [--out file.json]
 * Writes JSON (machine, load, backend, adapter, versions, every timing) to --out, default
 * benchmarks/perf/results/compiled-step-<date>[-<label>].json, and prints a Markdown table.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { compileResNetCifarStep, initEngine, SeededRng, takeBackendErrors, type CompiledResNetCifarStep, type EngineInfo } from '@prunebench/engine';
import * as models from '@prunebench/models';
import { createMaskedOptimizer, trainStep, type Batch } from '@prunebench/pruning';
import { countDispatches, medianOf, rawWebgpuDispatchUs, timeIssue, type DispatchCounts } from './dispatch-counter.js';

function usageError(message: string): never {
  console.error(`compiled-step: ${message}\n(options: see the header of benchmarks/perf/compiled-step.ts)`);
  process.exit(2);
}
let values: Record<string, string | boolean | undefined>;
try {
  values = parseArgs({
    options: {
      depths: { type: 'string' }, batch: { type: 'string' }, steps: { type: 'string' }, 'host-steps': { type: 'string' },
      'wasm-batch': { type: 'string' }, label: { type: 'string' }, out: { type: 'string' },
      'no-full': { type: 'boolean' }, 'no-tfjs-full': { type: 'boolean' }, 'no-wasm': { type: 'boolean' },
      torch: { type: 'boolean' }, python: { type: 'string' },
    },
    strict: true, allowPositionals: false,
  }).values;
} catch (error) {
  usageError(error instanceof Error ? error.message : String(error));
}
const int = (name: string, fallback: number) => {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) usageError(`--${name} must be a positive integer, got '${String(raw)}'`);
  return n;
};
const depths = String(values.depths ?? '20,56').split(',').map((d) => {
  const n = Number(d);
  if (!(models.RESNET_CIFAR_DEPTHS as readonly number[]).includes(n)) usageError(`--depths: ${d} is not a ResNet-CIFAR depth`);
  return n;
});
const batch = int('batch', 16);
const steps = int('steps', 2);
const hostSteps = int('host-steps', 10);
const wasmBatch = int('wasm-batch', 128);
const label = values.label as string | undefined;
const TINY = { batch: 1, hw: 8 };
const SGD = { momentum: 0.9, weightDecay: 5e-4 };
const LR = 0.01;

const loadSamples: { at: string; loadavg: number[] }[] = [];
const sampleLoad = () => loadSamples.push({ at: new Date().toISOString(), loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) });

function data(b: number, hw: number, seed: number) {
  const rng = new SeededRng(seed);
  const inputs = tf.tensor4d(rng.normalArray(b * hw * hw * 3), [b, hw, hw, 3]);
  const labels = tf.tensor1d(Int32Array.from({ length: b }, () => rng.int(10)), 'int32');
  return { inputs, labels, size: b } satisfies Batch;
}

interface Runner { step: () => Promise<unknown>; dispose: () => void; compiled?: CompiledResNetCifarStep }

function opByOp(depth: number, b: number, hw: number): Runner {
  const model = models.createResNetCifar(depth, { seed: 0 });
  const batchData = data(b, hw, 1);
  const optimizer = createMaskedOptimizer({ kind: 'sgd', ...SGD });
  return {
    step: () => trainStep(model, batchData, optimizer, { learningRate: LR }),
    dispose: () => { tf.dispose([batchData.inputs, batchData.labels]); optimizer.dispose(); model.dispose(); },
  };
}

async function compiledRunner(depth: number, b: number, hw: number): Promise<Runner & { compileMs: number }> {
  const model = models.createResNetCifar(depth, { seed: 0 });
  const batchData = data(b, hw, 1);
  const t0 = performance.now();
  const compiled = await compileResNetCifarStep(
    { stem: model.arch.stem, numClasses: model.arch.numClasses, blocks: models.resolveBlocks(model.arch) },
    model, { batch: b, height: hw, width: hw },
  );
  const compileMs = performance.now() - t0;
  return {
    compiled, compileMs,
    step: () => compiled.step(batchData.inputs, batchData.labels, { learningRate: LR, ...SGD }),
    dispose: () => { compiled.dispose(); tf.dispose([batchData.inputs, batchData.labels]); model.dispose(); },
  };
}

interface HostResult {
  counts: DispatchCounts;
  issueMs: number[];
  doneMs: number[];
  medianIssueMs: number;
  /** Compiled step only: median of each part of the issue time. */
  parts?: { prepareMs: number; encodeMs: number; submitMs: number };
  compiledDispatches?: number;
  pipelines?: number;
  firstStepMs?: number;
}

async function host(runner: Runner): Promise<HostResult> {
  const t0 = performance.now();
  await runner.step();
  const firstStepMs = performance.now() - t0;
  await runner.step();
  const { counts } = await countDispatches(() => runner.step());
  const parts: { prepareMs: number[]; encodeMs: number[]; submitMs: number[] } = { prepareMs: [], encodeMs: [], submitMs: [] };
  const t = await timeIssue(() => {
    const pending = runner.step();
    if (runner.compiled) for (const k of ['prepareMs', 'encodeMs', 'submitMs'] as const) parts[k].push(runner.compiled.lastIssue[k]);
    return pending;
  }, hostSteps, 0);
  return {
    counts, issueMs: t.issueMs, doneMs: t.doneMs, medianIssueMs: t.medianIssueMs, firstStepMs,
    ...(runner.compiled ? {
      parts: { prepareMs: medianOf(parts.prepareMs), encodeMs: medianOf(parts.encodeMs), submitMs: medianOf(parts.submitMs) },
      compiledDispatches: runner.compiled.stats.dispatches, pipelines: runner.compiled.stats.pipelines,
    } : {}),
  };
}

interface FullResult { batch: number; firstStepMs: number; stepMs: number[]; imagesPerSecond: number; compileMs?: number; loss?: number }

async function full(runner: Runner, b: number, compileMs?: number): Promise<FullResult> {
  const t0 = performance.now();
  await runner.step();
  const firstStepMs = performance.now() - t0;
  const stepMs: number[] = [];
  let loss: unknown;
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    loss = await runner.step();
    stepMs.push(performance.now() - s);
    sampleLoad();
  }
  const mean = stepMs.reduce((a, x) => a + x, 0) / stepMs.length;
  return { batch: b, firstStepMs, stepMs, imagesPerSecond: (1000 * b) / mean, ...(compileMs !== undefined ? { compileMs } : {}), ...(typeof loss === 'number' ? { loss } : {}) };
}

interface TorchResult { device: string; torch: string; threads: number; seconds: number[]; imagesPerSecond: number; error?: string }

/** PyTorch's eager training step of the same model (torch_reference.py in serve mode, one request). */
function torchStep(depth: number, b: number): TorchResult | { error: string } {
  const python = (values.python as string | undefined) ?? process.env.PRUNEBENCH_TORCH_PYTHON ?? '/usr/bin/python3';
  const script = join(import.meta.dirname, 'torch_reference.py');
  const request = JSON.stringify({ case: `resnet${depth}-train`, batch: b, steps, warmup: 1, threads: os.cpus().length });
  const r = spawnSync(python, [script, '--serve', '--device', 'auto'], { input: request + '\n', encoding: 'utf8', timeout: 1_800_000 });
  const lines = (r.stdout ?? '').trim().split('\n').filter(Boolean);
  if (r.status !== 0 || lines.length < 2) return { error: `${python} ${script}: exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}` };
  const hello = JSON.parse(lines[0]!) as { torch: string; device: string };
  const answer = JSON.parse(lines[1]!) as { seconds?: number[]; threads?: number; error?: string };
  if (answer.error || !answer.seconds) return { error: answer.error ?? 'no timings' };
  const mean = answer.seconds.reduce((a, x) => a + x, 0) / answer.seconds.length;
  return { device: hello.device, torch: hello.torch, threads: answer.threads ?? 0, seconds: answer.seconds, imagesPerSecond: b / mean };
}

sampleLoad();
const engine: EngineInfo = await initEngine({ backend: 'webgpu' });
console.log(`machine: ${os.cpus()[0]?.model?.trim()}, ${os.cpus().length} cores; ${engine.device}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const raw = await rawWebgpuDispatchUs(1000, 5);
console.log(`raw WebGPU dispatch: ${raw.prebuiltUs.toFixed(1)} µs (prebuilt bind group), ${raw.bindGroupEachUs.toFixed(1)} µs (new bind group each)`);

interface DepthResult {
  depth: number;
  tfjsHost: HostResult;
  compiledHost: HostResult;
  tfjsFull?: FullResult;
  compiledFull?: FullResult;
  wasmFull?: FullResult;
  wasmHost?: HostResult;
  torch?: TorchResult | { error: string };
  /** Compiled step's images/s over torch's, at --batch. */
  compiledOverTorch?: number;
}
const results: DepthResult[] = [];
for (const depth of depths) {
  const tfjsTiny = opByOp(depth, TINY.batch, TINY.hw);
  const tfjsHost = await host(tfjsTiny);
  tfjsTiny.dispose();
  const compiledTiny = await compiledRunner(depth, TINY.batch, TINY.hw);
  const compiledHost = await host(compiledTiny);
  compiledTiny.dispose();
  console.log(`resnet${depth} host ms/step (tiny graph): tfjs ${tfjsHost.medianIssueMs.toFixed(1)} (${tfjsHost.counts.gpuDispatches} dispatches), ` +
    `compiled ${compiledHost.medianIssueMs.toFixed(2)} (${compiledHost.compiledDispatches} dispatches; prepare ${compiledHost.parts!.prepareMs.toFixed(2)}, ` +
    `encode ${compiledHost.parts!.encodeMs.toFixed(2)}, submit ${compiledHost.parts!.submitMs.toFixed(2)}; tfjs issued ${compiledHost.counts.gpuDispatches} dispatches, ${compiledHost.counts.kernels} kernels meanwhile)`);
  const row: DepthResult = { depth, tfjsHost, compiledHost };
  if (!values['no-full']) {
    const c = await compiledRunner(depth, batch, 32);
    row.compiledFull = await full(c, batch, c.compileMs);
    c.dispose();
    console.log(`resnet${depth} compiled, batch ${batch}: ${row.compiledFull.imagesPerSecond.toFixed(2)} img/s (first step ${(row.compiledFull.firstStepMs / 1000).toFixed(1)} s)`);
    if (!values['no-tfjs-full']) {
      const t = opByOp(depth, batch, 32);
      row.tfjsFull = await full(t, batch);
      t.dispose();
      console.log(`resnet${depth} tfjs op-by-op, batch ${batch}: ${row.tfjsFull.imagesPerSecond.toFixed(2)} img/s`);
    }
  }
  if (values.torch) {
    row.torch = torchStep(depth, batch);
    if ('imagesPerSecond' in row.torch && row.compiledFull) row.compiledOverTorch = row.compiledFull.imagesPerSecond / row.torch.imagesPerSecond;
    console.log(`resnet${depth} torch: ${'error' in row.torch && row.torch.error ? row.torch.error : `${(row.torch as TorchResult).imagesPerSecond.toFixed(1)} img/s on ${(row.torch as TorchResult).device}`}` +
      (row.compiledOverTorch !== undefined ? `; compiled / torch = ${(100 * row.compiledOverTorch).toFixed(1)} %` : ''));
  }
  results.push(row);
}
const webgpuErrors = takeBackendErrors();

let wasmEngine: EngineInfo | null = null;
if (!values['no-wasm']) {
  // webgpu is not started again after this (a second initEngine('webgpu') would make Dawn a new GPU instance)
  wasmEngine = await initEngine({ backend: 'wasm' });
  for (const row of results) {
    const tiny = opByOp(row.depth, TINY.batch, TINY.hw);
    row.wasmHost = await host(tiny);
    tiny.dispose();
    const r = opByOp(row.depth, wasmBatch, 32);
    row.wasmFull = await full(r, wasmBatch);
    r.dispose();
    console.log(`resnet${row.depth} wasm op-by-op, batch ${wasmBatch}: ${row.wasmFull.imagesPerSecond.toFixed(1)} img/s; host ${row.wasmHost.medianIssueMs.toFixed(1)} ms/step (tiny graph)`);
  }
}

const date = new Date().toISOString();
const loads = loadSamples.map((s) => s.loadavg[0]!);
const report = {
  benchmark: 'perf-compiled-step', date, label: label ?? null,
  options: { depths, batch, steps, hostSteps, wasmBatch, tiny: TINY, sgd: SGD, learningRate: LR },
  machine: {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    load: { min1Min: Math.min(...loads), max1Min: Math.max(...loads), samples: loadSamples },
  },
  webgpu: engine, wasm: wasmEngine, webgpuErrors, hostRawDispatch: raw, results,
};
const out = (values.out as string | undefined) ?? join(import.meta.dirname, 'results', `compiled-step-${date.slice(0, 10)}${label ? `-${label}` : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');

const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const adapter = engine.adapter ? `${engine.adapter.software ? 'SOFTWARE adapter (a CPU rasterizer, not a GPU speed figure): ' : ''}${engine.adapter.description}` : engine.device;
console.log(`\n### Compiled step vs op-by-op, tfjs ${engine.versions.tfjs} webgpu on ${adapter}\n`);
console.log(`${report.machine.cpu}, ${report.machine.cores} cores, load (1 min) ${f(report.machine.load.min1Min, 2)}–${f(report.machine.load.max1Min, 2)}; ${date}\n`);
console.log('| model | path | GPU dispatches/step | submits/step | host ms/step (tiny graph) | of it: prepare / encode / submit | img/s at batch ' + batch + ' (software GPU) | wasm img/s at batch ' + wasmBatch + ' |');
console.log('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |');
for (const r of results) {
  console.log(`| ResNet-${r.depth} | tfjs op-by-op | ${r.tfjsHost.counts.gpuDispatches} | ${r.tfjsHost.counts.gpuSubmits} | ${f(r.tfjsHost.medianIssueMs)} | — | ${f(r.tfjsFull?.imagesPerSecond, 2)} | ${f(r.wasmFull?.imagesPerSecond)} (host ${f(r.wasmHost?.medianIssueMs)} ms) |`);
  if (r.torch && 'imagesPerSecond' in r.torch) {
    console.log(`| ResNet-${r.depth} | PyTorch ${r.torch.torch} eager on ${r.torch.device} | — | — | — | — | ${f(r.torch.imagesPerSecond, 2)}${r.compiledOverTorch !== undefined ? ` (compiled: ${f(100 * r.compiledOverTorch)} % of it)` : ''} | — |`);
  }
  const p = r.compiledHost.parts!;
  console.log(`| ResNet-${r.depth} | compiled | ${r.compiledHost.compiledDispatches} (+ ${r.compiledHost.counts.gpuDispatches} by tfjs) | 1 (+ ${r.compiledHost.counts.gpuSubmits} by tfjs) | ${f(r.compiledHost.medianIssueMs, 2)} | ${f(p.prepareMs, 2)} / ${f(p.encodeMs, 2)} / ${f(p.submitMs, 2)} | ${f(r.compiledFull?.imagesPerSecond, 2)} | — |`);
}
console.log(`\nwritten: ${out}`);
