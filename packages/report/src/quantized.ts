import type { QuantizedRecord, RunRecord } from '@prunebench/harness';
import { formatNumber, markdownTable } from './format.js';
import { DENSE_METHOD, methodLabel, qualityDisplayFactor, targetLabel } from './run-groups.js';

/** The int8 kernels ONNX Runtime ran (fused QDQ groups), counted: `QLinearConv ×19, QGemm ×1`. */
export function int8KernelsText(operators: Record<string, number>): string {
  const kernels = Object.entries(operators).filter(([op]) => /^(QLinear|QGemm|MatMulInteger|ConvInteger|DynamicQuantize|QAttention)/.test(op));
  return kernels.length ? kernels.map(([op, n]) => `${op} ×${n}`).join(', ') : 'none (float ops between Q/DQ pairs)';
}

function kib(bytes: number): string {
  return `${formatNumber(bytes / 1024, 0)} KiB`;
}

function latencyCells(latency: QuantizedRecord['latency']): string[] {
  if (!latency?.dense) return ['–', '–', '–', '–'];
  const dense = latency.dense;
  const range = (low: number | undefined, high: number | undefined, digits: number) =>
    low === undefined || high === undefined ? '' : ` [${formatNumber(low, digits)}–${formatNumber(high, digits)}]`;
  const s = latency.speedupVsDense;
  return [
    `${formatNumber(dense.batch1Ms.p50, 3)}${range(dense.batch1Ms.p50Low, dense.batch1Ms.p50High, 3)} ms`,
    `${formatNumber(latency.batch1Ms.p50, 3)}${range(latency.batch1Ms.p50Low, latency.batch1Ms.p50High, 3)} ms`,
    s ? `×${formatNumber(s.batch1.p50)}${range(s.batch1.low, s.batch1.high, 2)}${s.batch1.withinNoise ? ' noise' : ''}` : '–',
    s ? `×${formatNumber(s.throughput.p50)}${range(s.throughput.low, s.throughput.high, 2)}${s.throughput.withinNoise ? ' noise' : ''} (${formatNumber(dense.throughputPerSecond, 0)} → ${formatNumber(latency.throughputPerSecond, 0)}/s)` : '–',
  ];
}

/**
 * The post-training int8 section of a task (runs of suites with `quantize`): per run, quality of the tfjs model, of
 * its fp32 ONNX export and of the int8 QDQ export (ONNX Runtime, same test split); storage of the prunable weights
 * (dense fp32 / sparse fp32 / sparse int8); batch-1 latency fp32 vs int8 interleaved, with the speed-up.
 */
export function quantizedMarkdown(records: readonly RunRecord[]): string | null {
  const table = quantizedTable(records);
  return table ? ['### Post-training int8 quantization', '', markdownTable(table.header, table.rows), '', table.note].join('\n') : null;
}

/** The section's table (header, rows) and its note, for the Markdown and HTML renderings; null without quantized runs. */
export function quantizedTable(records: readonly RunRecord[]): { header: string[]; rows: string[][]; note: string } | null {
  const runs = records
    .filter((r) => r.status === 'completed' && r.metrics.quantized)
    .sort((a, b) => Number(b.description.method === DENSE_METHOD) - Number(a.description.method === DENSE_METHOD) || a.id.localeCompare(b.id));
  if (runs.length === 0) return null;
  const factor = qualityDisplayFactor(runs);
  const q = (value: number) => formatNumber(value * factor);
  const name = runs[0].metrics.qualityName;
  const unit = factor === 100 ? ' (%)' : '';
  const rows = runs.map((r) => {
    const m = r.metrics;
    const z = m.quantized!;
    const s = z.sizes;
    const calibration = `${z.calibration.method}${z.calibration.percentile !== undefined ? ` ${z.calibration.percentile}` : ''}, ${z.calibration.examples} ex.`;
    return [
      methodLabel(r.description),
      r.description.method === DENSE_METHOD ? '—' : targetLabel(r.description.target),
      String(r.description.seed),
      q(m.quality),
      q(z.fp32Quality),
      `${q(z.quality)} (${z.quality >= z.fp32Quality ? '+' : '−'}${formatNumber(Math.abs(z.quality - z.fp32Quality) * factor)})`,
      calibration,
      kib(s.denseFp32Bytes),
      `${kib(s.sparseFp32Bytes)} (${formatNumber(s.denseFp32Bytes / s.sparseFp32Bytes)}×)`,
      `${kib(s.sparseInt8Bytes)} (${formatNumber(s.denseFp32Bytes / s.sparseInt8Bytes)}×)`,
      ...latencyCells(z.latency),
      int8KernelsText(z.operators),
    ];
  });
  const header = [
    'method', 'target', 'seed', `${name}${unit} tfjs fp32`, 'ONNX fp32', 'ONNX int8 (Δ vs fp32)', 'calibration',
    'dense fp32', 'sparse fp32', 'sparse int8', 'fp32 batch-1 p50', 'int8 batch-1 p50', 'int8 speed-up batch 1', 'int8 speed-up throughput', 'int8 kernels (ORT)',
  ];
  const device = runs.find((r) => r.metrics.quantized!.latency)?.metrics.quantized!.latency!.device;
  return {
    header,
    rows,
    note: `After each run's method (and for the dense row) the final weights are exported to ONNX and quantized post-training: per-output-channel symmetric int8 weights, per-tensor uint8 activations calibrated on the first validation examples, a QDQ model that ONNX Runtime fuses into its int8 kernels (listed, from its optimised graph). ${name} is scored on the same test/dev split in tfjs (the run's quality), on the fp32 ONNX export and on the int8 one (Δ: int8 − fp32 ONNX). Sizes are the prunable weights' storage: dense fp32 (4 B each), sparse fp32 (1-bit bitmap + fp32 nonzeros), sparse int8 (bitmap + 8-bit nonzeros + one fp32 scale per output channel, one per embedding table); × = dense fp32 / that size (docs/metrics.md, *Quantization*). Latency: the int8 and the fp32 ONNX model of the same weights timed interleaved in one process on ONNX Runtime's cpu provider${device ? ` (${device})` : ''}, batch-1 median [95 % interval over rounds]; speed-up int8 vs fp32 [95 % interval], "noise" when it holds 1.`,
  };
}
