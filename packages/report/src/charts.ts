import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { latencyFigures, type RunRecord } from '@prunebench/harness';
import { speedupFromReduction, type ReferenceRow } from './references.js';
import { DENSE_METHOD, groupRuns, qualityDisplayFactor, type RunGroup } from './run-groups.js';

export type ChartKind = 'compression' | 'speedup' | 'latency';

export const CHART_KINDS: readonly ChartKind[] = ['compression', 'speedup', 'latency'];

const X_AXIS: Record<ChartKind, { title: string; log2: boolean }> = {
  compression: { title: 'compression ratio (total / nonzero params, log2)', log2: true },
  speedup: { title: 'theoretical speedup (dense MACs / effective MACs, log2)', log2: true },
  latency: { title: 'measured latency, batch 1, p50 (ms)', log2: false },
};

/** One plotted point: a method's mean over seeds at one target. */
interface ChartPoint {
  method: string;
  target: string;
  x: number;
  quality: number;
  low: number;
  high: number;
  seeds: number;
}

/** Metric on the x axis of a chart for a group (latency: on the given provider), or null when it was not measured. */
function xOf(group: RunGroup, kind: ChartKind, provider?: string): number | null {
  if (kind === 'compression') return group.compressionRatio.mean;
  if (kind === 'speedup') return group.theoreticalSpeedup.mean;
  return group.latencyByProvider.find((l) => l.provider === provider)?.p50Ms.mean ?? null;
}

/** Where a published row sits on a chart, or null when it cannot be placed (no latency, no param count). */
function referenceX(ref: ReferenceRow, kind: ChartKind): number | null {
  if (kind === 'speedup') return speedupFromReduction(ref.flopsReductionPct);
  if (kind === 'compression' && ref.paramsReductionPct !== undefined) return speedupFromReduction(ref.paramsReductionPct);
  return null;
}

/** Whether the records of a task have what a chart needs (latency charts only when latency was measured). */
export function chartApplies(records: RunRecord[], task: string, kind: ChartKind): boolean {
  const completed = records.filter((r) => r.status === 'completed' && r.description.task === task);
  if (completed.length === 0) return false;
  return kind !== 'latency' || completed.some((r) => latencyFigures(r.metrics).length > 0);
}

/**
 * A vega-lite spec: quality vs the chart's x metric, one line + points (± std rule) per method, the dense
 * baseline as a dashed rule and a labelled square, published references as labelled diamonds. Latency: one
 * panel per ONNX Runtime provider measured, side by side, each titled with its device.
 */
export function qualityChartSpec(records: RunRecord[], task: string, kind: ChartKind, references: ReferenceRow[] = []): TopLevelSpec {
  const completed = records.filter((r) => r.status === 'completed' && r.description.task === task);
  const factor = qualityDisplayFactor(completed);
  const groups = groupRuns(completed);
  const qualityName = completed[0]?.metrics.qualityName ?? 'quality';
  const yTitle = factor === 100 ? `${qualityName} (%)` : qualityName;
  const title = { text: `${task}: ${yTitle} vs ${kind === 'latency' ? 'measured latency' : kind === 'speedup' ? 'theoretical speedup' : 'compression ratio'}` };
  const panel = (provider?: string, namePrefix?: string) => qualityChartLayers({ completed, groups, factor, qualityName, yTitle, kind, references, provider, namePrefix });
  if (kind !== 'latency') return { $schema: VEGA_LITE_SCHEMA, title, width: 400, height: 270, background: 'white', layer: panel() } as TopLevelSpec;
  const providers = latencyProvidersOf(groups);
  if (providers.length <= 1) {
    return { $schema: VEGA_LITE_SCHEMA, title, width: 400, height: 270, background: 'white', layer: panel(providers[0]?.provider) } as TopLevelSpec;
  }
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    background: 'white',
    hconcat: providers.map(({ provider, device }) => ({ title: { text: `${provider}: ${device}`, fontSize: 10, limit: 400 }, width: 400, height: 270, layer: panel(provider, `${provider}_`) })),
  } as TopLevelSpec;
}

const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The providers latency was measured on, in the groups' order, with the device (software adapters labelled). */
function latencyProvidersOf(groups: RunGroup[]): Array<{ provider: string; device: string }> {
  const seen = new Map<string, string>();
  for (const latency of groups.flatMap((g) => g.latencyByProvider)) {
    if (!seen.has(latency.provider)) seen.set(latency.provider, latency.software && !/software/i.test(latency.device) ? `${latency.device} (software adapter)` : latency.device);
  }
  return [...seen].map(([provider, device]) => ({ provider, device }));
}

function qualityChartLayers(args: {
  completed: RunRecord[];
  groups: RunGroup[];
  factor: number;
  qualityName: string;
  yTitle: string;
  kind: ChartKind;
  references: ReferenceRow[];
  provider?: string;
  namePrefix?: string;
}): any[] {
  const { completed, groups, factor, qualityName, yTitle, kind, references, provider } = args;
  // Views in one spec need distinct names: side-by-side panels prefix theirs with the provider.
  const names = args.namePrefix ?? '';
  const toPoint = (group: RunGroup, x: number): ChartPoint => ({
    method: group.label,
    target: group.targetLabel,
    x,
    quality: group.quality.mean * factor,
    low: (group.quality.mean - group.quality.std) * factor,
    high: (group.quality.mean + group.quality.std) * factor,
    seeds: group.quality.n,
  });
  const methodPoints: ChartPoint[] = [];
  const densePoints: ChartPoint[] = [];
  for (const group of groups) {
    const x = xOf(group, kind, provider);
    if (x === null || !Number.isFinite(x)) continue;
    (group.method === DENSE_METHOD ? densePoints : methodPoints).push(toPoint(group, x));
  }
  methodPoints.sort((a, b) => a.method.localeCompare(b.method) || a.x - b.x);
  // Published rows are top-1 in %: comparable only with a top-1 quality shown in % too.
  const referencesComparable = qualityName === 'top1' && (factor === 100 || completed.every((r) => r.metrics.quality > 1));
  const referencePoints = referencesComparable
    ? references.flatMap((ref) => {
        const x = referenceX(ref, kind);
        return x === null ? [] : [{ label: `${ref.method} (published)`, x, quality: ref.top1, baseline: ref.baselineTop1 }];
      }).sort((a, b) => b.quality - a.quality)
    : [];
  const allX = [...methodPoints, ...densePoints, ...referencePoints].map((p) => p.x).filter((x) => x > 0);
  const denseAtRight = densePoints.length > 0 && densePoints[0].x >= Math.max(...allX);
  const axis = kind === 'latency' && provider ? { ...X_AXIS.latency, title: `measured latency on ${provider}, batch 1, p50 (ms)` } : X_AXIS[kind];
  const xScale = axis.log2 ? { type: 'log' as const, base: 2 } : { zero: false };
  const xAxis = axis.log2 ? { title: axis.title, values: powersOfTwoCovering(allX), format: '~g' } : { title: axis.title };
  const x = { field: 'x', type: 'quantitative' as const, scale: xScale, axis: xAxis };
  const y = { field: 'quality', type: 'quantitative' as const, scale: { zero: false }, title: yTitle };
  const color = { field: 'method', type: 'nominal' as const, title: 'method' };
  const tooltip = [
    { field: 'method', type: 'nominal' as const },
    { field: 'target', type: 'nominal' as const },
    { field: 'x', type: 'quantitative' as const, format: '.3~f' },
    { field: 'quality', type: 'quantitative' as const, format: '.2f' },
    { field: 'seeds', type: 'quantitative' as const },
  ];
  // Latency: the 95 % interval of each median (one seed measured in rounds) as a horizontal rule.
  const intervals = kind === 'latency'
    ? groups.flatMap((group) => {
        const interval = group.latencyByProvider.find((l) => l.provider === provider)?.p50IntervalMs;
        return interval ? [{ method: group.label, quality: group.quality.mean * factor, xLow: interval[0], xHigh: interval[1], dense: group.method === DENSE_METHOD }] : [];
      })
    : [];
  const layer: any[] = [
    ...[false, true].flatMap((dense) => {
      const values = intervals.filter((i) => i.dense === dense);
      if (values.length === 0) return [];
      const rule = { x: { field: 'xLow', type: 'quantitative', scale: xScale, axis: xAxis }, x2: { field: 'xHigh' }, y };
      return [{
        name: `${names}${dense ? 'dense' : 'method'}_latency_intervals`,
        data: { values },
        mark: { type: 'rule', opacity: 0.7, ...(dense ? { color: '#222' } : {}) },
        encoding: dense ? rule : { ...rule, color },
      }];
    }),
    {
      name: `${names}method_lines`,
      data: { values: methodPoints },
      mark: { type: 'line', strokeWidth: 2 },
      encoding: { x, y, color, order: { field: 'x', type: 'quantitative' } },
    },
    {
      name: `${names}method_spread`,
      data: { values: methodPoints.filter((p) => p.seeds > 1) },
      mark: { type: 'rule', opacity: 0.6 },
      encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color },
    },
    {
      name: `${names}method_points`,
      data: { values: methodPoints },
      mark: { type: 'point', filled: true, size: 50 },
      encoding: { x, y, color, tooltip },
    },
  ];
  if (densePoints.length > 0) {
    layer.push(
      {
        name: `${names}dense_rule`,
        data: { values: densePoints },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#555' },
        encoding: { y: { field: 'quality', type: 'quantitative' } },
      },
      {
        name: `${names}dense_point`,
        data: { values: densePoints },
        mark: { type: 'square', size: 70, color: '#222' },
        encoding: { x, y, tooltip },
      },
      {
        name: `${names}dense_label`,
        data: { values: densePoints },
        // Labelled on the side away from the plot's edge (the dense model is rightmost on latency charts).
        mark: { type: 'text', align: denseAtRight ? 'right' : 'left', dx: denseAtRight ? -6 : 6, dy: -8, color: '#222', fontSize: 11 },
        encoding: { x, y, text: { value: 'dense baseline' } },
      },
    );
  }
  if (referencePoints.length > 0) {
    layer.push(
      {
        name: `${names}reference_points`,
        data: { values: referencePoints },
        mark: { type: 'point', shape: 'diamond', size: 90, filled: true, color: '#b8860b', stroke: '#222', strokeWidth: 0.8 },
        encoding: {
          x,
          y,
          tooltip: [
            { field: 'label', type: 'nominal' },
            { field: 'quality', type: 'quantitative', title: 'top1 (%)' },
            { field: 'baseline', type: 'quantitative', title: 'their baseline (%)' },
          ],
        },
      },
      // One label layer per reference, staggered vertically: published points often sit close together.
      ...referencePoints.map((point, index) => ({
        name: `${names}reference_label_${index}`,
        data: { values: [point] },
        mark: { type: 'text', align: 'left', dx: 8, dy: 4 + 11 * (index - (referencePoints.length - 1) / 2), fontSize: 10, color: '#7a5a00' },
        encoding: { x, y, text: { field: 'label' } },
      })),
    );
  }
  return layer;
}

/** Powers of two from below the smallest value to above the largest (the ticks of a log2 axis). */
export function powersOfTwoCovering(values: number[]): number[] {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  if (positive.length === 0) return [1, 2, 4];
  const low = Math.floor(Math.log2(Math.min(...positive)) + 1e-9);
  const high = Math.ceil(Math.log2(Math.max(...positive)) - 1e-9);
  const ticks: number[] = [];
  for (let e = low; e <= Math.max(high, low + 1); e++) ticks.push(2 ** e);
  return ticks;
}

/** Compiles a vega-lite spec and renders it to SVG with vega's headless view (no browser, no canvas). */
export async function renderChartSvg(spec: TopLevelSpec): Promise<string> {
  const vegaSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
