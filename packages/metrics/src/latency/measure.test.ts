import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { measureLatency, randomFeeds, toLatencyRecord } from './measure.js';
import { createOrtSession, ortSessionOptions } from './session.js';
import { tinyConvOnnx } from './tiny-onnx.js';

describe('the tiny ONNX fixture', () => {
  it('runs in onnxruntime-node and computes conv + relu', async () => {
    const session = await createOrtSession(tinyConvOnnx(), { provider: 'cpu', threads: 1 });
    const x = new ort.Tensor('float32', new Float32Array(2 * 3 * 8 * 8).fill(1), [2, 3, 8, 8]);
    const { y } = await session.run({ x });
    expect(y.dims).toEqual([2, 4, 6, 6]);
    // all-ones input: each output of filter o is relu(sum of its 27 weights); weights are ((i % 7) - 3) / 10
    const weights = Array.from({ length: 108 }, (_, i) => ((i % 7) - 3) / 10);
    const expected = [0, 1, 2, 3].map((o) => Math.max(0, weights.slice(27 * o, 27 * o + 27).reduce((a, b) => a + b, 0)));
    const data = y.data as Float32Array;
    for (let o = 0; o < 4; o++) expect(data[o * 36 + 7]).toBeCloseTo(expected[o], 5);
    await session.release();
  });
});

describe('measureLatency', () => {
  it('reports ordered percentiles, counts, settings and versions (no speed asserted)', async () => {
    const report = await measureLatency(tinyConvOnnx(), {
      inputShape: [3, 8, 8],
      batchSizes: { latency: 1, throughput: 16 },
      threads: 1,
      warmupIterations: 3,
      minIterations: 30,
      throughputMinIterations: 5,
      minTimeMs: 20,
    });
    expect(report.provider).toBe('cpu');
    expect(report.threads).toBe(1);
    expect(report.spinning).toBe(false);
    expect(report.inputName).toBe('x');
    expect(report.device).toMatch(/logical cores/);
    expect(report.versions.onnxruntimeNode).toBe('1.30.0');
    expect(report.versions.tinybench).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.versions.node).toBe(process.version);
    expect(report.latency.batch).toBe(1);
    expect(report.latency.iterations).toBeGreaterThanOrEqual(30);
    expect(report.latency.ms.samples).toBe(report.latency.iterations);
    expect(report.throughput.batch).toBe(16);
    expect(report.throughput.iterations).toBeGreaterThanOrEqual(5);
    for (const m of [report.latency, report.throughput]) {
      expect(m.ms.min).toBeLessThanOrEqual(m.ms.p50);
      expect(m.ms.p50).toBeLessThanOrEqual(m.ms.p90);
      expect(m.ms.p90).toBeLessThanOrEqual(m.ms.p99);
      expect(m.ms.p99).toBeLessThanOrEqual(m.ms.max);
      expect(m.examplesPerSecond).toBeCloseTo((m.batch * 1000) / m.ms.mean, 6);
    }
    const record = toLatencyRecord(report);
    expect(record).toEqual({
      provider: 'cpu',
      threads: 1,
      device: report.device,
      batch1Ms: { p50: report.latency.ms.p50, p90: report.latency.ms.p90, p99: report.latency.ms.p99 },
      throughputBatch: 16,
      throughputPerSecond: report.throughput.examplesPerSecond,
    });
  });

  it('rejects bad options with errors naming the field', async () => {
    await expect(measureLatency(tinyConvOnnx(), { inputShape: [] })).rejects.toThrow(/inputShape/);
    await expect(measureLatency(tinyConvOnnx(), { inputShape: [3, 8, 8], threads: 0 })).rejects.toThrow(/threads/);
    await expect(measureLatency(tinyConvOnnx(), { inputShape: [3, 8, 8], minIterations: 0 })).rejects.toThrow(/minIterations/);
    await expect(measureLatency(tinyConvOnnx(), { inputShape: [3, 8, 8], inputName: 'pixels', minTimeMs: 0 })).rejects.toThrow(/inputName "pixels"/);
    await expect(measureLatency(new Uint8Array(0), { inputShape: [3, 8, 8] })).rejects.toThrow(/onnxBytes/);
    await expect(measureLatency(tinyConvOnnx(), { inputShape: [3, 8, 8], provider: 'tpu' as 'cpu' })).rejects.toThrow(/provider/);
  });

  it('toLatencyRecord refuses a report not measured at batch 1', async () => {
    const report = await measureLatency(tinyConvOnnx(), {
      inputShape: [3, 8, 8], batchSizes: { latency: 2, throughput: 4 }, threads: 1, warmupIterations: 1, minIterations: 3, throughputMinIterations: 2, minTimeMs: 0,
    });
    expect(report.latency.batch).toBe(2);
    expect(() => toLatencyRecord(report)).toThrow(/batch 1/);
  });
});

describe('session settings', () => {
  it('fixes one inter-op thread, sequential execution and all graph optimisations', () => {
    expect(ortSessionOptions({ provider: 'cpu', threads: 3 })).toEqual({
      executionProviders: ['cpu'], intraOpNumThreads: 3, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    expect(ortSessionOptions({ provider: 'webgpu', threads: 1, spinning: true }).extra).toEqual({ session: { intra_op: { allow_spinning: '1' } } });
  });

  it('feeds seeded uniform [0, 1) inputs with a batch dimension', () => {
    const a = randomFeeds('x', 2, [3, 4]).x;
    const b = randomFeeds('x', 2, [3, 4]).x;
    expect(a.dims).toEqual([2, 3, 4]);
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from(b.data as Float32Array));
    expect((a.data as Float32Array).every((v) => v >= 0 && v < 1)).toBe(true);
  });
});
