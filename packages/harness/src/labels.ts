import type { PruningTarget } from '@prunebench/pruning';

/** The method name of every task's unpruned baseline row. */
export const DENSE_METHOD = 'dense';

/** A target as the logs and the command line say it: `2x`, `90% sparse`, `-50% FLOPs`, `2:4`, or `dense`. */
export function describeTarget(target: PruningTarget | null | undefined): string {
  if (!target) return DENSE_METHOD;
  if (target.kind === 'compression') return `${target.ratio}x`;
  if (target.kind === 'sparsity') return `${Number((target.fraction * 100).toFixed(6))}% sparse`;
  if (target.kind === 'n-of-m') return `${target.n}:${target.m}`;
  return `-${Math.round(target.fraction * 100)}% FLOPs`;
}

/** A target as reports and runs.csv name it: `compression=4`, `sparsity=0.9`, `flops=0.5`, `nm=2:4`, or `dense`. */
export function targetLabel(target: PruningTarget | null | undefined): string {
  if (!target) return DENSE_METHOD;
  if (target.kind === 'compression') return `compression=${target.ratio}`;
  if (target.kind === 'sparsity') return `sparsity=${target.fraction}`;
  if (target.kind === 'n-of-m') return `nm=${target.n}:${target.m}`;
  return `flops=${target.fraction}`;
}

/** The number a target asks for, for sorting and runs.csv: the ratio, the fraction, or N/M (the density an N:M pattern keeps). */
export function targetValue(target: PruningTarget): number {
  if (target.kind === 'compression') return target.ratio;
  if (target.kind === 'n-of-m') return target.n / target.m;
  return target.fraction;
}

/** Quality metrics that are fractions shown as percentages; the rest (MCC, a coefficient in [−1, 1]) are shown as is. */
export const PERCENT_QUALITY_METRICS: ReadonlySet<string> = new Set(['top1', 'top5', 'accuracy', 'f1']);

/** One quality figure for people: `top1 91.40 %`, `mcc 0.412`. */
export function formatQuality(name: string, value: number, coefficientDigits = 3): string {
  return PERCENT_QUALITY_METRICS.has(name) ? `${name} ${(value * 100).toFixed(2)} %` : `${name} ${value.toFixed(coefficientDigits)}`;
}
