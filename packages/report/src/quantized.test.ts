import { describe, expect, it } from 'vitest';
import type { QuantizedRecord } from '@prunebench/harness';
import { renderHtmlReport } from './html-report.js';
import { buildTaskLeaderboard, leaderboardMarkdown } from './leaderboard.js';
import { int8KernelsText, quantizedMarkdown } from './quantized.js';
import { runCsvRow } from './runs-csv.js';
import { syntheticRecord } from './synthetic-records.js';

function quantized(quality: number, fp32Quality: number, withLatency = true): QuantizedRecord {
  return {
    calibration: { method: 'percentile', percentile: 99.99, examples: 512 },
    quality, qualityName: 'top1', top1: quality, fp32Quality,
    sizes: {
      denseFp32Bytes: 1_048_576, sparseFp32Bytes: 294_912, denseInt8Bytes: 270_000, sparseInt8Bytes: 102_400,
      onnxFp32Bytes: 1_100_000, onnxInt8Bytes: 300_000, int8Tensors: 20, nonzeroFp32: 65_536, nonzeroInt8: 65_000,
    },
    ...(withLatency ? {
      latency: {
        provider: 'cpu', threads: 2, device: 'Test CPU (2 logical cores)', softwareDevice: false,
        batch1Ms: { p50: 0.5, p90: 0.6, p99: 0.9, p50Low: 0.45, p50High: 0.55 }, throughputBatch: 128, throughputPerSecond: 600, rounds: 10,
        dense: { batch1Ms: { p50: 0.8, p50Low: 0.7, p50High: 0.9 }, throughputPerSecond: 300 },
        speedupVsDense: {
          batch1: { p50: 1.6, low: 1.4, high: 1.8, confidence: 0.98, withinNoise: false },
          throughput: { p50: 2, low: 0.9, high: 2.5, confidence: 0.98, withinNoise: true },
        },
      },
    } : {}),
    operators: { Add: 3, DequantizeLinear: 6, QGemm: 1, QLinearAdd: 6, QLinearConv: 19, QuantizeLinear: 4 },
    activations: 29, absorbedRelus: 18,
  };
}

describe('the post-training int8 section', () => {
  const dense = syntheticRecord({ method: 'dense', target: null, seed: 0, quality: 0.92 });
  dense.metrics.quantized = quantized(0.9185, 0.92);
  const pruned = syntheticRecord({ method: 'magnitude', target: { kind: 'compression', ratio: 4 }, seed: 0, quality: 0.9 });
  pruned.metrics.quantized = quantized(0.899, 0.9, false);

  it('lists quality tfjs / ONNX fp32 / ONNX int8, the three sizes and latency fp32 vs int8 with intervals, dense first', () => {
    const markdown = quantizedMarkdown([pruned, dense])!;
    const lines = markdown.split('\n').filter((l) => l.startsWith('| '));
    expect(lines[0]).toContain('| top1 (%) tfjs fp32 | ONNX fp32 | ONNX int8 (Δ vs fp32) | calibration | dense fp32 | sparse fp32 | sparse int8 |');
    expect(lines[2]).toContain('| dense | — | 0 | 92.00 | 92.00 | 91.85 (−0.15) | percentile 99.99, 512 ex. | 1024 KiB | 288 KiB (3.56×) | 100 KiB (10.24×) |');
    expect(lines[2]).toContain('| 0.800 [0.700–0.900] ms | 0.500 [0.450–0.550] ms | ×1.60 [1.40–1.80] | ×2.00 [0.90–2.50] noise (300 → 600/s) | QGemm ×1, QLinearAdd ×6, QLinearConv ×19 |');
    expect(lines[3]).toMatch(/^\| magnitude \| compression=4 \| 0 \| 90.00 \| 90.00 \| 89.90 \(−0.10\) .*\| – \| – \| – \| – \|/);
    expect(quantizedMarkdown([syntheticRecord({ method: 'dense', target: null, seed: 0, quality: 0.9 })])).toBeNull();
  });

  it('appears in the task leaderboard and as quantized_* columns of runs.csv', () => {
    expect(leaderboardMarkdown([dense, pruned], 'cifar10-resnet56')).toContain('### Post-training int8 quantization');
    const row = runCsvRow(dense);
    expect(row.quantized_quality).toBe(0.9185);
    expect(row.quantized_sizes_sparse_int8_bytes).toBe(102_400);
    expect(row.quantized_latency_batch1_p50_ms).toBe(0.5);
    expect(row.quantized_latency_speedup_vs_dense_batch1_p50).toBe(1.6);
  });

  it('appears in the HTML report under its task', () => {
    const html = renderHtmlReport({
      title: 't', generatedAt: 'now', storeDir: 's', runCount: 2, boards: [buildTaskLeaderboard([dense, pruned], 'cifar10-resnet56')],
      charts: [], failed: [], problems: [], environment: [],
    });
    expect(html).toContain('<h3>Post-training int8 quantization</h3>');
    expect(html).toContain('100 KiB (10.24×)');
  });

  it('names only the integer kernels', () => {
    expect(int8KernelsText({ Conv: 3, MatMulIntegerToFloat: 12, Gemm: 1 })).toBe('MatMulIntegerToFloat ×12');
    expect(int8KernelsText({ Conv: 3 })).toBe('none (float ops between Q/DQ pairs)');
  });
});
