/**
 * Where one training step's kernels and GPU dispatches come from (issue 16): the step of throughput.ts's
 * resnet*-train / bert-mini-train cases counted by phase with dispatch-counter.ts, on one backend.
 *
 *   forward     `model.forward(x, { training: true })` + the running-statistics update (ResNet), logits disposed
 *   + backward  `lossTensorAndGradients` (forward, loss, gradients of every parameter) + the loss read
 *   + optimizer `trainStep` (the above + SGD momentum 0.9, weight decay 5e-4, for every parameter)
 *   batch norm  (ResNet) one `batchNormTraining` layer, forward and backward (tf.grads with a given dy) plus its
 *               `updatedRunningStats`, on the first stage's shape, times the number of batch-norm layers
 * and, of the whole step, the kernels by category: convolutions (Conv2D and its two gradients), matmuls, the rest.
 * Every phase is counted on its second call (the first creates momentum buffers and compiles shaders).
 *
 *   npx tsx benchmarks/perf/step-dispatches.ts [--backend wasm] [--model resnet20|resnet56|bert-mini] [--batch 16]
 *       [--out file.json]
 * Writes JSON (default benchmarks/perf/results/step-dispatches-<backend>-<model>-<date>.json) and prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initEngine, parseBackendRequest, SeededRng } from '@prunebench/engine';
import * as models from '@prunebench/models';
import { createMaskedOptimizer, lossTensorAndGradients, trainStep, type Batch } from '@prunebench/pruning';
import { countDispatches, type DispatchCounts } from './dispatch-counter.js';

function usageError(message: string): never {
  console.error(`step-dispatches: ${message}\n(options: see the header of benchmarks/perf/step-dispatches.ts)`);
  process.exit(2);
}
let values: { backend?: string; model?: string; batch?: string; out?: string };
try {
  values = parseArgs({
    options: { backend: { type: 'string' }, model: { type: 'string' }, batch: { type: 'string' }, out: { type: 'string' } },
    strict: true, allowPositionals: false,
  }).values;
} catch (error) {
  usageError(error instanceof Error ? error.message : String(error));
}
const modelName = values.model ?? 'resnet20';
if (!['resnet20', 'resnet56', 'bert-mini'].includes(modelName)) usageError(`--model: expected resnet20, resnet56 or bert-mini, got '${modelName}'`);
const batch = Number(values.batch ?? 16);
if (!Number.isInteger(batch) || batch <= 0) usageError(`--batch must be a positive integer, got '${values.batch}'`);

const engine = await initEngine({ backend: parseBackendRequest(values.backend ?? 'wasm', '--backend') });
const rng = new SeededRng(0);
const bert = modelName === 'bert-mini';
const model = bert ? models.createBert(models.bertMiniArch(2), { seed: 0 }) : models.createResNetCifar(modelName === 'resnet56' ? 56 : 20, { seed: 0 });
const seqLen = 128;
const inputs = bert
  ? { input_ids: tf.tensor2d(Int32Array.from({ length: batch * seqLen }, () => 1 + rng.int(30_000)), [batch, seqLen], 'int32'), attention_mask: tf.ones([batch, seqLen], 'int32') }
  : tf.tensor4d(rng.normalArray(batch * 32 * 32 * 3), [batch, 32, 32, 3]);
const labels = tf.tensor1d(Int32Array.from({ length: batch }, () => rng.int(bert ? 2 : 10)), 'int32');
const data: Batch = { inputs, labels, size: batch };
const optimizer = createMaskedOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 }, { compiled: 'never' });

/** Counts `fn`'s second call. */
async function countSecond(fn: () => unknown): Promise<DispatchCounts> {
  await fn();
  return (await countDispatches(fn)).counts;
}
const phases: Record<string, DispatchCounts> = {};
phases.forward = await countSecond(() => tf.dispose(model.forward(inputs as never, { training: true })));
phases.forwardBackward = await countSecond(async () => {
  const { loss, grads } = lossTensorAndGradients(model, data);
  tf.dispose([...grads.values()]);
  await loss.data();
  loss.dispose();
});
phases.step = await countSecond(() => trainStep(model, data, optimizer, { learningRate: 0.01 }));

let batchNorm: { layers: number; perLayer: DispatchCounts } | null = null;
if (!bert) {
  const layers = [...model.params.keys()].filter((k) => /bn\d*\.weight$|\.bn\d+\.weight$/.test(k)).length;
  const x = tf.randomNormal([batch, 32, 32, 16], 0, 1, 'float32', 3) as tf.Tensor4D;
  const dy = tf.randomNormal([batch, 32, 32, 16], 0, 1, 'float32', 4) as tf.Tensor4D;
  const gamma = tf.ones([16]) as tf.Tensor1D, beta = tf.zeros([16]) as tf.Tensor1D;
  const runningMean = tf.zeros([16]) as tf.Tensor1D, runningVar = tf.ones([16]) as tf.Tensor1D;
  const perLayer = await countSecond(async () => {
    let stats: tf.Tensor[] = [];
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const out = models.batchNormTraining(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D);
      stats = [out.mean, out.variance];
      return out.y;
    })([x, gamma, beta], dy);
    const updated = models.updatedRunningStats(runningMean, runningVar, stats[0] as tf.Tensor1D, stats[1] as tf.Tensor1D, batch * 32 * 32);
    const last = grads[0]!;
    await last.data();
    tf.dispose([...grads, ...stats, updated.mean, updated.variance]);
  });
  tf.dispose([x, dy, gamma, beta, runningMean, runningVar]);
  batchNorm = { layers, perLayer };
}

const category = (kernel: string) =>
  /^(Conv2D|Conv2DBackpropFilter|Conv2DBackpropInput|FusedConv2D|DepthwiseConv2dNative.*)$/.test(kernel) ? 'convolution'
    : /^(BatchMatMul|_FusedMatMul|MatMul)$/.test(kernel) ? 'matmul'
      : /BatchNorm/.test(kernel) ? 'batch norm (fused kernels)'
        : kernel === 'Identity' ? 'Identity (tape copies, clones)'
          : 'other (element-wise, reductions, reshapes, …)';
function byCategory(counts: Record<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(counts ?? {})) out[category(k)] = (out[category(k)] ?? 0) + n;
  return out;
}

const date = new Date().toISOString();
const gpu = phases.step!.gpuDispatches !== undefined;
const report = {
  benchmark: 'perf-step-dispatches', date, model: modelName, batch, seqLen: bert ? seqLen : null,
  machine: { cpu: os.cpus()[0]?.model?.trim() ?? 'unknown', cores: os.cpus().length, loadavg: os.loadavg() },
  tfjs: engine, phases, batchNorm,
  stepByCategory: { kernels: byCategory(phases.step!.byKernel), gpuDispatches: gpu ? byCategory(phases.step!.gpuDispatchesByKernel) : null },
};
const out = values.out ?? join(import.meta.dirname, 'results', `step-dispatches-${engine.backend}-${modelName}-${date.slice(0, 10)}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');

const f = phases.forward!, fb = phases.forwardBackward!, s = phases.step!;
const cell = (c: DispatchCounts | undefined, key: 'kernels' | 'gpuDispatches', minus?: DispatchCounts) =>
  c === undefined || c[key] === undefined ? 'n/a' : String(c[key]! - (minus?.[key] ?? 0));
console.log(`\n### Kernels${gpu ? ' and GPU dispatches' : ''} of one ${modelName} training step, batch ${batch}, tfjs ${engine.backend} (${engine.device})\n`);
console.log(`| part | kernels |${gpu ? ' GPU dispatches |' : ''}`);
console.log(`| --- | ---: |${gpu ? ' ---: |' : ''}`);
const row = (name: string, c: DispatchCounts, minus?: DispatchCounts) =>
  console.log(`| ${name} | ${cell(c, 'kernels', minus)} |${gpu ? ` ${cell(c, 'gpuDispatches', minus)} |` : ''}`);
row('forward (training mode, running-stat update)', f);
row('loss + backward + loss read', fb, f);
row('optimizer (SGD momentum + weight decay, all parameters)', s, fb);
row('**whole step**', s);
if (batchNorm) {
  const k = batchNorm.perLayer.kernels, d = batchNorm.perLayer.gpuDispatches;
  console.log(`| of which batch norm: ${batchNorm.layers} layers × (${k} kernels${gpu ? `, ${d} dispatches` : ''} forward+backward+running stats) | ${batchNorm.layers * k} |${gpu ? ` ${batchNorm.layers * d!} |` : ''}`);
}
const kc = report.stepByCategory.kernels, dc = report.stepByCategory.gpuDispatches;
for (const c of Object.keys(kc).sort()) console.log(`| of the step: ${c} | ${kc[c]} |${gpu ? ` ${dc?.[c] ?? 0} |` : ''}`);
if (gpu) console.log(`\nqueue submits in the step: ${s.gpuSubmits}`);
console.log(`\nwritten: ${out}`);
