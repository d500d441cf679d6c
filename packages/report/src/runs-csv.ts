import Papa from 'papaparse';
import { resolveLatency, targetValue, type RunRecord } from '@prunebench/harness';
import { targetLabel } from './run-groups.js';

type Cell = string | number | boolean | null;

const KNOWN_DESCRIPTION_FIELDS = new Set(['suite', 'task', 'method', 'options', 'target', 'seed', 'budgetExamples', 'taskOptions', 'latency', 'flatness']);

/** The columns always present, in this order; metrics the record format gains later follow, sorted by name. */
export const RUNS_CSV_BASE_COLUMNS = [
  'id',
  'status',
  'suite',
  'task',
  'method',
  'options',
  'target',
  'target_kind',
  'target_value',
  'seed',
  'budget_examples',
  'task_options',
  'latency_measured',
  'latency_settings',
  'flatness_settings',
  'quality_name',
  'quality',
  'top1',
  'top5',
  'accuracy',
  'mcc',
  'f1',
  'params_total',
  'params_prunable',
  'params_nonzero',
  'params_nonzero_prunable',
  'compression_ratio',
  'sparsity',
  'macs_dense',
  'macs_effective',
  'theoretical_speedup',
  'latency_provider',
  'latency_threads',
  'latency_device',
  'latency_batch1_p50_ms',
  'latency_batch1_p90_ms',
  'latency_batch1_p99_ms',
  'latency_batch1_p50_low_ms',
  'latency_batch1_p50_high_ms',
  'latency_software_device',
  'latency_rounds',
  'latency_dense_batch1_p50_ms',
  'latency_speedup_vs_dense_batch1_p50',
  'latency_speedup_vs_dense_batch1_low',
  'latency_speedup_vs_dense_batch1_high',
  'latency_speedup_vs_dense_batch1_within_noise',
  'latency_throughput_batch',
  'latency_throughput_per_second',
  'flatness_radius',
  'flatness_examples',
  'flatness_samples',
  'flatness_base_loss',
  'flatness_loss_increase',
  'flatness_max_loss_increase',
  'flatness_worst_case_loss_increase',
  'budget_total_examples',
  'budget_used_examples',
  'budget_teacher_forward_examples',
  'distillation',
  'wall_time_seconds',
  'started_at',
  'finished_at',
  'error',
  'resumed',
  'details',
  'env_backend',
  'env_device',
  'env_git_commit',
  'env_node',
  'env_platform',
  'env_cpus',
] as const;

/** One row per run: the description's fields and every metric, flattened (params.total → params_total). */
export function runsCsv(records: RunRecord[]): string {
  const rows = records.map(runCsvRow);
  const known = new Set<string>(RUNS_CSV_BASE_COLUMNS);
  const extra = [...new Set(rows.flatMap((row) => Object.keys(row)))].filter((c) => !known.has(c)).sort();
  const columns = [...RUNS_CSV_BASE_COLUMNS, ...extra];
  const data = rows.map((row) => columns.map((column) => row[column] ?? ''));
  return Papa.unparse({ fields: columns, data }, { newline: '\n' }) + '\n';
}

export function runCsvRow(record: RunRecord): Record<string, Cell> {
  const d = record.description;
  const target = d.target ?? null;
  const row: Record<string, Cell> = {
    id: record.id,
    status: record.status,
    suite: d.suite,
    task: d.task,
    method: d.method,
    options: JSON.stringify(d.options ?? {}),
    target: target === null ? '' : targetLabel(target),
    target_kind: target?.kind ?? '',
    target_value: target === null ? '' : targetValue(target),
    seed: d.seed,
    budget_examples: d.budgetExamples,
    budget_total_examples: record.budget?.totalExamples ?? null,
    budget_used_examples: record.budget?.usedExamples ?? null,
    budget_teacher_forward_examples: record.budget?.teacherForwardExamples ?? null,
    distillation: d.distillation === undefined ? null : JSON.stringify(d.distillation),
    wall_time_seconds: record.wallTimeSeconds ?? null,
    started_at: record.startedAt ?? null,
    finished_at: record.finishedAt ?? null,
    error: record.error ?? null,
    task_options: d.taskOptions === undefined ? null : JSON.stringify(d.taskOptions),
    latency_measured: d.latency === undefined ? null : true,
    latency_settings: d.latency === undefined ? null : JSON.stringify(resolveLatency(d.latency)),
    flatness_settings: d.flatness === undefined ? null : JSON.stringify(d.flatness),
    resumed: record.resumed ?? null,
    details: record.details === undefined ? null : JSON.stringify(record.details),
  };
  // Description fields the record format gains later: one column each, after the known ones.
  for (const [key, value] of Object.entries(d)) {
    if (KNOWN_DESCRIPTION_FIELDS.has(key) || value === undefined) continue;
    row[`description_${snakeCase(key)}`] = value !== null && typeof value === 'object' ? JSON.stringify(value) : (value as Cell);
  }
  if (record.metrics) flattenInto(row, record.metrics as unknown as Record<string, unknown>, []);
  const env = record.environment;
  if (env) {
    row.env_backend = env.backend;
    row.env_device = env.device;
    row.env_git_commit = env.gitCommit;
    row.env_node = env.node;
    row.env_platform = env.platform;
    row.env_cpus = env.cpus;
    for (const [name, version] of Object.entries(env.versions ?? {})) row[`env_version_${snakeCase(name)}`] = version;
  }
  return row;
}

function flattenInto(row: Record<string, Cell>, value: Record<string, unknown>, path: string[]): void {
  for (const [key, inner] of Object.entries(value)) {
    const innerPath = [...path, key];
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
      flattenInto(row, inner as Record<string, unknown>, innerPath);
    } else if (inner !== undefined) {
      row[metricColumnName(innerPath)] = Array.isArray(inner) ? JSON.stringify(inner) : (inner as Cell);
    }
  }
}

/** `['params','total']` → `params_total`; a `…Ms` segment moves its unit to the end: `latency_batch1_p50_ms`. */
export function metricColumnName(path: string[]): string {
  let unit = '';
  const parts = path.map((segment) => {
    const match = /^(.+)Ms$/.exec(segment);
    if (match) {
      unit = '_ms';
      return snakeCase(match[1]);
    }
    return snakeCase(segment);
  });
  return parts.join('_') + unit;
}

function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
}
