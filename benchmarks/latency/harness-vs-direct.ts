/**
 * Does measureLatency's figure agree with a plain timing loop, and how much does it move from run to run?
 *
 * For dense pretrained ResNet-20 and ResNet-56 (exported to ONNX with exportOnnx), each of `REPEATS` rounds
 * measures (a) measureLatency — tinybench, batch-1 p50 and batch-128 throughput — and (b) a direct loop of
 * `performance.now()` around `await session.run(feeds)` on a session with the same settings, the same warm-up
 * and the same number of timed runs. Order alternates between rounds. Writes results/latency-<date>.json and .md.
 *
 * Run: npx tsx benchmarks/latency/harness-vs-direct.ts [--quick]
 * Env: PRUNEBENCH_WEIGHTS (folder with resnet-cifar10/, default ../shared/weights), LATENCY_THREADS (default 2),
 *      LATENCY_SPINNING=1 (intra-op threads busy-wait; default off, as measureLatency).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createOrtSession, deviceName, latencyToolVersions, measureLatency, randomFeeds, summarizeLatency, throughputPerSecond,
  type LatencyReport, type LatencySummary,
} from '@prunebench/metrics';
import { exportOnnx, loadPretrainedResNet } from '@prunebench/models';
import { scriptArgs } from '../perf/script-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = scriptArgs('harness-vs-direct', 'usage: harness-vs-direct.ts [--quick]', { flags: ['quick'] }).flag('quick');
const REPEATS = 3;
const THREADS = Number(process.env.LATENCY_THREADS ?? 2);
const SPINNING = process.env.LATENCY_SPINNING === '1';
const PLAN = quick
  ? { warmupIterations: 5, minIterations: 50, minTimeMs: 300, throughputMinIterations: 5 }
  : { warmupIterations: 10, minIterations: 200, minTimeMs: 2000, throughputMinIterations: 20 };
const BATCHES = { latency: 1, throughput: 128 };
const INPUT_SHAPE = [3, 32, 32];

interface DirectResult {
  batch1: LatencySummary;
  throughputPerSecond: number;
  throughputIterations: number;
}

/** The comparison loop: same session settings, same warm-up, same timed run counts as the harness used. */
async function directTiming(onnx: Uint8Array, batch1Runs: number, throughputRuns: number): Promise<DirectResult> {
  const session = await createOrtSession(onnx, { provider: 'cpu', threads: THREADS, spinning: SPINNING });
  try {
    const inputName = session.inputNames[0];
    const time = async (batch: number, runs: number) => {
      const feeds = randomFeeds(inputName, batch, INPUT_SHAPE);
      for (let i = 0; i < PLAN.warmupIterations; i++) await session.run(feeds);
      const samples = new Float64Array(runs);
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        await session.run(feeds);
        samples[i] = performance.now() - start;
      }
      return summarizeLatency(samples);
    };
    const batch1 = await time(BATCHES.latency, batch1Runs);
    const big = await time(BATCHES.throughput, throughputRuns);
    return { batch1, throughputPerSecond: throughputPerSecond(BATCHES.throughput, big.mean), throughputIterations: big.samples };
  } finally {
    await session.release();
  }
}

interface Round {
  round: number;
  harness: LatencyReport;
  direct: DirectResult;
  p50Ratio: number;
  throughputRatio: number;
}

const cv = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return sd / mean;
};

async function benchmarkModel(depth: 20 | 56, weightsRoot: string) {
  const model = await loadPretrainedResNet(depth, { weightsDir: weightsRoot, allowDownload: false });
  const onnx = await exportOnnx(model);
  model.dispose();
  const rounds: Round[] = [];
  for (let round = 1; round <= REPEATS; round++) {
    const runHarness = () => measureLatency(onnx, { inputShape: INPUT_SHAPE, batchSizes: BATCHES, provider: 'cpu', threads: THREADS, spinning: SPINNING, ...PLAN });
    let harness: LatencyReport;
    let direct: DirectResult;
    if (round % 2 === 1) {
      harness = await runHarness();
      direct = await directTiming(onnx, harness.latency.iterations, harness.throughput.iterations);
    } else {
      // the direct loop goes first on even rounds; it reuses the previous round's run counts
      const previous = rounds[rounds.length - 1].harness;
      direct = await directTiming(onnx, previous.latency.iterations, previous.throughput.iterations);
      harness = await runHarness();
    }
    const r: Round = {
      round, harness, direct,
      p50Ratio: harness.latency.ms.p50 / direct.batch1.p50,
      throughputRatio: harness.throughput.examplesPerSecond / direct.throughputPerSecond,
    };
    rounds.push(r);
    console.log(`resnet${depth} round ${round}: p50 ${harness.latency.ms.p50.toFixed(3)} ms (direct ${direct.batch1.p50.toFixed(3)}), ` +
      `throughput ${harness.throughput.examplesPerSecond.toFixed(0)}/s (direct ${direct.throughputPerSecond.toFixed(0)}/s)`);
  }
  return {
    model: `resnet${depth}`, onnxBytes: onnx.length, rounds,
    runToRunCv: {
      harnessP50: cv(rounds.map((r) => r.harness.latency.ms.p50)),
      directP50: cv(rounds.map((r) => r.direct.batch1.p50)),
      harnessThroughput: cv(rounds.map((r) => r.harness.throughput.examplesPerSecond)),
      directThroughput: cv(rounds.map((r) => r.direct.throughputPerSecond)),
    },
  };
}

function markdown(result: Awaited<ReturnType<typeof main>>): string {
  const f = (x: number, d = 3) => x.toFixed(d);
  const lines = [
    `# Latency: measureLatency vs a direct timing loop (${result.date})`,
    '',
    `Machine: ${result.machine.cpu}, ${result.machine.cores} logical cores, load average at start ${result.machine.loadAverage.map((x) => x.toFixed(2)).join(' / ')}` +
      ` (shared machine: other jobs were running). Provider: cpu, ${THREADS} intra-op threads (spinning ${SPINNING ? 'on' : 'off'}), 1 inter-op thread, graph optimisation 'all'.`,
    `Versions: ${Object.entries(result.versions).map(([k, v]) => `${k} ${v}`).join(', ')}. Plan: ${JSON.stringify(PLAN)}; batches ${BATCHES.latency} and ${BATCHES.throughput}; input [N, 3, 32, 32] float32.`,
    '',
    '| model | round | harness p50 / p90 / p99 (ms, batch 1) | direct p50 (ms) | p50 ratio | harness throughput (img/s, batch 128) | direct throughput | throughput ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of result.models) {
    for (const r of m.rounds) {
      const ms = r.harness.latency.ms;
      lines.push(`| ${m.model} | ${r.round} | ${f(ms.p50)} / ${f(ms.p90)} / ${f(ms.p99)} (${r.harness.latency.iterations} runs) | ${f(r.direct.batch1.p50)} | ${f(r.p50Ratio)} | ` +
        `${f(r.harness.throughput.examplesPerSecond, 0)} (${r.harness.throughput.iterations} runs) | ${f(r.direct.throughputPerSecond, 0)} | ${f(r.throughputRatio)} |`);
    }
  }
  lines.push('', '| model | run-to-run CV: harness p50 | direct p50 | harness throughput | direct throughput |', '| --- | --- | --- | --- | --- |');
  for (const m of result.models) {
    const c = m.runToRunCv;
    lines.push(`| ${m.model} | ${f(100 * c.harnessP50, 1)} % | ${f(100 * c.directP50, 1)} % | ${f(100 * c.harnessThroughput, 1)} % | ${f(100 * c.directThroughput, 1)} % |`);
  }
  return lines.join('\n') + '\n';
}

async function main() {
  const weightsRoot = resolve(process.env.PRUNEBENCH_WEIGHTS ?? join(here, '../../../shared/weights'));
  const date = new Date().toISOString().slice(0, 10);
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, loadAverage: os.loadavg(), platform: `${os.platform()} ${os.release()}` };
  const models = [];
  for (const depth of [20, 56] as const) models.push(await benchmarkModel(depth, weightsRoot));
  return { date, quick, machine, device: deviceName('cpu'), provider: 'cpu', threads: THREADS, spinning: SPINNING, versions: latencyToolVersions(), plan: PLAN, batches: BATCHES, models };
}

const result = await main();
const outDir = join(here, 'results');
mkdirSync(outDir, { recursive: true });
const base = join(outDir, `latency-${result.date}${quick ? '-quick' : ''}`);
writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
const table = markdown(result);
writeFileSync(`${base}.md`, table);
console.log(table);
console.log(`wrote ${base}.json and ${base}.md`);
