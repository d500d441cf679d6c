import {
  DENSE_METHOD,
  PERCENT_QUALITY_METRICS,
  latencyFigures,
  targetLabel,
  targetValue,
  type LatencyRecord,
  type RunDescription,
  type RunRecord,
} from '@prunebench/harness';

export { DENSE_METHOD, targetLabel };

const TARGET_KIND_ORDER = ['compression', 'sparsity', 'flops-reduction', 'n-of-m'];

/** Orders targets: compression ratios ascending, then sparsities, then FLOP-reduction fractions, then N:M densities, each ascending. */
export function compareTargets(a: RunDescription['target'], b: RunDescription['target']): number {
  const rank = (t: RunDescription['target']): [number, number] =>
    t === null || t === undefined ? [0, 0] : [TARGET_KIND_ORDER.indexOf(t.kind) + 1, targetValue(t)];
  const [ka, va] = rank(a);
  const [kb, vb] = rank(b);
  return ka - kb || va - vb;
}

/**
 * A method with its options: runs differing only in options are different leaderboard entries; so are runs with and
 * without the suite's distillation (`+ distillation (α=…, T=…)`).
 */
export function methodLabel(description: RunDescription): string {
  const options = description.options ?? {};
  const keys = Object.keys(options).sort();
  const kd = description.distillation ? ` + distillation (α=${description.distillation.alpha}, T=${description.distillation.temperature})` : '';
  if (keys.length === 0) return `${description.method}${kd}`;
  const shown = keys.map((key) => `${key}=${typeof options[key] === 'string' ? options[key] : JSON.stringify(options[key])}`);
  return `${description.method} (${shown.join(', ')})${kd}`;
}

export interface Summary {
  mean: number;
  /** Sample standard deviation (n − 1); 0 when n = 1. */
  std: number;
  n: number;
}

export function summarize(values: number[]): Summary {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  const variance = n > 1 ? values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance), n };
}

/** The seeds of one method (with its options) at one target of one task, averaged. */
export interface RunGroup {
  task: string;
  method: string;
  label: string;
  target: RunDescription['target'];
  targetLabel: string;
  seeds: number[];
  records: RunRecord[];
  quality: Summary;
  qualityName: string;
  compressionRatio: Summary;
  theoreticalSpeedup: Summary;
  macReduction: Summary;
  paramsNonzero: Summary;
  paramsTotal: number;
  /** Mean batch-1 latency p50 in ms over the seeds that measured it, on the first provider; null when none did. */
  latencyP50Ms: Summary | null;
  /** Each provider's latency over the seeds, in the records' provider order. */
  latencyByProvider: ProviderLatency[];
  /** Flatness: mean loss increase under random / gradient-direction perturbations; null when no seed measured it. */
  flatness: { random: Summary; worstCase: Summary; radius: number } | null;
  budgetUsed: Summary;
  budgetGranted: number;
}

/** Groups completed records by (task, method + options, target); order: task, target, then mean quality desc. */
export function groupRuns(records: RunRecord[]): RunGroup[] {
  const byKey = new Map<string, RunRecord[]>();
  for (const record of records) {
    if (record.status !== 'completed') continue;
    const d = record.description;
    const key = JSON.stringify([d.task, methodLabel(d), targetLabel(d.target)]);
    const list = byKey.get(key) ?? [];
    list.push(record);
    byKey.set(key, list);
  }
  const groups = [...byKey.values()].map(makeGroup);
  groups.sort(
    (a, b) =>
      a.task.localeCompare(b.task) ||
      compareTargets(a.target, b.target) ||
      b.quality.mean - a.quality.mean ||
      a.label.localeCompare(b.label),
  );
  return groups;
}

function makeGroup(records: RunRecord[]): RunGroup {
  const first = records[0];
  const d = first.description;
  const latencyByProvider = providerLatencies(records);
  return {
    task: d.task,
    method: d.method,
    label: methodLabel(d),
    target: d.target ?? null,
    targetLabel: targetLabel(d.target),
    seeds: records.map((r) => r.description.seed).sort((a, b) => a - b),
    records,
    quality: summarize(records.map((r) => r.metrics.quality)),
    qualityName: first.metrics.qualityName,
    compressionRatio: summarize(records.map((r) => r.metrics.compressionRatio)),
    theoreticalSpeedup: summarize(records.map((r) => r.metrics.theoreticalSpeedup)),
    macReduction: summarize(records.map((r) => macReduction(r))),
    paramsNonzero: summarize(records.map((r) => r.metrics.params.nonzero)),
    paramsTotal: first.metrics.params.total,
    latencyP50Ms: latencyByProvider[0]?.p50Ms ?? null,
    latencyByProvider,
    flatness: flatnessSummary(records),
    budgetUsed: summarize(records.map((r) => r.budget.usedExamples)),
    budgetGranted: d.budgetExamples ?? first.budget.totalExamples,
  };
}

/** One provider's batch-1 latency of a group, over the seeds that measured it. */
export interface ProviderLatency {
  provider: string;
  /** The devices the seeds ran on, distinct, joined by "; " (normally one). */
  device: string;
  /** Some seed ran on a software adapter (a CPU rasterizer): not a GPU speed figure. */
  software: boolean;
  p50Ms: Summary;
  /** The interval of the median (one seed measured with rounds); null otherwise. */
  p50IntervalMs: [number, number] | null;
  /** Speed-up against the dense model timed in the same rounds (p50 over rounds), over seeds; null for older records. */
  speedupVsDense: Summary | null;
  /** Its interval (one seed); null otherwise. */
  speedupInterval: [number, number] | null;
  /** Seeds whose speed-up interval holds 1 (no measurable speed-up), of the seeds that measured one. */
  withinNoise: { seeds: number; of: number };
}

function providerLatencies(records: RunRecord[]): ProviderLatency[] {
  const byProvider = new Map<string, LatencyRecord[]>();
  for (const record of records) {
    for (const figure of latencyFigures(record.metrics)) {
      byProvider.set(figure.provider, [...(byProvider.get(figure.provider) ?? []), figure]);
    }
  }
  return [...byProvider].map(([provider, figures]) => {
    const single = figures.length === 1 ? figures[0] : null;
    const compared = figures.flatMap((f) => (f.speedupVsDense ? [f.speedupVsDense.batch1] : []));
    return {
      provider,
      device: [...new Set(figures.map((f) => f.device))].join('; '),
      software: figures.some((f) => f.softwareDevice === true),
      p50Ms: summarize(figures.map((f) => f.batch1Ms.p50)),
      p50IntervalMs: single?.batch1Ms.p50Low !== undefined && single.batch1Ms.p50High !== undefined ? [single.batch1Ms.p50Low, single.batch1Ms.p50High] : null,
      speedupVsDense: compared.length > 0 ? summarize(compared.map((c) => c.p50)) : null,
      speedupInterval: single?.speedupVsDense ? [single.speedupVsDense.batch1.low, single.speedupVsDense.batch1.high] : null,
      withinNoise: { seeds: compared.filter((c) => c.withinNoise).length, of: compared.length },
    };
  });
}

function flatnessSummary(records: RunRecord[]): RunGroup['flatness'] {
  const measured = records.flatMap((r) => (r.metrics.flatness ? [r.metrics.flatness] : []));
  if (measured.length === 0) return null;
  return {
    random: summarize(measured.map((f) => f.lossIncrease)),
    worstCase: summarize(measured.map((f) => f.worstCaseLossIncrease)),
    radius: measured[0].radius,
  };
}

/** Fraction of the dense model's MACs removed: 1 − effective / dense. */
export function macReduction(record: RunRecord): number {
  const { dense, effective } = record.metrics.macs;
  return dense > 0 ? 1 - effective / dense : 0;
}

/** Tasks present in the records, sorted. */
export function tasksOf(records: RunRecord[]): string[] {
  return [...new Set(records.map((r) => r.description.task))].sort();
}

/**
 * Factor that turns the stored quality into the displayed one: 100 for accuracy-like metrics stored as
 * fractions (so they read as %, like published tables), 1 otherwise (MCC, or values already in %).
 */
export function qualityDisplayFactor(records: RunRecord[]): number {
  const completed = records.filter((r) => r.status === 'completed');
  if (completed.length === 0) return 1;
  const percentLike = completed.every((r) => PERCENT_QUALITY_METRICS.has(r.metrics.qualityName));
  const fractions = completed.every((r) => Math.abs(r.metrics.quality) <= 1);
  return percentLike && fractions ? 100 : 1;
}
