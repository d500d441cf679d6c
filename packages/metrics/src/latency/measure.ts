import * as ort from 'onnxruntime-node';
import { Bench } from 'tinybench';
import { SeededRng } from '@prunebench/engine';
import { createOrtSession, deviceName, latencyToolVersions, type ExecutionProvider } from './session.js';
import { summarizeLatency, throughputPerSecond, type LatencySummary } from './summary.js';

/**
 * One graph input to feed: its shape for one example (no batch dimension) and its values. `float32`: seeded uniform
 * [0, 1). Integer inputs (token ids, masks): seeded uniform integers in [low, high), or all equal to `fill`.
 */
export interface LatencyInputSpec {
  name: string;
  dtype: 'float32' | 'int32' | 'int64';
  shape: number[];
  /** Integer inputs: values drawn uniformly from [low, high). Default [0, 1) (zeros). */
  range?: [number, number];
  /** Integer inputs: every value equal to this (e.g. an all-ones attention mask). */
  fill?: number;
}

export interface MeasureLatencyOptions {
  /**
   * Input shape of one example, without the batch dimension (e.g. [3, 32, 32] for an NCHW image model), for a
   * model with one float32 input. Models with several or integer inputs (BERT) give `inputs` instead.
   */
  inputShape?: number[];
  /** The graph input to feed with `inputShape`; default: the session's first input. Inputs are float32, seeded uniform [0, 1). */
  inputName?: string;
  /** Every graph input, by spec (replaces inputShape/inputName). */
  inputs?: LatencyInputSpec[];
  /** Batch for the latency percentiles and batch for throughput. Default { latency: 1, throughput: 128 }. */
  batchSizes?: { latency: number; throughput: number };
  provider?: ExecutionProvider;
  /** Intra-op threads; default 2. Recorded with the figures. */
  threads?: number;
  /** Intra-op threads busy-wait between ops (see OrtSessionSettings.spinning). Default false. Recorded. */
  spinning?: boolean;
  /** Untimed runs before timing each batch size. Default 10. */
  warmupIterations?: number;
  /** Timed runs at the latency batch, at least. Default 200. */
  minIterations?: number;
  /** Timing lasts at least this long, in ms, at each batch size (and at least the minimum runs). Default 2000. */
  minTimeMs?: number;
  /** Timed runs at the throughput batch, at least. Default 20. */
  throughputMinIterations?: number;
}

export interface BatchMeasurement {
  batch: number;
  warmupIterations: number;
  /** Timed `session.run` calls (one sample each). */
  iterations: number;
  /** Latency of one `session.run` at this batch, ms. */
  ms: LatencySummary;
  /** batch × 1000 / mean ms. */
  examplesPerSecond: number;
}

export interface LatencyReport {
  provider: ExecutionProvider;
  threads: number;
  spinning: boolean;
  interOpThreads: 1;
  graphOptimizationLevel: 'all';
  device: string;
  versions: Record<string, string>;
  /** The fed inputs' names, comma-separated (one name for single-input models). */
  inputName: string;
  /** Shape of one example of the first input. */
  inputShape: number[];
  /** Every fed input (present when measured with `inputs`). */
  inputs?: LatencyInputSpec[];
  modelBytes: number;
  latency: BatchMeasurement;
  throughput: BatchMeasurement;
  measuredAt: string;
  /** Timing method, for the record. */
  method: string;
}

/**
 * One latency figure as a run record keeps it (`metrics.latency`, `metrics.latencies[provider]`; @prunebench/harness's
 * LatencyRecord is this type). Fields after `throughputPerSecond` come from the interleaved measurement
 * (measureLatencyAgainstDense); older records lack them.
 */
export interface LatencyRecordShape {
  provider: string;
  threads?: number;
  device: string;
  /** The device is a software adapter (llvmpipe, SwiftShader, a fallback adapter): never a GPU speed figure. */
  softwareDevice?: boolean;
  /**
   * Batch-1 latency: p90/p99 over every timed run; p50 over every run too, except in interleaved records, where it is
   * the median of the per-round medians, with that median's interval p50Low/p50High.
   */
  batch1Ms: { p50: number; p90: number; p99: number; p50Low?: number; p50High?: number };
  throughputBatch: number;
  throughputPerSecond: number;
  /** Rounds of the interleaved measurement (each times this model and the dense one, back to back). */
  rounds?: number;
  /** The task's dense model, timed in the same rounds with the same session settings. */
  dense?: { batch1Ms: { p50: number; p50Low: number; p50High: number }; throughputPerSecond: number };
  /** Dense time / this model's time, per round: median and interval, at batch 1 and at the throughput batch. */
  speedupVsDense?: { batch1: SpeedupInterval; throughput: SpeedupInterval };
}

/** A speed-up's median over rounds with its order-statistic interval; withinNoise when the interval holds 1. */
export interface SpeedupInterval {
  p50: number;
  low: number;
  high: number;
  confidence: number;
  withinNoise: boolean;
}

/**
 * Time `session.run` of an ONNX model with onnxruntime-node through tinybench: warm-up, then at least
 * `minIterations` runs and `minTimeMs` at the latency batch (p50/p90/p99/mean), then the same at the
 * throughput batch (examples/s). One session for both; its settings are recorded in the report.
 */
export async function measureLatency(onnxBytes: Uint8Array, options: MeasureLatencyOptions): Promise<LatencyReport> {
  const provider = options.provider ?? 'cpu';
  const threads = options.threads ?? 2;
  const spinning = options.spinning ?? false;
  const batchSizes = options.batchSizes ?? { latency: 1, throughput: 128 };
  const warmupIterations = options.warmupIterations ?? 10;
  const minIterations = options.minIterations ?? 200;
  const minTimeMs = options.minTimeMs ?? 2000;
  const throughputMinIterations = options.throughputMinIterations ?? 20;
  checkInputOptions(options);
  checkPositiveInteger(batchSizes.latency, 'batchSizes.latency');
  checkPositiveInteger(batchSizes.throughput, 'batchSizes.throughput');
  checkPositiveInteger(minIterations, 'minIterations');
  checkPositiveInteger(throughputMinIterations, 'throughputMinIterations');
  if (!Number.isInteger(warmupIterations) || warmupIterations < 0) throw new Error(`warmupIterations must be a non-negative integer, got ${warmupIterations}`);
  if (!(minTimeMs >= 0)) throw new Error(`minTimeMs must be non-negative, got ${minTimeMs}`);

  const session = await createOrtSession(onnxBytes, { provider, threads, spinning });
  try {
    const specs = resolveInputSpecs(options, session.inputNames);
    const timeBatch = (batch: number, iterations: number) =>
      timeSessionRun(session, feedsFromSpecs(specs, batch), { warmupIterations, iterations, minTimeMs, batch });
    const latency = await timeBatch(batchSizes.latency, minIterations);
    const throughput = await timeBatch(batchSizes.throughput, throughputMinIterations);
    return {
      provider,
      threads,
      spinning,
      interOpThreads: 1,
      graphOptimizationLevel: 'all',
      device: deviceName(provider),
      versions: latencyToolVersions(),
      inputName: specs.map((spec) => spec.name).join(','),
      inputShape: [...specs[0].shape],
      ...(options.inputs ? { inputs: specs.map((spec) => structuredClone(spec)) } : {}),
      modelBytes: onnxBytes.length,
      latency,
      throughput,
      measuredAt: new Date().toISOString(),
      method: `tinybench Bench (performance.now, one sample per awaited session.run, no timer-overhead correction), ${
        options.inputs ? 'inputs by spec (seeded)' : 'float32 inputs uniform [0, 1)'}`,
    };
  } finally {
    await session.release();
  }
}

/** Warm up, then time `session.run(feeds)` with tinybench, keeping every sample for our own percentiles. */
export async function timeSessionRun(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  plan: { warmupIterations: number; iterations: number; minTimeMs: number; batch: number },
): Promise<BatchMeasurement> {
  const bench = new Bench({
    iterations: plan.iterations,
    time: plan.minTimeMs,
    warmup: plan.warmupIterations > 0,
    warmupIterations: plan.warmupIterations,
    warmupTime: 0,
    retainSamples: true,
    throws: true,
  });
  bench.add(`session.run batch ${plan.batch}`, async () => {
    await session.run(feeds);
  });
  const [task] = await bench.run();
  const result = task.result;
  if (result.state !== 'completed') throw new Error(`latency run at batch ${plan.batch} ended in state "${result.state}"`);
  const samples = result.latency.samples;
  if (!samples || samples.length === 0) throw new Error(`latency run at batch ${plan.batch} kept no samples`);
  const ms = summarizeLatency(samples);
  return { batch: plan.batch, warmupIterations: plan.warmupIterations, iterations: ms.samples, ms, examplesPerSecond: throughputPerSecond(plan.batch, ms.mean) };
}

/** A float32 feed [batch, ...shape] of seeded uniform [0, 1) values. */
export function randomFeeds(inputName: string, batch: number, shape: number[]): Record<string, ort.Tensor> {
  const dims = [batch, ...shape];
  const size = dims.reduce((a, b) => a * b, 1);
  const data = new SeededRng(0).uniformArray(size, 0, 1);
  return { [inputName]: new ort.Tensor('float32', data, dims) };
}

/** Feeds [batch, ...shape] for every spec, seeded (input k draws from seed k), so every measurement sees the same values. */
export function feedsFromSpecs(specs: readonly LatencyInputSpec[], batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  specs.forEach((spec, k) => {
    const dims = [batch, ...spec.shape];
    const size = dims.reduce((a, b) => a * b, 1);
    if (spec.dtype === 'float32') {
      feeds[spec.name] = new ort.Tensor('float32', new SeededRng(k).uniformArray(size, 0, 1), dims);
      return;
    }
    const [low, high] = spec.range ?? [0, 1];
    if (!(Number.isInteger(low) && Number.isInteger(high) && high > low)) throw new Error(`inputs "${spec.name}": range must be integers [low, high) with high > low`);
    const rng = new SeededRng(k);
    const values = Array.from({ length: size }, () => spec.fill ?? low + rng.int(high - low));
    feeds[spec.name] = spec.dtype === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims)
      : new ort.Tensor('int32', Int32Array.from(values), dims);
  });
  return feeds;
}

/** The harness's LatencyRecord fields, from a full report. */
export function toLatencyRecord(report: LatencyReport): LatencyRecordShape {
  if (report.latency.batch !== 1) throw new Error(`toLatencyRecord: the record's batch1Ms needs latency measured at batch 1, got batch ${report.latency.batch}`);
  return {
    provider: report.provider,
    threads: report.threads,
    device: report.device,
    batch1Ms: { p50: report.latency.ms.p50, p90: report.latency.ms.p90, p99: report.latency.ms.p99 },
    throughputBatch: report.throughput.batch,
    throughputPerSecond: report.throughput.examplesPerSecond,
  };
}

/** The inputs to feed: what the caller asked for, shapes checked. */
export type LatencyInputOptions = Pick<MeasureLatencyOptions, 'inputShape' | 'inputName' | 'inputs'>;

export function checkInputOptions(options: LatencyInputOptions): void {
  if (options.inputs) {
    if (options.inputs.length === 0) throw new Error('inputs must list at least one graph input');
    for (const spec of options.inputs) checkShape(spec.shape, `inputs "${spec.name}" shape`);
  } else {
    checkShape(options.inputShape as number[], 'inputShape');
  }
}

/** Every input spec to feed (one float32 input by default: the session's first), each checked against the graph's inputs. */
export function resolveInputSpecs(options: LatencyInputOptions, inputNames: readonly string[]): LatencyInputSpec[] {
  const specs: LatencyInputSpec[] = options.inputs
    ?? [{ name: options.inputName ?? inputNames[0], dtype: 'float32', shape: options.inputShape as number[] }];
  for (const spec of specs) {
    if (!inputNames.includes(spec.name)) {
      throw new Error(`${options.inputs ? 'input' : 'inputName'} "${spec.name}" is not an input of the model (inputs: ${inputNames.join(', ')})`);
    }
  }
  return specs;
}

export function checkPositiveInteger(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${field} must be a positive integer, got ${value}`);
}

function checkShape(shape: number[], field: string): void {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`${field} must be a non-empty list of positive integers (one example, no batch dimension), got ${JSON.stringify(shape)}`);
  }
}
