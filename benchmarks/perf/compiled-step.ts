/**
 * Issue 16: the engine's compiled ResNet-CIFAR training step (design b: pipelines and bind groups built once, one
 * command encoder and one submit per step) against tfjs's op-by-op step (trainStep's op-by-op half, opByOpStep, with prunebench's masked SGD),
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
 * Gradient reads (the trainer's `gradients`: SNIP, SAFE's two SAM gradients, RigL): host ms and dispatches of
 * one read on the tiny graphs, tfjs's `lossTensorAndGradients` against the step compiled with optimizer 'gradient'
 * (`gradients()`, which also hands every gradient to tfjs as a tensor).
 *
 * With --bert, also BERT-mini (4 layers, hidden 256, 4 heads, FFN 1024, vocabulary 30,522, 2 labels) at --seq
 * (128) with the GLUE recipe's AdamW (betas 0.9/0.999, eps 1e-6, decay 0.01 on weights and tables): the compiled
 * BERT step against `trainStep` with createMaskedOptimizer AdamW, the same measures — host ms on throughput.ts's
 * TINY_BERT graph (4 layers of width 8, vocabulary 128, one sequence of 8: the same dispatch list), throughput in
 * sequences/s at --bert-batch (8; small because the software adapter is slow) and on wasm at --wasm-bert-batch (8),
 * PyTorch's bert-mini-train case with its AdamW under --torch. --depths none leaves the ResNets out.
 *
 *   npx tsx benchmarks/perf/compiled-step.ts [--depths 20,56|none] [--batch 16] [--steps 2] [--host-steps 10]
 *       [--wasm-batch 128] [--bert] [--seq 128] [--bert-batch 8] [--wasm-bert-batch 8]
 *       [--no-full] [--no-tfjs-full] [--no-wasm] [--torch] [--python p] [--label x] [--out file.json]
 * Writes JSON (machine, load, backend, adapter, versions, every timing) to --out, default
 * benchmarks/perf/results/compiled-step-<date>[-<label>].json, and prints a Markdown table.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { compileBertStep, compileResNetCifarStep, initEngine, SeededRng, takeBackendErrors, type CompiledTrainingStep, type EngineInfo } from '@prunebench/engine';
import * as models from '@prunebench/models';
import { createMaskedOptimizer, lossTensorAndGradients, readScalar, type Batch, type MaskedOptimizer } from '@prunebench/pruning';
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
      bert: { type: 'boolean' }, seq: { type: 'string' }, 'bert-batch': { type: 'string' }, 'wasm-bert-batch': { type: 'string' },
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
const depths = values.depths === 'none' ? [] : String(values.depths ?? '20,56').split(',').map((d) => {
  const n = Number(d);
  if (!(models.RESNET_CIFAR_DEPTHS as readonly number[]).includes(n)) usageError(`--depths: ${d} is not a ResNet-CIFAR depth`);
  return n;
});
const batch = int('batch', 16);
const steps = int('steps', 2);
const hostSteps = int('host-steps', 10);
const wasmBatch = int('wasm-batch', 128);
const label = values.label as string | undefined;
const seqLen = int('seq', 128);
const bertBatch = int('bert-batch', 8);
const wasmBertBatch = int('wasm-bert-batch', 8);
/** throughput.ts's tiny BERT: BERT-mini's 4 layers at width 8, so the same dispatch list at trivial sizes. */
const TINY_BERT = { batch: 1, seqLen: 8, arch: { layers: 4, hidden: 8, heads: 4, intermediate: 8, vocabSize: 128 } };
/** The GLUE recipe's AdamW (packages/harness/src/tasks/glue-bert.ts), at a fixed learning rate. */
const ADAMW = { beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 };
const BERT_LR = 2e-4;
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

interface Runner { step: () => Promise<unknown>; dispose: () => void; compiled?: CompiledTrainingStep }

/**
 * tfjs's op-by-op step (trainStep's op-by-op half), its ops recorded before it returns: trainStep itself awaits
 * first (whether to use a compiled step), so its issue time would read 0.
 */
function opByOpStep(model: models.Model, batch: Batch, optimizer: MaskedOptimizer, learningRate: number): Promise<number> {
  const { loss, grads } = lossTensorAndGradients(model, batch);
  optimizer.step(model, grads, { learningRate });
  tf.dispose([...grads.values()]);
  return readScalar(loss);
}

function opByOp(depth: number, b: number, hw: number): Runner {
  const model = models.createResNetCifar(depth, { seed: 0 });
  const batchData = data(b, hw, 1);
  const optimizer = createMaskedOptimizer({ kind: 'sgd', ...SGD }, { compiled: 'never' });
  return {
    step: () => opByOpStep(model, batchData, optimizer, LR),
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

/** One gradient read of the model on the batch per `step`, op by op or on the compiled gradient step; the gradients are disposed once read. */
async function gradientReader(model: models.Model, batchData: Batch, compiled: boolean, free: () => void): Promise<Runner> {
  const step = compiled ? await models.compiledTrainingStepFor(model, batchData.inputs, { optimizer: 'gradient' }) : null;
  if (compiled && !step) throw new Error('compiled-step: no compiled gradient step for this model');
  const read = step
    ? () => step.gradients(batchData.inputs, batchData.labels).then(({ loss, grads }) => { tf.dispose([...grads.values()]); return loss; })
    : () => {
      const { loss, grads } = lossTensorAndGradients(model, batchData);
      return readScalar(loss).then((value) => { tf.dispose([...grads.values()]); return value; });
    };
  return {
    step: read, ...(step ? { compiled: step } : {}),
    dispose: () => { void models.disposeCompiledTrainingSteps(model); free(); model.dispose(); },
  };
}

/** Host cost of a gradient read on a tiny graph, both paths. */
async function gradientHosts(make: () => { model: models.Model; batch: Batch; free: () => void }): Promise<{ tfjs: HostResult; compiled: HostResult }> {
  const out: Partial<Record<'tfjs' | 'compiled', HostResult>> = {};
  for (const path of ['tfjs', 'compiled'] as const) {
    const { model, batch: b, free } = make();
    const runner = await gradientReader(model, b, path === 'compiled', free);
    out[path] = await host(runner);
    runner.dispose();
  }
  return out as { tfjs: HostResult; compiled: HostResult };
}

function bertModel(tiny: boolean) {
  return models.createBert(tiny ? models.bertArch({ ...TINY_BERT.arch, numLabels: 2 }) : models.bertMiniArch(2), { seed: 0 });
}

function bertData(b: number, seq: number, vocab: number, seed: number): Batch {
  const rng = new SeededRng(seed);
  const ids = tf.tensor2d(Int32Array.from({ length: b * seq }, () => rng.int(vocab)), [b, seq], 'int32');
  const inputs = { input_ids: ids, attention_mask: tf.onesLike(ids), token_type_ids: tf.zerosLike(ids) };
  return { inputs, labels: tf.tensor1d(Int32Array.from({ length: b }, () => rng.int(2)), 'int32'), size: b };
}

const disposeBatch = (b: Batch) => tf.dispose([...Object.values(b.inputs as Record<string, tf.Tensor>), b.labels]);

function opByOpBert(b: number, seq: number, tiny: boolean): Runner {
  const model = bertModel(tiny);
  const batchData = bertData(b, seq, model.arch.vocabSize, 1);
  const optimizer = createMaskedOptimizer({ kind: 'adamw', ...ADAMW }, { compiled: 'never' });
  return {
    step: () => opByOpStep(model, batchData, optimizer, BERT_LR),
    dispose: () => { disposeBatch(batchData); optimizer.dispose(); model.dispose(); },
  };
}

async function compiledBert(b: number, seq: number, tiny: boolean): Promise<Runner & { compileMs: number }> {
  const model = bertModel(tiny);
  const batchData = bertData(b, seq, model.arch.vocabSize, 1);
  const t0 = performance.now();
  const arch = model.arch;
  const compiled = await compileBertStep({ ...arch, pooler: models.bertPoolerWidth(arch), layerNormWidth: arch.layerNormWidth ?? arch.hidden }, model, { batch: b, seq });
  const compileMs = performance.now() - t0;
  return {
    compiled, compileMs,
    step: () => compiled.step(batchData.inputs, batchData.labels, { kind: 'adamw', learningRate: BERT_LR, ...ADAMW }),
    dispose: () => { compiled.dispose(); disposeBatch(batchData); model.dispose(); },
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

/** imagesPerSecond: examples (images, or sequences for BERT) per second. */
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

/** PyTorch's eager training step of the same model (torch_reference.py in serve mode, one request; `extra`: its further fields). */
function torchStep(name: string, b: number, extra: Record<string, unknown> = {}): TorchResult | { error: string } {
  const python = (values.python as string | undefined) ?? process.env.PRUNEBENCH_TORCH_PYTHON ?? '/usr/bin/python3';
  const script = join(import.meta.dirname, 'torch_reference.py');
  const request = JSON.stringify({ case: name, batch: b, steps, warmup: 1, threads: os.cpus().length, ...extra });
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
  /** One gradient read on the tiny graph: op by op and on the compiled gradient step. */
  gradientHost: { tfjs: HostResult; compiled: HostResult };
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
  const gradientHost = await gradientHosts(() => {
    const b = data(TINY.batch, TINY.hw, 1);
    return { model: models.createResNetCifar(depth, { seed: 0 }), batch: b, free: () => tf.dispose([b.inputs, b.labels]) };
  });
  console.log(`resnet${depth} gradient read, host ms (tiny graph): tfjs ${gradientHost.tfjs.medianIssueMs.toFixed(1)} (${gradientHost.tfjs.counts.gpuDispatches} dispatches), ` +
    `compiled ${gradientHost.compiled.medianIssueMs.toFixed(2)} (${gradientHost.compiled.compiledDispatches} dispatches)`);
  const row: DepthResult = { depth, tfjsHost, compiledHost, gradientHost };
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
    row.torch = torchStep(`resnet${depth}-train`, batch);
    if ('imagesPerSecond' in row.torch && row.compiledFull) row.compiledOverTorch = row.compiledFull.imagesPerSecond / row.torch.imagesPerSecond;
    console.log(`resnet${depth} torch: ${'error' in row.torch && row.torch.error ? row.torch.error : `${(row.torch as TorchResult).imagesPerSecond.toFixed(1)} img/s on ${(row.torch as TorchResult).device}`}` +
      (row.compiledOverTorch !== undefined ? `; compiled / torch = ${(100 * row.compiledOverTorch).toFixed(1)} %` : ''));
  }
  results.push(row);
}

interface BertResult {
  seqLen: number;
  tfjsHost: HostResult;
  compiledHost: HostResult;
  gradientHost: { tfjs: HostResult; compiled: HostResult };
  compiledFull?: FullResult;
  tfjsFull?: FullResult;
  wasmFull?: FullResult;
  wasmHost?: HostResult;
  torch?: TorchResult | { error: string };
  compiledOverTorch?: number;
  /** tfjs's kernels per forward + backward of BERT-mini op by op (step-dispatches-webgpu-bert-mini-2026-12-01.json). */
  opByOpKernelsReference: number;
}
let bert: BertResult | null = null;
/** What is measured so far, written after each BERT phase (a slow software-adapter run may not reach the end). */
const partialOut = join(import.meta.dirname, 'results', `compiled-step-partial${label ? `-${label}` : ''}.json`);
const writePartial = () => {
  mkdirSync(dirname(partialOut), { recursive: true });
  writeFileSync(partialOut, JSON.stringify({ partial: true, label: label ?? null, webgpu: engine, loadSamples, results, bert }, null, 2) + '\n');
};
if (values.bert) {
  const tfjsTiny = opByOpBert(TINY_BERT.batch, TINY_BERT.seqLen, true);
  const tfjsHost = await host(tfjsTiny);
  tfjsTiny.dispose();
  const compiledTiny = await compiledBert(TINY_BERT.batch, TINY_BERT.seqLen, true);
  const compiledHost = await host(compiledTiny);
  compiledTiny.dispose();
  const gradientHost = await gradientHosts(() => {
    const model = bertModel(true);
    const b = bertData(TINY_BERT.batch, TINY_BERT.seqLen, model.arch.vocabSize, 1);
    return { model, batch: b, free: () => disposeBatch(b) };
  });
  bert = { seqLen, tfjsHost, compiledHost, gradientHost, opByOpKernelsReference: 1269 };
  writePartial();
  console.log(`bert-mini host ms/step (tiny graph): tfjs ${tfjsHost.medianIssueMs.toFixed(1)} (${tfjsHost.counts.gpuDispatches} dispatches), ` +
    `compiled ${compiledHost.medianIssueMs.toFixed(2)} (${compiledHost.compiledDispatches} dispatches, ${compiledHost.pipelines} pipelines; prepare ${compiledHost.parts!.prepareMs.toFixed(2)}, ` +
    `encode ${compiledHost.parts!.encodeMs.toFixed(2)}, submit ${compiledHost.parts!.submitMs.toFixed(2)}; tfjs issued ${compiledHost.counts.gpuDispatches} dispatches meanwhile)`);
  if (!values['no-full']) {
    const c = await compiledBert(bertBatch, seqLen, false);
    bert.compiledFull = await full(c, bertBatch, c.compileMs);
    c.dispose();
    console.log(`bert-mini compiled, batch ${bertBatch} × ${seqLen}: ${bert.compiledFull.imagesPerSecond.toFixed(2)} sequences/s (first step ${(bert.compiledFull.firstStepMs / 1000).toFixed(1)} s)`);
    writePartial();
    if (!values['no-tfjs-full']) {
      const t = opByOpBert(bertBatch, seqLen, false);
      bert.tfjsFull = await full(t, bertBatch);
      t.dispose();
      console.log(`bert-mini tfjs op-by-op, batch ${bertBatch} × ${seqLen}: ${bert.tfjsFull.imagesPerSecond.toFixed(2)} sequences/s`);
      writePartial();
    }
  }
  if (values.torch) {
    bert.torch = torchStep('bert-mini-train', bertBatch, { seqLen, optimizer: 'adamw' });
    if ('imagesPerSecond' in bert.torch && bert.compiledFull) bert.compiledOverTorch = bert.compiledFull.imagesPerSecond / bert.torch.imagesPerSecond;
    console.log(`bert-mini torch: ${'error' in bert.torch && bert.torch.error ? bert.torch.error : `${(bert.torch as TorchResult).imagesPerSecond.toFixed(1)} sequences/s on ${(bert.torch as TorchResult).device}`}`);
  }
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
  if (bert) {
    const tiny = opByOpBert(TINY_BERT.batch, TINY_BERT.seqLen, true);
    bert.wasmHost = await host(tiny);
    tiny.dispose();
    if (!values['no-full']) {
      const r = opByOpBert(wasmBertBatch, seqLen, false);
      bert.wasmFull = await full(r, wasmBertBatch);
      r.dispose();
      writePartial();
    }
    console.log(`bert-mini wasm op-by-op, batch ${wasmBertBatch} × ${seqLen}: ${bert.wasmFull?.imagesPerSecond.toFixed(2) ?? 'n/a'} sequences/s; host ${bert.wasmHost.medianIssueMs.toFixed(1)} ms/step (tiny graph)`);
  }
}

const date = new Date().toISOString();
const loads = loadSamples.map((s) => s.loadavg[0]!);
const report = {
  benchmark: 'perf-compiled-step', date, label: label ?? null,
  options: {
    depths, batch, steps, hostSteps, wasmBatch, tiny: TINY, sgd: SGD, learningRate: LR,
    ...(values.bert ? { bert: { seqLen, bertBatch, wasmBertBatch, tiny: TINY_BERT, adamw: ADAMW, learningRate: BERT_LR } } : {}),
  },
  machine: {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    load: { min1Min: Math.min(...loads), max1Min: Math.max(...loads), samples: loadSamples },
  },
  webgpu: engine, wasm: wasmEngine, webgpuErrors, hostRawDispatch: raw, results, bert,
};
const out = (values.out as string | undefined) ?? join(import.meta.dirname, 'results', `compiled-step-${date.slice(0, 10)}${label ? `-${label}` : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
if (bert) rmSync(partialOut, { force: true });

const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const adapter = engine.adapter ? `${engine.adapter.software ? 'SOFTWARE adapter (a CPU rasterizer, not a GPU speed figure): ' : ''}${engine.adapter.description}` : engine.device;
console.log(`\n### Compiled step vs op-by-op, tfjs ${engine.versions.tfjs} webgpu on ${adapter}\n`);
console.log(`${report.machine.cpu}, ${report.machine.cores} cores, load (1 min) ${f(report.machine.load.min1Min, 2)}–${f(report.machine.load.max1Min, 2)}; ${date}\n`);
if (results.length > 0) {
  console.log('| model | path | GPU dispatches/step | submits/step | host ms/step (tiny graph) | of it: prepare / encode / submit | img/s at batch ' + batch + ' (software GPU) | wasm img/s at batch ' + wasmBatch + ' |');
  console.log('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |');
}
for (const r of results) {
  console.log(`| ResNet-${r.depth} | tfjs op-by-op | ${r.tfjsHost.counts.gpuDispatches} | ${r.tfjsHost.counts.gpuSubmits} | ${f(r.tfjsHost.medianIssueMs)} | — | ${f(r.tfjsFull?.imagesPerSecond, 2)} | ${f(r.wasmFull?.imagesPerSecond)} (host ${f(r.wasmHost?.medianIssueMs)} ms) |`);
  if (r.torch && 'imagesPerSecond' in r.torch) {
    console.log(`| ResNet-${r.depth} | PyTorch ${r.torch.torch} eager on ${r.torch.device} | — | — | — | — | ${f(r.torch.imagesPerSecond, 2)}${r.compiledOverTorch !== undefined ? ` (compiled: ${f(100 * r.compiledOverTorch)} % of it)` : ''} | — |`);
  }
  const p = r.compiledHost.parts!;
  console.log(`| ResNet-${r.depth} | compiled | ${r.compiledHost.compiledDispatches} (+ ${r.compiledHost.counts.gpuDispatches} by tfjs) | 1 (+ ${r.compiledHost.counts.gpuSubmits} by tfjs) | ${f(r.compiledHost.medianIssueMs, 2)} | ${f(p.prepareMs, 2)} / ${f(p.encodeMs, 2)} / ${f(p.submitMs, 2)} | ${f(r.compiledFull?.imagesPerSecond, 2)} | — |`);
  const g = r.gradientHost;
  console.log(`| ResNet-${r.depth} gradient read | tfjs op-by-op | ${g.tfjs.counts.gpuDispatches} | ${g.tfjs.counts.gpuSubmits} | ${f(g.tfjs.medianIssueMs)} | — | — | — |`);
  console.log(`| ResNet-${r.depth} gradient read | compiled, gradients() | ${g.compiled.compiledDispatches} (+ ${g.compiled.counts.gpuDispatches} by tfjs) | 2: step, gradient copies (+ ${g.compiled.counts.gpuSubmits} by tfjs) | ${f(g.compiled.medianIssueMs, 2)} | ${f(g.compiled.parts!.prepareMs, 2)} / ${f(g.compiled.parts!.encodeMs, 2)} / ${f(g.compiled.parts!.submitMs, 2)} | — | — |`);
}
if (bert) {
  console.log(`\nBERT-mini, seq ${seqLen}, AdamW; op by op: ${bert.opByOpKernelsReference} tfjs kernels per forward + backward (2026-12-01)\n`);
  console.log(`| path | GPU dispatches/step | pipelines | host ms/step (tiny graph) | of it: prepare / encode / submit | sequences/s at batch ${bertBatch} (software GPU) | wasm sequences/s at batch ${wasmBertBatch} |`);
  console.log('| --- | ---: | ---: | ---: | --- | ---: | ---: |');
  console.log(`| tfjs op-by-op | ${bert.tfjsHost.counts.gpuDispatches} | — | ${f(bert.tfjsHost.medianIssueMs)} | — | ${f(bert.tfjsFull?.imagesPerSecond, 2)} | ${f(bert.wasmFull?.imagesPerSecond, 2)} (host ${f(bert.wasmHost?.medianIssueMs)} ms) |`);
  if (bert.torch && 'imagesPerSecond' in bert.torch) {
    console.log(`| PyTorch ${bert.torch.torch} eager on ${bert.torch.device} | — | — | — | — | ${f(bert.torch.imagesPerSecond, 2)}${bert.compiledOverTorch !== undefined ? ` (compiled: ${f(100 * bert.compiledOverTorch)} % of it)` : ''} | — |`);
  }
  const p = bert.compiledHost.parts!;
  console.log(`| compiled | ${bert.compiledHost.compiledDispatches} (+ ${bert.compiledHost.counts.gpuDispatches} by tfjs) | ${bert.compiledHost.pipelines} | ${f(bert.compiledHost.medianIssueMs, 2)} | ${f(p.prepareMs, 2)} / ${f(p.encodeMs, 2)} / ${f(p.submitMs, 2)} | ${f(bert.compiledFull?.imagesPerSecond, 2)} | — |`);
  const g = bert.gradientHost;
  console.log(`| gradient read, tfjs op-by-op | ${g.tfjs.counts.gpuDispatches} | — | ${f(g.tfjs.medianIssueMs)} | — | — | — |`);
  console.log(`| gradient read, compiled gradients() | ${g.compiled.compiledDispatches} (+ ${g.compiled.counts.gpuDispatches} by tfjs) | ${g.compiled.pipelines} | ${f(g.compiled.medianIssueMs, 2)} | ${f(g.compiled.parts!.prepareMs, 2)} / ${f(g.compiled.parts!.encodeMs, 2)} / ${f(g.compiled.parts!.submitMs, 2)} | — | — |`);
}
console.log(`\nwritten: ${out}`);
