/**
 * Training and evaluation throughput of prunebench's models on a tfjs backend, with PyTorch measured side by
 * side in the same command (benchmarks/perf/torch_reference.py, kept running as a child process).
 *
 * Cases (tfjs side as prunebench runs them op by op; the compiled step, which the trainer uses on a hardware GPU
 * adapter, is measured by compiled-step.ts):
 *   resnet20-train, resnet56-train  `trainStep` (SGD) (the harness trainer's step: forward with batch norm in
 *                                   training mode + running-stat update, backward, SGD momentum 0.9, weight
 *                                   decay 5e-4), batch --train-batch (128) random images; images/s
 *   resnet20-eval, resnet56-eval    `model.forward(x, { training: false })` + read back, batch --eval-batch; images/s
 *   bert-mini-train                 `trainStep` (SGD) on BERT-mini (4 layers, hidden 256, 4 heads, FFN 1024,
 *                                   vocabulary 30,522), batch --bert-batch sequences of length 128; sequences/s
 *   resnet20-train-2workers         (wasm) two-core ceiling: two worker_threads with a wasm backend each run
 *                                   resnet20-train on half of --train-batch at the same time, exchanging nothing;
 *                                   not a trainer, the upper bound data-parallel training could reach (not counted)
 * Data loading and augmentation are left out on both sides: inputs are fixed random tensors.
 *
 * Per case and backend it also reports what a step issues and what issuing it costs the host (issue 16):
 *   kernels/step          tfjs kernel executions in one step: every kernel-registry call through the tfjs engine
 *                         (what tf.profile lists, less its tf.customGrad scopes), counted by dispatch-counter.ts on
 *                         one untimed full-size step after the warm-up. On wasm and cpu each one is the work itself.
 *   GPU dispatches/step   webgpu only: compute dispatches recorded in that step (calls of tfjs-backend-webgpu's
 *                         WebGPUBackend.recordAndSubmit, one dispatchWorkgroups each), plus in the JSON the queue
 *                         submits (submitQueue calls) and the dispatches by kernel. Some kernels record none (reshapes,
 *                         small host-side inputs run on the CPU), some several.
 *   host ms/step          the host's cost of issuing one step when the kernels themselves are trivial: the same model
 *                         graph and step (same layers, optimizer, reads) at trivial sizes — ResNet at batch 1 on 8×8
 *                         images, BERT at batch 1 × 8 tokens with hidden 8, FFN 8, vocabulary 128 (TINY_RESNET,
 *                         TINY_BERT) — timed from the call until it returns its promise, i.e. every op recorded (and
 *                         on webgpu encoded and submitted) and the step's one read requested; the median of
 *                         --host-steps (5) steps after two untimed ones. The wait for the result is not in it (the
 *                         JSON has it as doneMs). On wasm/cpu the trivial kernels' own arithmetic is inside it; on
 *                         webgpu the GPU's work is not, so the figure holds on a software adapter. The tiny step's
 *                         counts are in the JSON (host.dispatches); the table shows them where they differ from the
 *                         full step's. host µs/kernel = host ms/step / the tiny step's kernels. For scale, the run
 *                         also times a chain of 1,000 tf.add on [8, 8] (hostOpChain) and, on webgpu, 1,000 raw
 *                         dispatches of a trivial shader in one pass below tfjs (hostRawDispatch: what a compiled
 *                         step would pay per dispatch). --no-host skips all of these.
 *
 * Interleaving: every repetition times tfjs and torch (threads = cores, and 1 thread) back to back, the order
 * alternating between repetitions, so machine noise (shared cores) hits both sides alike. Reported: the median
 * over repetitions of each side's mean step time; ratio = tfjs / torch(cores threads) throughput.
 *
 *   npx tsx benchmarks/perf/throughput.ts [--backend wasm] [--quick] [--reps 3] [--steps 2]
 *       [--cases resnet20-train,resnet20-eval,...] [--label before] [--out file.json] [--python /usr/bin/python3]
 *       [--train-batch 128] [--eval-batch 250] [--bert-batch 32] [--no-torch] [--torch-blas-dir DIR] [--torch-device auto|cpu|cuda]
 *       [--baseline] [--host-steps 5] [--no-host]
 * (node:util parseArgs, strict: an unknown option, a missing value or a value given to a flag exits 2.)
 *
 * --baseline (wasm): every repetition also times tfjs with the wasm kernel set prunebench had before the fused
 * batch-norm, Slice, Sum and Transpose kernels (BASELINE_WASM_KERNELS; batch norm then takes the composite path), switching the
 * kernel registry back and forth, so before and after are measured under the same load. (The batched path
 * of BatchMatMul is inside a kernel both sets share, so BERT's gain from it shows only between separate runs.)
 *
 * --torch-blas-dir (or $PRUNEBENCH_TORCH_BLAS_DIR) puts DIR first on the torch child's LD_LIBRARY_PATH: Debian's
 * python3-torch is built with BLAS_INFO=generic and links libblas.so.3, which is the netlib reference BLAS
 * (~3 GFLOP/s) unless an optimised one is installed; pointing it at OpenBLAS's libblas.so.3 (Debian's
 * libopenblas0-pthread) makes its linear layers ~10x faster. Convolutions go through oneDNN either way.
 * The BLAS library torch loaded is recorded in the JSON (torch.blas).
 *
 * Writes JSON (machine, load average, backend and versions, every timing) to --out, default
 * benchmarks/perf/results/throughput-<backend>[-<label>]-<date>.json, and prints a Markdown table.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import {
  initEngine, parseBackendRequest, registerWasmTrainingKernels, SeededRng, unregisterWasmTrainingKernels, type EngineInfo,
} from '@prunebench/engine';
import * as models from '@prunebench/models';
import { createMaskedOptimizer, trainStep, type Batch } from '@prunebench/pruning';
import { countDispatches, rawWebgpuDispatchUs, timeIssue, tinyOpChainUs, type DispatchCounts } from './dispatch-counter.js';

// ------------------------------------------------------------------ options

/** Bad arguments end the run before anything is measured or written: message, usage, exit code 2. */
function usageError(message: string): never {
  console.error(`throughput: ${message}\n(options: see the header of benchmarks/perf/throughput.ts)`);
  process.exit(2);
}
const VALUE_OPTIONS = ['backend', 'bert-batch', 'cases', 'eval-batch', 'host-steps', 'label', 'out', 'python', 'reps', 'steps',
  'torch-blas-dir', 'torch-device', 'train-batch'] as const;
const FLAG_OPTIONS = ['baseline', 'no-host', 'no-torch', 'quick'] as const;
let parsed: ReturnType<typeof parseArgs>['values'];
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    options: Object.fromEntries([
      ...VALUE_OPTIONS.map((name) => [name, { type: 'string' as const }]),
      ...FLAG_OPTIONS.map((name) => [name, { type: 'boolean' as const }]),
    ]),
    strict: true,
    allowPositionals: false,
  }).values;
} catch (error) {
  // parseArgs names the argument: unknown option, a value missing or given to a flag, a stray positional.
  usageError(error instanceof Error ? error.message : String(error));
}
function option(name: (typeof VALUE_OPTIONS)[number]): string | undefined {
  const value = parsed[name];
  return typeof value === 'string' ? value : undefined;
}
function intOption(name: (typeof VALUE_OPTIONS)[number], fallback: number): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) usageError(`--${name} must be a positive integer, got '${raw}'`);
  return value;
}
const flag = (name: (typeof FLAG_OPTIONS)[number]) => parsed[name] === true;

const ALL_CASES = ['resnet20-train', 'resnet56-train', 'resnet20-eval', 'resnet56-eval', 'bert-mini-train', 'resnet20-train-2workers'] as const;
type CaseName = (typeof ALL_CASES)[number];

const quick = flag('quick');
const reps = intOption('reps', quick ? 1 : 3);
const stepsPerRep = intOption('steps', 1);
const evalBatch = intOption('eval-batch', 250);
const bertBatch = intOption('bert-batch', 32);
const seqLen = 128;
const trainBatch = intOption('train-batch', 128);
/** Timed tiny-graph steps per case for the host time (see the header); --no-host skips the measurement. */
const hostSteps = intOption('host-steps', 5);
const withHost = !flag('no-host');
const withTorch = !flag('no-torch');
/** wasm: also time the kernel set prunebench had before issue 10's kernels (fused batch norm, Slice, Sum, Transpose), interleaved. */
const withBaseline = flag('baseline');
const BASELINE_WASM_KERNELS = ['Conv2DBackpropFilter', 'UnsortedSegmentSum', 'Conv2DBackpropInput', 'BatchMatMul', '_FusedMatMul'];
const label = option('label');
const cases = (option('cases')?.split(',') ?? [...ALL_CASES]).map((name) => {
  if (!(ALL_CASES as readonly string[]).includes(name)) usageError(`--cases: unknown case '${name}'; known: ${ALL_CASES.join(', ')}`);
  return name as CaseName;
});
const cores = os.cpus().length;

// ------------------------------------------------------------------ the torch side

interface TorchAnswer { case: string; seconds: number[]; threads: number; error?: string }

/** torch_reference.py --serve as a child: one JSON request per line in, one answer per line out. */
class TorchReference {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcessWithoutNullStreams, readonly hello: Record<string, unknown>, lines: AsyncIterator<string>) {
    this.lines = lines;
  }

  static async start(python: string, blasDir: string | undefined, device: string): Promise<TorchReference> {
    const script = join(import.meta.dirname, 'torch_reference.py');
    const env = { ...process.env };
    if (blasDir) env.LD_LIBRARY_PATH = [blasDir, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    const child = spawn(python, [script, '--serve', '--threads', String(cores), '--device', device], { stdio: ['pipe', 'pipe', 'pipe'], env });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`[torch] ${chunk.toString()}`));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error(`${python} ${script} exited before it was ready`);
    return new TorchReference(child, JSON.parse(first.value) as Record<string, unknown>, lines);
  }

  async run(request: Record<string, unknown>): Promise<TorchAnswer> {
    this.child.stdin.write(JSON.stringify(request) + '\n');
    const next = await this.lines.next();
    if (next.done) throw new Error('torch_reference.py exited');
    const answer = JSON.parse(next.value) as TorchAnswer;
    if (answer.error) throw new Error(`torch_reference.py: ${answer.error}`);
    return answer;
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** The first python that imports torch: --python, $PRUNEBENCH_TORCH_PYTHON, then Debian's /usr/bin/python3, then python3. */
function findTorchPython(): { python: string; torch: string } | { error: string } {
  const candidates = [option('python'), process.env.PRUNEBENCH_TORCH_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) return { python, torch: probe.stdout.trim() };
  }
  return { error: `no python with torch among ${candidates.join(', ')} (Debian: apt-get install python3-torch)` };
}

// ------------------------------------------------------------------ the tfjs side

interface TfjsCase {
  /** Examples per step (images or sequences). */
  batch: number;
  /** Runs one step and waits for its result. */
  step: () => void | Promise<void>;
  dispose: () => void;
}

const rng = new SeededRng(0);
/** Inputs of the tiny-graph variants come from their own stream, so the full cases get the inputs they always had. */
const tinyRng = new SeededRng(1);

/**
 * The host-time variant of a case ("tiny graph"): the same model graph and step — the same layers, hence the
 * same kernels — at sizes where every kernel is trivial. ResNet: the same depth and widths, batch 1, 8×8 images
 * (the three stages at 8×8, 4×4, 2×2; at 1×1 batch norm would skip its unbiased-variance factor, one value per
 * channel, and the graph would differ). BERT: 4 layers of 4 heads as BERT-mini, but hidden 8 (head size 2),
 * FFN 8, a 128-token vocabulary, batch 1, 8 tokens (the full model's embedding table alone is 7.8 M weights,
 * which its SGD update would have to touch).
 */
const TINY_RESNET = { batch: 1, hw: 8 };
const TINY_BERT = { batch: 1, seqLen: 8, arch: { layers: 4, hidden: 8, heads: 4, intermediate: 8, vocabSize: 128 } };

function resnetCase(depth: number, train: boolean, tiny = false): TfjsCase {
  const batch = tiny ? TINY_RESNET.batch : train ? trainBatch : evalBatch;
  const hw = tiny ? TINY_RESNET.hw : 32;
  const r = tiny ? tinyRng : rng;
  const model = models.createResNetCifar(depth, { seed: 0 });
  const inputs = tf.tensor4d(r.normalArray(batch * hw * hw * 3), [batch, hw, hw, 3]);
  const labels = tf.tensor1d(Int32Array.from({ length: batch }, () => r.int(10)), 'int32');
  const optimizer = createMaskedOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 }, { compiled: 'never' });
  const batchData: Batch = { inputs, labels, size: batch };
  const step = train
    ? async () => { await trainStep(model, batchData, optimizer, { learningRate: 0.01 }); }
    : async () => {
      const logits = model.forward(inputs, { training: false });
      await logits.data();
      logits.dispose();
    };
  return { batch, step, dispose: () => { tf.dispose([inputs, labels]); optimizer.dispose(); model.dispose(); } };
}

/** BERT-mini from @prunebench/models (or its tiny-graph variant), or why it is not available. */
function bertCase(tiny = false): TfjsCase | { unavailable: string } {
  const m = models as unknown as Record<string, unknown>;
  const createBert = m.createBert as ((arch: unknown, options?: { seed?: number }) => models.Model) | undefined;
  const bertMiniArch = m.bertMiniArch as ((numLabels?: number) => unknown) | undefined;
  const bertArch = m.bertArch as ((sizes: Record<string, number>) => unknown) | undefined;
  if (typeof createBert !== 'function' || typeof bertMiniArch !== 'function' || typeof bertArch !== 'function') {
    return { unavailable: '@prunebench/models exports no createBert/bertMiniArch/bertArch' };
  }
  const batch = tiny ? TINY_BERT.batch : bertBatch;
  const length = tiny ? TINY_BERT.seqLen : seqLen;
  const r = tiny ? tinyRng : rng;
  const model = createBert(tiny ? bertArch({ ...TINY_BERT.arch, numLabels: 2 }) : bertMiniArch(2), { seed: 0 });
  const ids = tf.tensor2d(Int32Array.from({ length: batch * length }, () => 1 + r.int(tiny ? TINY_BERT.arch.vocabSize - 1 : 30_000)), [batch, length], 'int32');
  const mask = tf.ones([batch, length], 'int32');
  const labels = tf.tensor1d(Int32Array.from({ length: batch }, () => r.int(2)), 'int32');
  const optimizer = createMaskedOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 }, { compiled: 'never' });
  const batchData: Batch = { inputs: { input_ids: ids, attention_mask: mask }, labels, size: batch };
  return {
    batch,
    step: async () => { await trainStep(model, batchData, optimizer, { learningRate: 0.01 }); },
    dispose: () => { tf.dispose([ids, mask, labels]); optimizer.dispose(); model.dispose(); },
  };
}

/**
 * Two-core ceiling (wasm only): two worker_threads, each with its own wasm backend and ResNet-20, each doing
 * `trainStep` (SGD) on half the batch at the same time; a "step" is both finishing. The workers never exchange
 * gradients (see throughput-worker.ts), so this is what data-parallel training on two cores could reach at
 * best, not something prunebench's trainer does.
 */
async function twoWorkerCase(depth: number): Promise<TfjsCase | { unavailable: string }> {
  if (engine.backend !== 'wasm') return { unavailable: 'the two-worker ceiling is measured for wasm only' };
  const { Worker } = await import('node:worker_threads');
  // The worker is TypeScript: a small module registers tsx's loader in the worker thread (the parent's tsx hooks
  // do not carry over to worker_threads on Node 20), then imports it.
  const bootstrap = [
    `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};`,
    `register();`,
    `await import(${JSON.stringify(new URL('./throughput-worker.ts', import.meta.url).href)});`,
  ].join('\n');
  const workers = [0, 1].map((k) => new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), {
    workerData: { depth, batch: trainBatch / 2, seed: k },
    // One XNNPACK thread per worker: the two workers are the two cores' threads.
    env: { ...process.env, PRUNEBENCH_WASM_THREADS: '1' },
  }));
  const next = (w: InstanceType<typeof Worker>) => new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  });
  await Promise.all(workers.map(next)); // 'ready', after each worker's warm-up step
  return {
    batch: trainBatch,
    step: async () => {
      const done = workers.map(next);
      for (const w of workers) w.postMessage({ steps: 1 });
      await Promise.all(done);
    },
    dispose: () => { for (const w of workers) w.postMessage('exit'); },
  };
}

async function makeTfjsCase(name: CaseName, tiny = false): Promise<TfjsCase | { unavailable: string }> {
  try {
    switch (name) {
      case 'resnet20-train-2workers': return tiny ? { unavailable: 'runs in worker threads: not counted' } : await twoWorkerCase(20);
      case 'resnet20-train': return resnetCase(20, true, tiny);
      case 'resnet56-train': return resnetCase(56, true, tiny);
      case 'resnet20-eval': return resnetCase(20, false, tiny);
      case 'resnet56-eval': return resnetCase(56, false, tiny);
      case 'bert-mini-train': return bertCase(tiny);
    }
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message : String(error) };
  }
}

async function timeTfjs(c: TfjsCase, steps: number): Promise<number[]> {
  const seconds: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await c.step();
    seconds.push((performance.now() - t0) / 1000);
  }
  return seconds;
}

// ------------------------------------------------------------------ measuring

interface SideResult {
  /** Mean seconds per step of each repetition. */
  repSeconds: number[];
  /** Every step's seconds, by repetition. */
  stepSeconds: number[][];
  /** batch / median(repSeconds). */
  perSecond: number;
  threads?: number;
  unavailable?: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function summarize(batch: number, stepSeconds: number[][], threads?: number): SideResult {
  const repSeconds = stepSeconds.map(mean);
  return { repSeconds, stepSeconds, perSecond: batch / median(repSeconds), ...(threads !== undefined ? { threads } : {}) };
}

const backendRequest = parseBackendRequest(option('backend') ?? 'wasm', '--backend');
const engine: EngineInfo = await initEngine({ backend: backendRequest });
const torchPython = withTorch ? findTorchPython() : { error: 'disabled with --no-torch' };
const torchBlasDir = option('torch-blas-dir') ?? process.env.PRUNEBENCH_TORCH_BLAS_DIR;
// auto: CUDA where torch sees a GPU (the GPU machine), else CPU.
const torchDevice = option('torch-device') ?? 'auto';
if (!['auto', 'cpu', 'cuda'].includes(torchDevice)) usageError(`--torch-device: expected auto, cpu or cuda, got '${torchDevice}'`);
const torch = 'python' in torchPython ? await TorchReference.start(torchPython.python, torchBlasDir, torchDevice) : null;
if (!torch) console.warn(`torch reference not measured: ${'error' in torchPython ? torchPython.error : ''}`);

const loadSamples: { at: string; loadavg: number[] }[] = [];
const sampleLoad = () => loadSamples.push({ at: new Date().toISOString(), loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) });
sampleLoad();
console.log(`machine: ${engine.device}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`tfjs ${engine.versions.tfjs} ${engine.backend} (${engine.versions.backendPackage}, threads ${engine.threads ?? '?'}); node ${engine.versions.node}; ` +
  (torch ? `torch ${String(torch.hello.torch)} on ${String(torch.hello.device)} (${torchPython && 'python' in torchPython ? torchPython.python : ''}, ${String(torch.hello.parallel)})` : 'no torch'));
console.log(`${reps} repetitions x ${stepsPerRep} steps per side, interleaved${quick ? ' (--quick)' : ''}\n`);

interface CaseResult {
  case: CaseName;
  unit: 'images/s' | 'sequences/s';
  batch: number;
  tfjs: SideResult;
  /** tfjs with BASELINE_WASM_KERNELS (--baseline). */
  tfjsBaseline?: SideResult;
  /** tfjs / tfjsBaseline throughput. */
  speedup?: number;
  torch?: SideResult;
  torch1?: SideResult;
  /** tfjs / torch (threads = cores) throughput. */
  ratio?: number;
  ratio1?: number;
  /** What one full-size tfjs step issues, counted on an untimed step after the warm-up (dispatch-counter.ts). */
  dispatches?: DispatchCounts;
  /** Host time per step, from the tiny-graph variant (see the header); absent with --no-host. */
  host?: HostResult;
}

interface HostResult {
  /** The tiny variant's sizes. */
  batch: number;
  input: string;
  /** What one tiny step issues: compare with the full step's counts (equal kernels = the same graph). */
  dispatches: DispatchCounts;
  /** Every timed tiny step: ms until the step was issued, and until its result was read. */
  issueMs: number[];
  doneMs: number[];
  /** Host ms per step: median of issueMs. */
  medianIssueMs: number;
  medianDoneMs: number;
  /** medianIssueMs / dispatches.kernels, in µs. */
  usPerKernel: number;
  unavailable?: string;
}

/** The tiny-graph host time of a case (nothing else runs meanwhile): two untimed steps, one counted, then hostSteps timed. */
async function measureHost(name: CaseName): Promise<HostResult> {
  const input = name.startsWith('bert')
    ? `${TINY_BERT.batch}×${TINY_BERT.seqLen} tokens, hidden ${TINY_BERT.arch.hidden}, FFN ${TINY_BERT.arch.intermediate}, vocabulary ${TINY_BERT.arch.vocabSize}`
    : `${TINY_RESNET.batch}×${TINY_RESNET.hw}×${TINY_RESNET.hw}×3`;
  const batch = name.startsWith('bert') ? TINY_BERT.batch : TINY_RESNET.batch;
  const empty: DispatchCounts = { kernels: 0, nestedKernels: 0, byKernel: {} };
  const tiny = await makeTfjsCase(name, true);
  if ('unavailable' in tiny) return { batch, input, dispatches: empty, issueMs: [], doneMs: [], medianIssueMs: NaN, medianDoneMs: NaN, usPerKernel: NaN, unavailable: tiny.unavailable };
  try {
    // The first step creates the momentum buffers (fewer ops) and compiles shaders; the second is counted.
    await tiny.step();
    const { counts } = await countDispatches(() => tiny.step());
    const t = await timeIssue(() => tiny.step(), hostSteps, 0);
    return {
      batch, input, dispatches: counts, issueMs: t.issueMs, doneMs: t.doneMs, medianIssueMs: t.medianIssueMs, medianDoneMs: t.medianDoneMs,
      usPerKernel: (1000 * t.medianIssueMs) / counts.kernels,
    };
  } finally {
    tiny.dispose();
  }
}

// Host µs per op on this backend, for scale: a chain of tiny adds (dispatch-counter.ts's tinyOpChainUs).
const opChain = withHost ? await tinyOpChainUs(1000, 5) : null;
if (opChain) console.log(`host time per op, ${opChain.n} chained tf.add on [8, 8]: ${opChain.usPerOp.toFixed(1)} µs (median of 5)`);
// webgpu: the host cost of a dispatch below tfjs (a compiled step's floor), for comparison with the per-kernel cost.
const rawDispatch = withHost && engine.backend === 'webgpu' ? await rawWebgpuDispatchUs(1000, 5) : null;
if (rawDispatch) {
  console.log(`host time per raw WebGPU dispatch (${rawDispatch.n} in one pass, one submit): ${rawDispatch.prebuiltUs.toFixed(1)} µs with a prebuilt bind group, ` +
    `${rawDispatch.bindGroupEachUs.toFixed(1)} µs with a new bind group each`);
}
console.log('');

const results: CaseResult[] = [];
for (const name of cases) {
  const unit = name.startsWith('bert') ? 'sequences/s' : 'images/s';
  const batch = name === 'bert-mini-train' ? bertBatch : name.endsWith('-eval') ? evalBatch : trainBatch;
  const tfjsCase = await makeTfjsCase(name);
  // The two-worker ceiling is compared with the same torch training step.
  const torchRequest = { case: name === 'resnet20-train-2workers' ? 'resnet20-train' : name, batch, seqLen, steps: stepsPerRep };
  const torchSteps: number[][] = [], torch1Steps: number[][] = [], tfjsSteps: number[][] = [], baselineSteps: number[][] = [];
  const baseline = withBaseline && engine.backend === 'wasm' && name !== 'resnet20-train-2workers';
  const useKernels = (set: 'current' | 'baseline') => {
    unregisterWasmTrainingKernels();
    registerWasmTrainingKernels(set === 'baseline' ? { only: BASELINE_WASM_KERNELS } : {});
  };
  let torchThreads = cores;
  // Warm-up (first steps build XNNPACK operators / torch's caches), not timed.
  let dispatches: DispatchCounts | undefined;
  if (!('unavailable' in tfjsCase)) {
    await tfjsCase.step();
    if (baseline) { useKernels('baseline'); await tfjsCase.step(); useKernels('current'); }
    // One more untimed step, counted (the first step of a trainer has no momentum buffers yet: fewer ops).
    // Not for the two-worker case, whose kernels run in worker threads.
    if (name !== 'resnet20-train-2workers') dispatches = (await countDispatches(() => tfjsCase.step())).counts;
  }
  if (torch) {
    await torch.run({ ...torchRequest, steps: 0, warmup: 1, threads: cores });
    await torch.run({ ...torchRequest, steps: 0, warmup: 1, threads: 1 });
  }
  for (let rep = 0; rep < reps; rep++) {
    const runTorch = async () => {
      if (!torch) return;
      const a = await torch.run({ ...torchRequest, threads: cores });
      torchThreads = a.threads;
      torchSteps.push(a.seconds);
      torch1Steps.push((await torch.run({ ...torchRequest, threads: 1 })).seconds);
    };
    const runTfjs = async () => {
      if ('unavailable' in tfjsCase) return;
      tfjsSteps.push(await timeTfjs(tfjsCase, stepsPerRep));
      if (baseline) {
        useKernels('baseline');
        baselineSteps.push(await timeTfjs(tfjsCase, stepsPerRep));
        useKernels('current');
      }
    };
    if (rep % 2 === 0) { await runTfjs(); await runTorch(); } else { await runTorch(); await runTfjs(); }
    sampleLoad();
  }
  const tfjs: SideResult = 'unavailable' in tfjsCase
    ? { repSeconds: [], stepSeconds: [], perSecond: NaN, unavailable: tfjsCase.unavailable }
    : summarize(batch, tfjsSteps);
  if (!('unavailable' in tfjsCase)) tfjsCase.dispose();
  const row: CaseResult = { case: name, unit, batch, tfjs, ...(dispatches ? { dispatches } : {}) };
  if (withHost && !tfjs.unavailable && name !== 'resnet20-train-2workers') row.host = await measureHost(name);
  if (baseline && !tfjs.unavailable) {
    row.tfjsBaseline = summarize(batch, baselineSteps);
    row.speedup = tfjs.perSecond / row.tfjsBaseline.perSecond;
  }
  if (torch) {
    row.torch = summarize(batch, torchSteps, torchThreads);
    row.torch1 = summarize(batch, torch1Steps, 1);
    if (!tfjs.unavailable) {
      row.ratio = tfjs.perSecond / row.torch.perSecond;
      row.ratio1 = tfjs.perSecond / row.torch1.perSecond;
    }
  }
  results.push(row);
  const fmt = (s?: SideResult) => (s && !s.unavailable ? s.perSecond.toFixed(1) : 'n/a');
  console.log(`${name}: tfjs ${fmt(tfjs)}${tfjs.unavailable ? ` (${tfjs.unavailable})` : ''}, torch ${fmt(row.torch)} (${torchThreads} threads), torch ${fmt(row.torch1)} (1 thread) ${unit}` +
    (dispatches ? `; ${dispatches.kernels} kernels/step${dispatches.gpuDispatches !== undefined ? `, ${dispatches.gpuDispatches} GPU dispatches, ${dispatches.gpuSubmits} submits` : ''}` : '') +
    (row.host && !row.host.unavailable ? `; host ${row.host.medianIssueMs.toFixed(1)} ms/step (tiny graph: ${row.host.dispatches.kernels} kernels, ${row.host.usPerKernel.toFixed(1)} µs/kernel)` : ''));
}
torch?.close();

// ------------------------------------------------------------------ report

const date = new Date().toISOString();
const loadAverages = loadSamples.map((s) => s.loadavg[0]!);
const report = {
  benchmark: 'perf-throughput',
  date,
  label: label ?? null,
  options: {
    reps, stepsPerRep, trainBatch, evalBatch, bertBatch, seqLen, quick, cases, baseline: withBaseline ? BASELINE_WASM_KERNELS : null,
    host: withHost ? { steps: hostSteps, tinyResnet: TINY_RESNET, tinyBert: TINY_BERT } : null,
  },
  machine: {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    load: { min1Min: Math.min(...loadAverages), max1Min: Math.max(...loadAverages), samples: loadSamples },
  },
  tfjs: engine,
  torch: torch ? { ...torch.hello, ldLibraryPathPrefix: torchBlasDir ?? null, executable: 'python' in torchPython ? torchPython.python : null } : { unavailable: 'error' in torchPython ? torchPython.error : '' },
  /** Host µs per op: 1,000 chained tf.add on [8, 8], issue time / 1,000 (null with --no-host). */
  hostOpChain: opChain,
  /** webgpu: host µs per dispatch below tfjs, 1,000 trivial dispatches in one pass (rawWebgpuDispatchUs); else null. */
  hostRawDispatch: rawDispatch,
  results,
};
const out = option('out') ?? join(import.meta.dirname, 'results', `throughput-${engine.backend}${label ? `-${label}` : ''}-${date.slice(0, 10)}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');

const n = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const ms = (s: SideResult | undefined) => (s && !s.unavailable && s.repSeconds.length ? (1000 * median(s.repSeconds)).toFixed(0) : 'n/a');
const adapterNote = engine.adapter ? ` on ${engine.adapter.software ? 'a SOFTWARE adapter (CPU; not a GPU speed figure): ' : ''}${engine.adapter.description}` : '';
console.log(`\n### Throughput, tfjs ${engine.backend}${adapterNote} vs PyTorch ${torch ? String(torch.hello.device).toUpperCase() : '(not measured)'}${label ? ` (${label})` : ''}\n`);
console.log(`${report.machine.cpu}, ${cores} cores; load average (1 min) ${n(report.machine.load.min1Min, 2)}–${n(report.machine.load.max1Min, 2)} during the run; ` +
  `tfjs ${engine.versions.tfjs} ${engine.versions.backendPackage} (threads ${engine.threads ?? '?'}), node ${engine.versions.node}; ` +
  `torch ${torch ? `${String(torch.hello.torch)} on ${String(torch.hello.device)} (BLAS ${((torch.hello.blas as string[] | undefined) ?? []).map((p) => p.split('/').pop()).join(', ') || '?'})` : 'n/a'}; median of ${reps} interleaved repetitions x ${stepsPerRep} steps; ${date}\n`);
const baselineColumns = results.some((r) => r.tfjsBaseline);
console.log(`| case | batch |${baselineColumns ? ' tfjs, kernels before | ms/step |' : ''} tfjs ${engine.backend} | ms/step |${baselineColumns ? ' speed-up |' : ''} ` +
  `torch ${cores} threads | ms/step | ratio tfjs/torch | torch 1 thread | ratio tfjs/torch-1 | ` +
  `kernels/step | GPU dispatches/step | host ms/step | host µs/kernel |`);
console.log(`| --- | ---: |${baselineColumns ? ' ---: | ---: |' : ''} ---: | ---: |${baselineColumns ? ' ---: |' : ''} ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
/** Kernels of the full step, and the tiny graph's where it differs (then the host time is for a different graph). */
const countCell = (full: number | undefined, tiny: number | undefined) =>
  full === undefined ? 'n/a' : tiny === undefined || tiny === full ? String(full) : `${full} (tiny graph: ${tiny})`;
for (const r of results) {
  const tfjsCell = r.tfjs.unavailable ? `not available (${r.tfjs.unavailable})` : `${n(r.tfjs.perSecond)} ${r.unit}`;
  const baselineCells = baselineColumns ? ` ${r.tfjsBaseline ? n(r.tfjsBaseline.perSecond) : 'n/a'} | ${ms(r.tfjsBaseline)} |` : '';
  const speedupCell = baselineColumns ? ` ${r.speedup === undefined ? 'n/a' : `${r.speedup.toFixed(2)}×`} |` : '';
  console.log(`| ${r.case} | ${r.batch}${r.unit === 'sequences/s' ? `×${seqLen}` : ''} |${baselineCells} ${tfjsCell} | ${ms(r.tfjs)} |${speedupCell} ` +
    `${n(r.torch?.perSecond)} | ${ms(r.torch)} | ` +
    `${r.ratio === undefined ? 'n/a' : `${(100 * r.ratio).toFixed(0)} %`} | ${n(r.torch1?.perSecond)} | ${r.ratio1 === undefined ? 'n/a' : `${(100 * r.ratio1).toFixed(0)} %`} | ` +
    `${countCell(r.dispatches?.kernels, r.host?.dispatches.kernels)} | ${countCell(r.dispatches?.gpuDispatches, r.host?.dispatches.gpuDispatches)} | ` +
    `${r.host && !r.host.unavailable ? n(r.host.medianIssueMs) : 'n/a'} | ${r.host && !r.host.unavailable ? n(r.host.usPerKernel) : 'n/a'} |`);
}
if (withHost) {
  console.log(`\nhost ms/step: median wall time, over ${hostSteps} steps, of issuing one step of the same graph at trivial sizes ` +
    `(ResNet: batch ${TINY_RESNET.batch}, ${TINY_RESNET.hw}×${TINY_RESNET.hw} images; BERT: batch ${TINY_BERT.batch}×${TINY_BERT.seqLen}, hidden ${TINY_BERT.arch.hidden}), ` +
    `from the call until every op is issued and the step's one read requested; host µs/kernel = that / its kernels. ` +
    `${opChain ? `For scale: ${opChain.usPerOp.toFixed(1)} µs per op in a chain of ${opChain.n} tiny adds` : ''}` +
    `${rawDispatch ? `; ${rawDispatch.prebuiltUs.toFixed(1)} µs per raw WebGPU dispatch below tfjs (prebuilt bind group; ${rawDispatch.bindGroupEachUs.toFixed(1)} µs with a new one each)` : ''}.`);
}
console.log(`\nwritten: ${out}`);
