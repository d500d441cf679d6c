/**
 * Training and evaluation throughput of prunebench's models on a tfjs backend, with PyTorch measured side by
 * side in the same command (benchmarks/perf/torch_reference.py, kept running as a child process).
 *
 * Cases (tfjs side exactly as prunebench runs them):
 *   resnet20-train, resnet56-train  `maskedSgdStep` (the harness trainer's step: forward with batch norm in
 *                                   training mode + running-stat update, backward, SGD momentum 0.9, weight
 *                                   decay 5e-4), batch 128 random images; images/s
 *   resnet20-eval, resnet56-eval    `model.forward(x, { training: false })` + read back, batch --eval-batch; images/s
 *   bert-mini-train                 `maskedSgdStep` on BERT-mini (4 layers, hidden 256, 4 heads, FFN 1024,
 *                                   vocabulary 30,522), batch --bert-batch sequences of length 128; sequences/s
 *   resnet20-train-2workers         (wasm) two-core ceiling: two worker_threads with a wasm backend each run
 *                                   resnet20-train on 64 images at the same time, exchanging nothing; not a
 *                                   trainer, the upper bound data-parallel training could reach
 * Data loading and augmentation are left out on both sides: inputs are fixed random tensors.
 *
 * Interleaving: every repetition times tfjs and torch (threads = cores, and 1 thread) back to back, the order
 * alternating between repetitions, so machine noise (shared cores) hits both sides alike. Reported: the median
 * over repetitions of each side's mean step time; ratio = tfjs / torch(cores threads) throughput.
 *
 *   npx tsx benchmarks/perf/throughput.ts [--backend wasm] [--quick] [--reps 3] [--steps 2]
 *       [--cases resnet20-train,resnet20-eval,...] [--label before] [--out file.json] [--python /usr/bin/python3]
 *       [--eval-batch 250] [--bert-batch 32] [--no-torch] [--torch-blas-dir DIR] [--torch-device auto|cpu|cuda] [--baseline]
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
import * as tf from '@tensorflow/tfjs';
import {
  initEngine, parseBackendRequest, registerWasmTrainingKernels, SeededRng, unregisterWasmTrainingKernels, type EngineInfo,
} from '@prunebench/engine';
import * as models from '@prunebench/models';
import { maskedSgdStep, type Batch } from '@prunebench/pruning';

// ------------------------------------------------------------------ options

const argv = process.argv.slice(2);
const VALUE_OPTIONS = ['backend', 'bert-batch', 'cases', 'eval-batch', 'label', 'out', 'python', 'reps', 'steps', 'torch-blas-dir', 'torch-device'];
const FLAG_OPTIONS = ['baseline', 'no-torch', 'quick'];
/** Bad arguments end the run before anything is measured or written: message, usage, exit code 2. */
function usageError(message: string): never {
  console.error(`throughput: ${message}\n(options: see the header of benchmarks/perf/throughput.ts)`);
  process.exit(2);
}
for (let i = 0; i < argv.length; i++) {
  const name = argv[i].startsWith('--') ? argv[i].slice(2) : null;
  if (name !== null && VALUE_OPTIONS.includes(name)) i++;
  else if (name === null || !FLAG_OPTIONS.includes(name)) usageError(`unknown argument '${argv[i]}'`);
}
function option(name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  if (at < 0) return undefined;
  const value = argv[at + 1];
  if (value === undefined || value.startsWith('--')) usageError(`--${name} needs a value`);
  return value;
}
function intOption(name: string, fallback: number): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) usageError(`--${name} must be a positive integer, got '${raw}'`);
  return value;
}
const flag = (name: string) => argv.includes(`--${name}`);

const ALL_CASES = ['resnet20-train', 'resnet56-train', 'resnet20-eval', 'resnet56-eval', 'bert-mini-train', 'resnet20-train-2workers'] as const;
type CaseName = (typeof ALL_CASES)[number];

const quick = flag('quick');
const reps = intOption('reps', quick ? 1 : 3);
const stepsPerRep = intOption('steps', 1);
const evalBatch = intOption('eval-batch', 250);
const bertBatch = intOption('bert-batch', 32);
const seqLen = 128;
const trainBatch = 128;
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

function resnetCase(depth: number, train: boolean): TfjsCase {
  const batch = train ? trainBatch : evalBatch;
  const model = models.createResNetCifar(depth, { seed: 0 });
  const inputs = tf.tensor4d(rng.normalArray(batch * 32 * 32 * 3), [batch, 32, 32, 3]);
  const labels = tf.tensor1d(Int32Array.from({ length: batch }, () => rng.int(10)), 'int32');
  const velocity = new Map<string, tf.Tensor>();
  const batchData: Batch = { inputs, labels, size: batch };
  const step = train
    ? async () => { await maskedSgdStep(model, batchData, { learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4, velocity }); }
    : async () => {
      const logits = model.forward(inputs, { training: false });
      await logits.data();
      logits.dispose();
    };
  return { batch, step, dispose: () => { tf.dispose([inputs, labels, ...velocity.values()]); model.dispose(); } };
}

/** BERT-mini from @prunebench/models, or why it is not available. */
function bertCase(): TfjsCase | { unavailable: string } {
  const m = models as unknown as Record<string, unknown>;
  const createBert = m.createBert as ((arch: unknown, options?: { seed?: number }) => models.Model) | undefined;
  const bertMiniArch = m.bertMiniArch as ((numLabels?: number) => unknown) | undefined;
  if (typeof createBert !== 'function' || typeof bertMiniArch !== 'function') {
    return { unavailable: '@prunebench/models exports no createBert/bertMiniArch' };
  }
  const model = createBert(bertMiniArch(2), { seed: 0 });
  const ids = tf.tensor2d(Int32Array.from({ length: bertBatch * seqLen }, () => 1 + rng.int(30_000)), [bertBatch, seqLen], 'int32');
  const mask = tf.ones([bertBatch, seqLen], 'int32');
  const labels = tf.tensor1d(Int32Array.from({ length: bertBatch }, () => rng.int(2)), 'int32');
  const velocity = new Map<string, tf.Tensor>();
  const batchData: Batch = { inputs: { input_ids: ids, attention_mask: mask }, labels, size: bertBatch };
  return {
    batch: bertBatch,
    step: async () => { await maskedSgdStep(model, batchData, { learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4, velocity }); },
    dispose: () => { tf.dispose([ids, mask, labels, ...velocity.values()]); model.dispose(); },
  };
}

/**
 * Two-core ceiling (wasm only): two worker_threads, each with its own wasm backend and ResNet-20, each doing
 * `maskedSgdStep` on half the batch at the same time; a "step" is both finishing. The workers never exchange
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

async function makeTfjsCase(name: CaseName): Promise<TfjsCase | { unavailable: string }> {
  try {
    switch (name) {
      case 'resnet20-train-2workers': return await twoWorkerCase(20);
      case 'resnet20-train': return resnetCase(20, true);
      case 'resnet56-train': return resnetCase(56, true);
      case 'resnet20-eval': return resnetCase(20, false);
      case 'resnet56-eval': return resnetCase(56, false);
      case 'bert-mini-train': return bertCase();
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
}

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
  if (!('unavailable' in tfjsCase)) {
    await tfjsCase.step();
    if (baseline) { useKernels('baseline'); await tfjsCase.step(); useKernels('current'); }
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
  const row: CaseResult = { case: name, unit, batch, tfjs };
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
  console.log(`${name}: tfjs ${fmt(tfjs)}${tfjs.unavailable ? ` (${tfjs.unavailable})` : ''}, torch ${fmt(row.torch)} (${torchThreads} threads), torch ${fmt(row.torch1)} (1 thread) ${unit}`);
}
torch?.close();

// ------------------------------------------------------------------ report

const date = new Date().toISOString();
const loadAverages = loadSamples.map((s) => s.loadavg[0]!);
const report = {
  benchmark: 'perf-throughput',
  date,
  label: label ?? null,
  options: { reps, stepsPerRep, trainBatch, evalBatch, bertBatch, seqLen, quick, cases, baseline: withBaseline ? BASELINE_WASM_KERNELS : null },
  machine: {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    load: { min1Min: Math.min(...loadAverages), max1Min: Math.max(...loadAverages), samples: loadSamples },
  },
  tfjs: engine,
  torch: torch ? { ...torch.hello, ldLibraryPathPrefix: torchBlasDir ?? null, executable: 'python' in torchPython ? torchPython.python : null } : { unavailable: 'error' in torchPython ? torchPython.error : '' },
  results,
};
const out = option('out') ?? join(import.meta.dirname, 'results', `throughput-${engine.backend}${label ? `-${label}` : ''}-${date.slice(0, 10)}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');

const n = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const ms = (s: SideResult | undefined) => (s && !s.unavailable && s.repSeconds.length ? (1000 * median(s.repSeconds)).toFixed(0) : 'n/a');
console.log(`\n### Throughput, tfjs ${engine.backend} vs PyTorch CPU${label ? ` (${label})` : ''}\n`);
console.log(`${report.machine.cpu}, ${cores} cores; load average (1 min) ${n(report.machine.load.min1Min, 2)}–${n(report.machine.load.max1Min, 2)} during the run; ` +
  `tfjs ${engine.versions.tfjs} ${engine.versions.backendPackage} (threads ${engine.threads ?? '?'}), node ${engine.versions.node}; ` +
  `torch ${torch ? `${String(torch.hello.torch)} on ${String(torch.hello.device)} (BLAS ${((torch.hello.blas as string[] | undefined) ?? []).map((p) => p.split('/').pop()).join(', ') || '?'})` : 'n/a'}; median of ${reps} interleaved repetitions x ${stepsPerRep} steps; ${date}\n`);
const baselineColumns = results.some((r) => r.tfjsBaseline);
console.log(`| case | batch |${baselineColumns ? ' tfjs, kernels before | ms/step |' : ''} tfjs ${engine.backend} | ms/step |${baselineColumns ? ' speed-up |' : ''} ` +
  `torch ${cores} threads | ms/step | ratio tfjs/torch | torch 1 thread | ratio tfjs/torch-1 |`);
console.log(`| --- | ---: |${baselineColumns ? ' ---: | ---: |' : ''} ---: | ---: |${baselineColumns ? ' ---: |' : ''} ---: | ---: | ---: | ---: | ---: |`);
for (const r of results) {
  const tfjsCell = r.tfjs.unavailable ? `not available (${r.tfjs.unavailable})` : `${n(r.tfjs.perSecond)} ${r.unit}`;
  const baselineCells = baselineColumns ? ` ${r.tfjsBaseline ? n(r.tfjsBaseline.perSecond) : 'n/a'} | ${ms(r.tfjsBaseline)} |` : '';
  const speedupCell = baselineColumns ? ` ${r.speedup === undefined ? 'n/a' : `${r.speedup.toFixed(2)}×`} |` : '';
  console.log(`| ${r.case} | ${r.batch}${r.unit === 'sequences/s' ? `×${seqLen}` : ''} |${baselineCells} ${tfjsCell} | ${ms(r.tfjs)} |${speedupCell} ` +
    `${n(r.torch?.perSecond)} | ${ms(r.torch)} | ` +
    `${r.ratio === undefined ? 'n/a' : `${(100 * r.ratio).toFixed(0)} %`} | ${n(r.torch1?.perSecond)} | ${r.ratio1 === undefined ? 'n/a' : `${(100 * r.ratio1).toFixed(0)} %`} |`);
}
console.log(`\nwritten: ${out}`);
