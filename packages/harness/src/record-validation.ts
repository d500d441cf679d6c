import type { RunMetrics } from './record.js';

/**
 * The one rule for a usable run record, shared by `run` (an unusable record is run again, never skipped), `merge`
 * and `report` (an unusable record is listed as a problem, never shown). Returns the first defect, or null.
 * `expectedId`: the folder the record was read from (a record carrying another run's id is a defect).
 */
export function recordDefect(value: unknown, expectedId?: string): string | null {
  if (!isObject(value)) return 'not a JSON object';
  if (typeof value.id !== 'string') return 'missing string field "id"';
  if (value.status !== 'completed' && value.status !== 'failed') return `status must be "completed" or "failed", got ${JSON.stringify(value.status)}`;
  if (expectedId !== undefined && value.id !== expectedId) return `carries the id of another run (${JSON.stringify(value.id)}, folder ${expectedId})`;
  const description = value.description;
  if (!isObject(description)) return 'missing object field "description"';
  for (const key of ['suite', 'task', 'method'] as const) {
    if (typeof description[key] !== 'string') return `missing string field "description.${key}"`;
  }
  if (typeof description.seed !== 'number') return 'missing number field "description.seed"';
  if (!isObject(value.budget)) return 'missing object field "budget"';
  if (!isObject(value.environment)) return 'missing object field "environment"';
  if (value.phaseSeconds !== undefined) {
    if (!isObject(value.phaseSeconds)) return `"phaseSeconds" must be an object of seconds (got ${describe(value.phaseSeconds)})`;
    // Any phase name (a later version may add phases), but every value a duration.
    for (const [phase, seconds] of Object.entries(value.phaseSeconds)) {
      if (typeof seconds !== 'number' || !(seconds >= 0) || !Number.isFinite(seconds)) {
        return `"phaseSeconds.${phase}" must be a finite number of seconds >= 0 (got ${describe(seconds)})`;
      }
    }
  }
  if (value.training !== undefined) {
    if (!isObject(value.training)) return `"training" must be an object (got ${describe(value.training)})`;
    for (const key of ['steps', 'compiledSteps'] as const) {
      const n = value.training[key];
      if (!Number.isInteger(n) || (n as number) < 0) return `"training.${key}" must be an integer >= 0 (got ${describe(n)})`;
    }
    // batchSeconds is absent in records of earlier versions
    for (const key of ['seconds', 'batchSeconds'] as const) {
      const t = value.training[key];
      if (key === 'batchSeconds' && t === undefined) continue;
      if (typeof t !== 'number' || !(t >= 0) || !Number.isFinite(t)) return `"training.${key}" must be a finite number of seconds >= 0 (got ${describe(t)})`;
    }
  }
  if (value.status === 'failed') return null;
  if (!isObject(value.metrics)) return 'missing object field "metrics"';
  return metricsDefect(value.metrics as Partial<RunMetrics>);
}

/**
 * The first metric of a completed run that is missing or not a finite number (JSON turns NaN into null), or null.
 * The harness checks its own metrics with it before recording a run as completed.
 */
export function metricsDefect(metrics: Partial<RunMetrics>): string | null {
  const finite = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
  for (const key of ['quality', 'compressionRatio', 'theoreticalSpeedup'] as const) {
    if (!finite(metrics[key])) return `missing finite number "metrics.${key}" (got ${describe(metrics[key])})`;
  }
  const groups: Array<[string, unknown, readonly string[]]> = [
    ['params', metrics.params, ['total', 'prunable', 'nonzero']],
    ['macs', metrics.macs, ['dense', 'effective']],
  ];
  if (metrics.quantized !== undefined) groups.push(['quantized', metrics.quantized, ['quality', 'fp32Quality']]);
  if (metrics.flatness !== undefined) {
    groups.push(['flatness', metrics.flatness, ['baseLoss', 'lossIncrease', 'maxLossIncrease', 'worstCaseLossIncrease']]);
  }
  for (const [group, value, keys] of groups) {
    if (!isObject(value)) return `missing object field "metrics.${group}"`;
    for (const key of keys) {
      if (!finite(value[key])) return `missing finite number "metrics.${group}.${key}" (got ${describe(value[key])})`;
    }
  }
  for (const key of ['top1', 'top5', 'accuracy', 'mcc', 'f1'] as const) {
    if (metrics[key] !== undefined && !finite(metrics[key])) return `"metrics.${key}" is not a finite number (got ${describe(metrics[key])})`;
  }
  return null;
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
