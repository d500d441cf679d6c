import type * as ort from 'onnxruntime-node';
import { Bench } from 'tinybench';
import {
  checkInputOptions,
  checkPositiveInteger,
  feedsFromSpecs,
  resolveInputSpecs,
  type LatencyInputOptions,
  type LatencyInputSpec,
  type LatencyRecordShape,
  type SpeedupInterval,
} from './measure.js';
import { providerDevice } from './providers.js';
import { createOrtSession, latencyToolVersions, type ExecutionProvider } from './session.js';
import { medianInterval, summarizeLatency, throughputPerSecond, type LatencySummary, type MedianInterval } from './summary.js';

export interface InterleavedLatencyOptions extends LatencyInputOptions {
  provider?: ExecutionProvider;
  /** Intra-op threads; default 2. */
  threads?: number;
  /** Intra-op spinning (see OrtSessionSettings.spinning); default false. */
  spinning?: boolean;
  /** Default { latency: 1, throughput: 128 }. */
  batchSizes?: { latency: number; throughput: number };
  /** Untimed runs of each model before the rounds at each batch size. Default 10. */
  warmupIterations?: number;
  /** Rounds at each batch size; each times both models back to back, alternating which goes first. Default 10. */
  rounds?: number;
  /** Timed runs of each model per round, at least: { latency: 20, throughput: 2 } by default. */
  roundIterations?: { latency: number; throughput: number };
  /** Each model's block of a round lasts at least this long, in ms (and at least its runs). Default 100. */
  roundMinTimeMs?: number;
  /** Coverage of the intervals; default 0.95. */
  confidence?: number;
}

/** One model's timing at one batch size over all rounds. */
export interface ModelTiming {
  /** Every timed run of every round together. */
  ms: LatencySummary;
  /** The median of each round's runs, in round order. */
  roundMedians: number[];
  /** Median of the round medians, with its interval. */
  p50: MedianInterval;
  /** batch × 1000 / mean ms over all runs. */
  examplesPerSecond: number;
}

export interface BatchComparison {
  batch: number;
  rounds: number;
  warmupIterations: number;
  model: ModelTiming;
  dense: ModelTiming;
  /** Per round, dense median / model median; its median and interval. */
  speedup: MedianInterval & { withinNoise: boolean };
}

export interface InterleavedLatencyReport {
  provider: ExecutionProvider;
  threads: number;
  spinning: boolean;
  device: string;
  softwareDevice: boolean;
  versions: Record<string, string>;
  inputs: LatencyInputSpec[];
  modelBytes: number;
  denseBytes: number;
  latency: BatchComparison;
  throughput: BatchComparison;
  measuredAt: string;
  method: string;
}

/**
 * Times a model against the dense model of its task in the same process: one session each (same settings), warm-up,
 * then rounds in which both run back to back (the order alternates), so drifts of the machine's load hit both alike.
 * Per model: percentiles over all runs and an order-statistic interval of the median of round medians; the speed-up
 * is the median of the per-round ratios with its interval, within noise when that interval holds 1.
 */
export async function measureLatencyAgainstDense(
  modelBytes: Uint8Array,
  denseBytes: Uint8Array,
  options: InterleavedLatencyOptions,
): Promise<InterleavedLatencyReport> {
  const provider = options.provider ?? 'cpu';
  const threads = options.threads ?? 2;
  const spinning = options.spinning ?? false;
  const batchSizes = options.batchSizes ?? { latency: 1, throughput: 128 };
  const warmupIterations = options.warmupIterations ?? 10;
  const rounds = options.rounds ?? 10;
  const roundIterations = options.roundIterations ?? { latency: 20, throughput: 2 };
  const roundMinTimeMs = options.roundMinTimeMs ?? 100;
  const confidence = options.confidence ?? 0.95;
  checkInputOptions(options);
  checkPositiveInteger(batchSizes.latency, 'batchSizes.latency');
  checkPositiveInteger(batchSizes.throughput, 'batchSizes.throughput');
  checkPositiveInteger(rounds, 'rounds');
  checkPositiveInteger(roundIterations.latency, 'roundIterations.latency');
  checkPositiveInteger(roundIterations.throughput, 'roundIterations.throughput');
  if (!Number.isInteger(warmupIterations) || warmupIterations < 0) throw new Error(`warmupIterations must be a non-negative integer, got ${warmupIterations}`);
  if (!(roundMinTimeMs >= 0)) throw new Error(`roundMinTimeMs must be non-negative, got ${roundMinTimeMs}`);

  const settings = { provider, threads, spinning };
  const model = await createOrtSession(modelBytes, settings);
  let dense: ort.InferenceSession | null = null;
  try {
    dense = await createOrtSession(denseBytes, settings);
    const specs = resolveInputSpecs(options, model.inputNames);
    resolveInputSpecs({ inputs: specs }, dense.inputNames);
    const compare = (batch: number, iterations: number) =>
      compareAtBatch(model, dense!, feedsFromSpecs(specs, batch), { batch, warmupIterations, rounds, iterations, roundMinTimeMs, confidence });
    const latency = await compare(batchSizes.latency, roundIterations.latency);
    const throughput = await compare(batchSizes.throughput, roundIterations.throughput);
    const { device, software } = await providerDevice(provider);
    return {
      provider,
      threads,
      spinning,
      device,
      softwareDevice: software,
      versions: latencyToolVersions(),
      inputs: specs.map((spec) => structuredClone(spec)),
      modelBytes: modelBytes.length,
      denseBytes: denseBytes.length,
      latency,
      throughput,
      measuredAt: new Date().toISOString(),
      method: `interleaved with the dense model: ${rounds} rounds per batch size, each model at least ${roundIterations.latency} (batch ${batchSizes.latency}) / ${
        roundIterations.throughput} (batch ${batchSizes.throughput}) runs and ${roundMinTimeMs} ms per round (tinybench, performance.now, one sample per awaited session.run); order-statistic ${Math.round(confidence * 100)} % intervals over rounds`,
    };
  } finally {
    await model.release();
    await dense?.release();
  }
}

async function compareAtBatch(
  model: ort.InferenceSession,
  dense: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  plan: { batch: number; warmupIterations: number; rounds: number; iterations: number; roundMinTimeMs: number; confidence: number },
): Promise<BatchComparison> {
  for (const session of [dense, model]) {
    for (let i = 0; i < plan.warmupIterations; i++) await session.run(feeds);
  }
  const samples = { model: [] as number[][], dense: [] as number[][] };
  for (let round = 0; round < plan.rounds; round++) {
    const order = round % 2 === 0 ? (['dense', 'model'] as const) : (['model', 'dense'] as const);
    for (const which of order) {
      samples[which].push(await timeBlock(which === 'model' ? model : dense, feeds, plan.iterations, plan.roundMinTimeMs));
    }
  }
  const modelTiming = timingOf(samples.model, plan.batch, plan.confidence);
  const denseTiming = timingOf(samples.dense, plan.batch, plan.confidence);
  const ratios = denseTiming.roundMedians.map((denseMedian, r) => denseMedian / modelTiming.roundMedians[r]);
  const speedup = medianInterval(ratios, plan.confidence);
  return {
    batch: plan.batch,
    rounds: plan.rounds,
    warmupIterations: plan.warmupIterations,
    model: modelTiming,
    dense: denseTiming,
    speedup: { ...speedup, withinNoise: speedup.low <= 1 && speedup.high >= 1 },
  };
}

/** One round's block for one model: tinybench, at least `iterations` runs and `minTimeMs`, every sample kept. */
async function timeBlock(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, iterations: number, minTimeMs: number): Promise<number[]> {
  const bench = new Bench({ iterations, time: minTimeMs, warmup: false, retainSamples: true, throws: true });
  bench.add('session.run', async () => {
    await session.run(feeds);
  });
  const [task] = await bench.run();
  const result = task.result;
  if (result.state !== 'completed') throw new Error(`latency round ended in state "${result.state}"`);
  const kept = result.latency.samples;
  if (!kept || kept.length === 0) throw new Error('latency round kept no samples');
  return [...kept];
}

function timingOf(rounds: number[][], batch: number, confidence: number): ModelTiming {
  const ms = summarizeLatency(rounds.flat());
  const roundMedians = rounds.map((samples) => summarizeLatency(samples).p50);
  return { ms, roundMedians, p50: medianInterval(roundMedians, confidence), examplesPerSecond: throughputPerSecond(batch, ms.mean) };
}

/** The record's latency fields from an interleaved report (the latency batch must be 1: the record says batch1Ms). */
export function interleavedLatencyRecord(report: InterleavedLatencyReport): LatencyRecordShape {
  if (report.latency.batch !== 1) throw new Error(`interleavedLatencyRecord: batch1Ms needs latency measured at batch 1, got batch ${report.latency.batch}`);
  const { latency, throughput } = report;
  const speedupOf = (c: BatchComparison): SpeedupInterval => ({
    p50: c.speedup.median, low: c.speedup.low, high: c.speedup.high, confidence: c.speedup.confidence, withinNoise: c.speedup.withinNoise,
  });
  return {
    provider: report.provider,
    threads: report.threads,
    device: report.device,
    softwareDevice: report.softwareDevice,
    // p50 is the median of the round medians, the value its interval is about; p90/p99 are over every run.
    batch1Ms: { p50: latency.model.p50.median, p90: latency.model.ms.p90, p99: latency.model.ms.p99, p50Low: latency.model.p50.low, p50High: latency.model.p50.high },
    throughputBatch: throughput.batch,
    throughputPerSecond: throughput.model.examplesPerSecond,
    rounds: latency.rounds,
    dense: {
      batch1Ms: { p50: latency.dense.p50.median, p50Low: latency.dense.p50.low, p50High: latency.dense.p50.high },
      throughputPerSecond: throughput.dense.examplesPerSecond,
    },
    speedupVsDense: { batch1: speedupOf(latency), throughput: speedupOf(throughput) },
  };
}
