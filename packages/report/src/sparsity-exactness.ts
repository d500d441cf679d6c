import type { RunRecord } from '@prunebench/harness';
import { markdownTable } from './format.js';
import { methodLabel } from './run-groups.js';

/**
 * Did each completed compression run reach its target exactly? The nonzero count must equal the count the target
 * implies (ShrinkBench's ratio over the whole model, rounded to whole weights), within one weight per layer; for
 * magnitude's layer-wise allocation every layer must be within one weight of its share, and for the minimum
 * threshold every layer must keep its floor.
 */
export interface ExactnessRow {
  record: RunRecord;
  requested: number;
  /** nonzero − requested. */
  difference: number;
  /** The per-layer check, in words ('—' when the allocation has none). */
  layerCheck: string;
  exact: boolean;
}

/** Sizes (weights) of every prunable parameter of a task's dense model, by name. */
export type LayerSizes = (task: string) => ReadonlyMap<string, number>;

export function checkSparsityExactness(records: readonly RunRecord[], layerSizes: LayerSizes): ExactnessRow[] {
  return records
    .filter((r) => r.status === 'completed' && r.description.target?.kind === 'compression')
    .map((record) => checkRun(record, layerSizes(record.description.task)));
}

function checkRun(record: RunRecord, sizes: ReadonlyMap<string, number>): ExactnessRow {
  const target = record.description.target as { kind: 'compression'; ratio: number };
  const { total, prunable, nonzero } = record.metrics.params;
  const requested = Math.round(total / target.ratio);
  const layers = Object.entries(record.layerDensity).map(([name, density]) => {
    const size = sizes.get(name);
    if (size === undefined) throw new Error(`run ${record.id}: layer "${name}" is not a parameter of ${record.description.task}'s model`);
    return { size, kept: Math.round(density * size) };
  });
  const options = record.description.options as { allocation?: string; minKeepPerLayer?: { fraction?: number } };
  let layerCheck = '—';
  let layersOk = true;
  if (options.allocation === 'layerwise') {
    // The same sparsity in every layer: each layer keeps its share of the prunable keep count.
    const keepFraction = (requested - (total - prunable)) / prunable;
    const worst = Math.max(...layers.map((l) => Math.abs(l.kept - l.size * keepFraction)));
    layersOk = worst <= 1;
    layerCheck = `max |kept − share| = ${worst.toFixed(2)} weights`;
  } else if (options.allocation === 'min-threshold') {
    const floor = options.minKeepPerLayer?.fraction ?? 0;
    const margins = layers.map((l) => l.kept - Math.floor(l.size * floor));
    const worst = Math.min(...margins);
    layersOk = worst >= 0;
    layerCheck = `min (kept − floor ${floor}) = ${worst} weights; ${margins.filter((m) => m <= 1).length} of ${layers.length} layers at the floor`;
  }
  const difference = nonzero - requested;
  return { record, requested, difference, layerCheck, exact: Math.abs(difference) <= layers.length && layersOk };
}

export function sparsityExactnessMarkdown(rows: readonly ExactnessRow[]): string {
  const count = (n: number) => n.toLocaleString('en-US');
  const table = markdownTable(
    ['task', 'method', 'target', 'nonzero', 'requested', 'Δ', 'compression', 'per-layer check', 'exact'],
    rows.map(({ record, requested, difference, layerCheck, exact }) => [
      record.description.task,
      methodLabel(record.description),
      `${(record.description.target as { ratio: number }).ratio}×`,
      count(record.metrics.params.nonzero),
      count(requested),
      `${difference >= 0 ? '+' : ''}${difference}`,
      record.metrics.compressionRatio.toFixed(4),
      layerCheck,
      exact ? 'yes' : '**NO**',
    ]),
  );
  return `${table}\n\n${rows.length} runs, ${rows.filter((r) => !r.exact).length} missing the target\n`;
}
