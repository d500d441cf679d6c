import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { RUNS_CSV_BASE_COLUMNS, metricColumnName, runsCsv } from './runs-csv.js';
import { syntheticRecord } from './synthetic-records.js';

function parse(csv: string): { fields: string[]; rows: Record<string, string>[] } {
  const parsed = Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: true });
  expect(parsed.errors).toEqual([]);
  return { fields: parsed.meta.fields ?? [], rows: parsed.data };
}

describe('runsCsv', () => {
  const compressed = syntheticRecord({
    method: 'magnitude',
    target: { kind: 'compression', ratio: 4 },
    seed: 3,
    quality: 0.9123,
    options: { scope: 'global', note: 'a, "quoted" value' },
    latencyP50Ms: 2.5,
    flatnessIncrease: 0.02,
  });
  const flops = syntheticRecord({ method: 'hrank', target: { kind: 'flops-reduction', fraction: 0.5 }, seed: 0, quality: 0.9 });
  const dense = syntheticRecord({ method: 'dense', target: null, seed: 0, quality: 0.9339 });
  const failed = syntheticRecord({ method: 'snip', target: { kind: 'compression', ratio: 8 }, seed: 1, quality: 0, status: 'failed', error: 'out of memory' });

  it('writes one row per run with flattened description and metrics, parsed back by papaparse', () => {
    const { fields, rows } = parse(runsCsv([compressed, flops, dense, failed]));
    expect(rows).toHaveLength(4);
    expect(fields.slice(0, RUNS_CSV_BASE_COLUMNS.length)).toEqual([...RUNS_CSV_BASE_COLUMNS]);
    const [c, f, d, x] = rows;
    expect(c.id).toBe(compressed.id);
    expect(c.target).toBe('compression=4');
    expect(c.target_kind).toBe('compression');
    expect(Number(c.target_value)).toBe(4);
    expect(JSON.parse(c.options)).toEqual({ scope: 'global', note: 'a, "quoted" value' });
    expect(Number(c.seed)).toBe(3);
    expect(Number(c.quality)).toBeCloseTo(0.9123, 10);
    expect(Number(c.params_total)).toBe(compressed.metrics.params.total);
    expect(Number(c.params_nonzero)).toBe(compressed.metrics.params.nonzero);
    expect(Number(c.macs_dense)).toBe(compressed.metrics.macs.dense);
    expect(Number(c.macs_effective)).toBe(compressed.metrics.macs.effective);
    expect(Number(c.compression_ratio)).toBe(4);
    expect(Number(c.latency_batch1_p50_ms)).toBe(2.5);
    expect(Number(c.latency_batch1_p99_ms)).toBeCloseTo(3.75, 10);
    expect(c.latency_provider).toBe('cpu');
    expect(Number(c.flatness_loss_increase)).toBeCloseTo(0.02, 10);
    expect(Number(c.flatness_worst_case_loss_increase)).toBeCloseTo(0.08, 10);
    expect(f.flatness_loss_increase).toBe('');
    expect(c.env_backend).toBe('tensorflow');
    expect(c.env_git_commit).toBe('abc1234');
    expect(f.target).toBe('flops=0.5');
    expect(f.latency_batch1_p50_ms).toBe('');
    expect(d.target).toBe('');
    expect(d.method).toBe('dense');
    expect(x.status).toBe('failed');
    expect(x.quality).toBe('');
    expect(x.error).toBe('out of memory');
  });

  it('keeps a stable column order and appends metrics added to the record format later', () => {
    const extended: any = syntheticRecord({ method: 'safe', target: { kind: 'compression', ratio: 2 }, seed: 0, quality: 0.9 });
    extended.metrics.calibrationError = 0.031;
    extended.metrics.flatness = { radius: 0.05, lossIncrease: 0.12 };
    extended.description.taskOptions = { trainSubset: 5000 };
    extended.description.latency = true;
    extended.description.calibrationSet = 'val';
    extended.details = { rounds: 3 };
    const first = parse(runsCsv([dense, extended])).fields;
    const second = parse(runsCsv([extended, dense])).fields;
    expect(second).toEqual(first);
    expect(first.at(-1)).toBe('env_version_prunebench');
    expect(first).toContain('calibration_error');
    expect(first.indexOf('calibration_error')).toBeGreaterThan(RUNS_CSV_BASE_COLUMNS.length - 1);
    const rows = parse(runsCsv([extended])).rows;
    expect(Number(rows[0].flatness_loss_increase)).toBe(0.12);
    expect(Number(rows[0].calibration_error)).toBe(0.031);
    expect(JSON.parse(rows[0].task_options)).toEqual({ trainSubset: 5000 });
    expect(rows[0].latency_measured).toBe('true');
    expect(rows[0].description_calibration_set).toBe('val');
    expect(JSON.parse(rows[0].details)).toEqual({ rounds: 3 });
  });

  it('names nested metric paths in snake case, units last', () => {
    expect(metricColumnName(['latency', 'batch1Ms', 'p50'])).toBe('latency_batch1_p50_ms');
    expect(metricColumnName(['params', 'total'])).toBe('params_total');
    expect(metricColumnName(['theoreticalSpeedup'])).toBe('theoretical_speedup');
  });

  it('writes only the header for no runs', () => {
    const csv = runsCsv([]);
    expect(csv.trim().split('\n')).toHaveLength(1);
    expect(csv.startsWith('id,status,suite,task,method')).toBe(true);
  });
});
