import { describe, expect, it } from 'vitest';
import { itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { interleavedLatencyRecord, measureLatencyAgainstDense, type BatchComparison } from './interleaved.js';
import { GPU_PROVIDER_INSTALL, probeExecutionProvider } from './providers.js';
import { tinyConvOnnx } from './tiny-onnx.js';

// Structure only: no speed is asserted (speed is measured in benchmarks/, never by tests).
const QUICK = { inputShape: [3, 8, 8], batchSizes: { latency: 1, throughput: 4 }, threads: 1, warmupIterations: 2, rounds: 6, roundIterations: { latency: 3, throughput: 2 }, roundMinTimeMs: 0 };

function expectComparison(c: BatchComparison, batch: number) {
  expect(c.batch).toBe(batch);
  expect(c.rounds).toBe(6);
  for (const timing of [c.model, c.dense]) {
    expect(timing.roundMedians).toHaveLength(6);
    expect(timing.ms.samples).toBeGreaterThanOrEqual(6 * (batch === 1 ? 3 : 2));
    expect(timing.p50.low).toBeLessThanOrEqual(timing.p50.median);
    expect(timing.p50.median).toBeLessThanOrEqual(timing.p50.high);
    expect(timing.p50.confidence).toBeCloseTo(1 - 2 / 64, 12); // 6 rounds: [min, max] of the round medians
  }
  expect(c.speedup.low).toBeLessThanOrEqual(c.speedup.median);
  expect(c.speedup.median).toBeLessThanOrEqual(c.speedup.high);
  expect(c.speedup.withinNoise).toBe(c.speedup.low <= 1 && c.speedup.high >= 1);
}

describe('measureLatencyAgainstDense', () => {
  it('times a model and the dense one in interleaved rounds, with intervals, and records both', async () => {
    const bytes = tinyConvOnnx();
    const report = await measureLatencyAgainstDense(bytes, bytes, QUICK);
    expect(report.provider).toBe('cpu');
    expect(report.softwareDevice).toBe(false);
    expect(report.device).toMatch(/logical cores/);
    expect(report.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: [3, 8, 8] }]);
    expect(report.method).toMatch(/interleaved with the dense model: 6 rounds/);
    expectComparison(report.latency, 1);
    expectComparison(report.throughput, 4);
    const record = interleavedLatencyRecord(report);
    expect(record).toEqual({
      provider: 'cpu',
      threads: 1,
      device: report.device,
      softwareDevice: false,
      batch1Ms: {
        p50: report.latency.model.p50.median, p90: report.latency.model.ms.p90, p99: report.latency.model.ms.p99,
        p50Low: report.latency.model.p50.low, p50High: report.latency.model.p50.high,
      },
      throughputBatch: 4,
      throughputPerSecond: report.throughput.model.examplesPerSecond,
      rounds: 6,
      dense: {
        batch1Ms: { p50: report.latency.dense.p50.median, p50Low: report.latency.dense.p50.low, p50High: report.latency.dense.p50.high },
        throughputPerSecond: report.throughput.dense.examplesPerSecond,
      },
      speedupVsDense: {
        batch1: { p50: report.latency.speedup.median, low: report.latency.speedup.low, high: report.latency.speedup.high, confidence: report.latency.speedup.confidence, withinNoise: report.latency.speedup.withinNoise },
        throughput: { p50: report.throughput.speedup.median, low: report.throughput.speedup.low, high: report.throughput.speedup.high, confidence: report.throughput.speedup.confidence, withinNoise: report.throughput.speedup.withinNoise },
      },
    });
  });

  it('rejects bad options naming the field, and a dense model with other inputs', async () => {
    const bytes = tinyConvOnnx();
    await expect(measureLatencyAgainstDense(bytes, bytes, { ...QUICK, rounds: 0 })).rejects.toThrow(/rounds must be a positive integer/);
    await expect(measureLatencyAgainstDense(bytes, bytes, { ...QUICK, roundIterations: { latency: 0, throughput: 1 } })).rejects.toThrow(/roundIterations.latency/);
    await expect(measureLatencyAgainstDense(bytes, bytes, { ...QUICK, inputName: 'pixels' })).rejects.toThrow(/inputName "pixels"/);
    await expect(measureLatencyAgainstDense(bytes, new Uint8Array(0), QUICK)).rejects.toThrow(/onnxBytes/);
    const atTwo = await measureLatencyAgainstDense(bytes, bytes, { ...QUICK, batchSizes: { latency: 2, throughput: 2 } });
    expect(() => interleavedLatencyRecord(atTwo)).toThrow(/batch 1/);
  });
});

describe('probeExecutionProvider', () => {
  it('starts cpu and names its device', async () => {
    const cpu = await probeExecutionProvider('cpu');
    expect(cpu).toMatchObject({ ok: true, software: false, device: expect.stringMatching(/logical cores/) });
  });

  it('says what to install for cuda and tensorrt when their provider libraries are absent', async () => {
    for (const provider of ['cuda', 'tensorrt'] as const) {
      const probe = await probeExecutionProvider(provider);
      if (probe.ok) continue; // a machine with the provider libraries and a GPU
      expect(probe.reason).toMatch(new RegExp(`${provider}|CUDA|cuda`));
      if (/missing/.test(probe.reason)) expect(probe.reason).toContain(GPU_PROVIDER_INSTALL);
    }
  });
});

const webgpu = await webgpuRequirement();
itRequires(webgpu, 'measures on the webgpu provider, the adapter recorded (software adapters labelled)', async () => {
  const probe = await probeExecutionProvider('webgpu');
  expect(probe).toMatchObject({ ok: true });
  const bytes = tinyConvOnnx();
  const record = interleavedLatencyRecord(await measureLatencyAgainstDense(bytes, bytes, { ...QUICK, provider: 'webgpu' }));
  expect(record.provider).toBe('webgpu');
  expect(record.batch1Ms.p50).toBeGreaterThan(0);
  expect(record.speedupVsDense!.batch1.p50).toBeGreaterThan(0);
  expect(record.device).not.toMatch(/unknown/);
  if (/llvmpipe|lavapipe|swiftshader/i.test(record.device)) {
    expect(record.softwareDevice).toBe(true);
    expect(record.device).toContain('(software adapter)');
  }
}, 120_000);
