import * as tf from '@tensorflow/tfjs';
import { bitmapEncodingBytes, bitmapInt8EncodingBytes, countNonzero, interleavedLatencyRecord, measureLatencyAgainstDense } from '@prunebench/metrics';
import { OnnxLogitsSession, exportOnnx, onnxFeed, ortOptimizedOperators, quantizeOnnx, type Model, type OnnxFeed } from '@prunebench/models';
import { LATENCY_DEFAULTS } from './latency.js';
import { disposeBatch } from '@prunebench/pruning';
import type { LatencySettings, QuantizeSettings, QuantizedRecord } from './record.js';
import type { LoadedTask, TaskDefinition } from './tasks/types.js';

/** A suite's `"quantize": {}` means these: min-max calibration on the first 512 validation examples. */
export const QUANTIZE_DEFAULTS: QuantizeSettings = { calibration: 'minmax', examples: 512 };
/** Percentile of `"calibration": "percentile"` when the entry gives none. */
export const DEFAULT_PERCENTILE = 99.99;
/** Batch of the calibration and evaluation sessions. */
const QUANTIZE_BATCH = 64;

/**
 * Checks a suite's `quantize` entry: absent/false (no quantization), true or an object
 * { "calibration": "minmax" | "percentile", "percentile": (50, 100], "examples": integer in [1, 100000] }.
 * Returns the resolved settings (every field written, `percentile` only with percentile calibration) or false.
 */
export function validateQuantize(value: unknown, fail: (path: string, message: string) => void): QuantizeSettings | false {
  if (value === undefined || value === false) return false;
  if (value === true) return { ...QUANTIZE_DEFAULTS };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('suite.quantize', 'must be true, false or an object { "calibration": "minmax" | "percentile", "percentile", "examples" }');
    return false;
  }
  const entry = value as Record<string, unknown>;
  let ok = true;
  for (const key of Object.keys(entry)) {
    if (!['calibration', 'percentile', 'examples'].includes(key)) {
      fail(`suite.quantize.${key}`, 'unknown field; allowed: calibration, percentile, examples');
      ok = false;
    }
  }
  const calibration = entry.calibration ?? QUANTIZE_DEFAULTS.calibration;
  if (calibration !== 'minmax' && calibration !== 'percentile') {
    fail('suite.quantize.calibration', `must be "minmax" or "percentile", got ${JSON.stringify(entry.calibration)}`);
    ok = false;
  }
  const examples = entry.examples ?? QUANTIZE_DEFAULTS.examples;
  if (!Number.isInteger(examples) || (examples as number) < 1 || (examples as number) > 100_000) {
    fail('suite.quantize.examples', `must be an integer in [1, 100000] (validation examples to calibrate on), got ${JSON.stringify(entry.examples)}`);
    ok = false;
  }
  if (entry.percentile !== undefined) {
    const p = entry.percentile;
    if (calibration !== 'percentile') {
      fail('suite.quantize.percentile', 'is only read with "calibration": "percentile"');
      ok = false;
    } else if (typeof p !== 'number' || !(p > 50 && p <= 100)) {
      fail('suite.quantize.percentile', `must be a number in (50, 100], got ${JSON.stringify(p)}`);
      ok = false;
    }
  }
  if (!ok) return false;
  return {
    calibration: calibration as QuantizeSettings['calibration'],
    ...(calibration === 'percentile' ? { percentile: (entry.percentile as number | undefined) ?? DEFAULT_PERCENTILE } : {}),
    examples: examples as number,
  };
}

async function feedsOf(inputs: tf.Tensor | Record<string, tf.Tensor>): Promise<OnnxFeed> {
  return onnxFeed(inputs);
}

/**
 * Post-training int8 quantization of a run's final model (docs/metrics.md, *Quantization*): the fp32 ONNX export,
 * activations calibrated on the task's first `settings.examples` validation examples, the QDQ model; its quality on
 * the test split under ONNX Runtime (cpu), beside the fp32 export's; storage of the prunable weights; the operators
 * ORT runs; and, when `latency` is given, int8 vs fp32 latency interleaved in one process (the same settings as the
 * run's latency, cpu provider).
 */
export async function measureQuantized(
  model: Model, task: LoadedTask, definition: Pick<TaskDefinition, 'latencyInputs'>, settings: QuantizeSettings, latency: LatencySettings | null,
  log: (message: string) => void = () => {},
): Promise<QuantizedRecord> {
  if (!task.evaluateWith) throw new Error('quantize: the task cannot score an ONNX model (no evaluateWith)');
  const threads = latency?.threads ?? LATENCY_DEFAULTS.threads;
  const fp32Bytes = await exportOnnx(model);
  const batches = task.evaluationBatches(settings.examples, QUANTIZE_BATCH);
  const feeds: OnnxFeed[] = [];
  let calibrated = 0;
  for (const b of batches) {
    feeds.push(await feedsOf(b.inputs));
    calibrated += b.size;
    disposeBatch(b);
  }
  const quantized = await quantizeOnnx(fp32Bytes, feeds, { calibration: settings.calibration, percentile: settings.percentile, threads });
  log(`quantize: ${quantized.weights.length} int8 weight tensors, ${quantized.activations.length} uint8 activations (${settings.calibration}, ${calibrated} examples)`);
  const operators = await ortOptimizedOperators(quantized.bytes, threads);

  const score = async (bytes: Uint8Array) => {
    const session = await OnnxLogitsSession.create(bytes, threads);
    try {
      return await task.evaluateWith!(async (inputs) => session.run(await feedsOf(inputs)), 'test');
    } finally {
      await session.dispose();
    }
  };
  const int8Scores = await score(quantized.bytes);
  const fp32Scores = await score(fp32Bytes);

  // storage of the prunable weights
  const int8ByName = new Map(quantized.weights.map((w) => [w.name, w]));
  const sizes: QuantizedRecord['sizes'] = {
    denseFp32Bytes: 0, sparseFp32Bytes: 0, denseInt8Bytes: 0, sparseInt8Bytes: 0, onnxFp32Bytes: fp32Bytes.length, onnxInt8Bytes: quantized.bytes.length,
    int8Tensors: 0, nonzeroFp32: 0, nonzeroInt8: 0,
  };
  for (const name of task.prunable(model)) {
    const param = model.params.get(name);
    if (!param) continue;
    const values = (await param.data()) as Float32Array;
    const nonzero = countNonzero(values);
    const int8 = int8ByName.get(name);
    sizes.denseFp32Bytes += 4 * values.length;
    sizes.sparseFp32Bytes += bitmapEncodingBytes(values.length, nonzero);
    sizes.nonzeroFp32 += nonzero;
    if (int8) {
      sizes.int8Tensors++;
      sizes.denseInt8Bytes += values.length + 4 * int8.channels;
      sizes.sparseInt8Bytes += bitmapInt8EncodingBytes(values.length, int8.nonzeroInt8, int8.channels);
      sizes.nonzeroInt8 += int8.nonzeroInt8;
    } else {
      // not quantized in the graph: fp32 in both encodings
      sizes.denseInt8Bytes += 4 * values.length;
      sizes.sparseInt8Bytes += bitmapEncodingBytes(values.length, nonzero);
      sizes.nonzeroInt8 += nonzero;
    }
  }

  let latencyRecord: QuantizedRecord['latency'];
  if (latency) {
    const inputs = definition.latencyInputs ? { inputs: definition.latencyInputs } : { inputShape: [3, 32, 32] };
    const report = await measureLatencyAgainstDense(quantized.bytes, fp32Bytes, {
      ...inputs, provider: 'cpu', threads: latency.threads, batchSizes: { latency: 1, throughput: latency.throughputBatch }, rounds: latency.rounds,
    });
    latencyRecord = interleavedLatencyRecord(report);
  }
  return {
    calibration: { method: settings.calibration, ...(settings.percentile !== undefined ? { percentile: settings.percentile } : {}), examples: calibrated },
    ...int8Scores,
    fp32Quality: fp32Scores.quality,
    sizes,
    ...(latencyRecord ? { latency: latencyRecord } : {}),
    operators,
    activations: quantized.activations.length,
    absorbedRelus: quantized.absorbedRelus,
  };
}
