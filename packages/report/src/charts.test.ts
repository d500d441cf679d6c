import { describe, expect, it } from 'vitest';
import { chartApplies, powersOfTwoCovering, qualityChartSpec, renderChartSvg } from './charts.js';
import type { ReferenceRow } from './references.js';
import { syntheticRecord, syntheticSuite } from './synthetic-records.js';

const reference: ReferenceRow = {
  task: 'cifar10-resnet56',
  method: 'HRank',
  top1: 93.17,
  baselineTop1: 93.26,
  flopsReductionPct: 50,
  paramsReductionPct: 42.4,
  source: { paper: 'Lin et al.: HRank', venue: 'CVPR', year: 2020 },
  setup: 'their own schedule',
};

/** The elements drawn by one named vega-lite layer (vega names its mark group `<layer>_marks`). */
function markGroup(svg: string, layer: string): string {
  const start = svg.indexOf(`role-mark ${layer}_marks"`);
  expect(start, `layer ${layer} drawn`).toBeGreaterThan(-1);
  const rest = svg.slice(start);
  const end = rest.indexOf('class="mark-', 20);
  return end === -1 ? rest : rest.slice(0, end);
}

/** The drawn lines (one per series): the method named in each line's label, and its colour. */
function lineMarks(svg: string): { method: string; stroke: string }[] {
  return [...svg.matchAll(/<path aria-label="[^"]*method: ([^";]+)"[^>]*aria-roledescription="line mark"[^>]*stroke="([^"]+)"/g)].map((m) => ({
    method: m[1],
    stroke: m[2],
  }));
}

const tickLabels = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

describe('quality charts', () => {
  const records = syntheticSuite();

  it('renders quality vs compression ratio to SVG: one line per method on a log2 axis, dense and references marked', async () => {
    const svg = await renderChartSvg(qualityChartSpec(records, 'cifar10-resnet56', 'compression', [reference]));
    expect(svg.startsWith('<svg')).toBe(true);
    const lines = lineMarks(svg);
    expect(lines).toHaveLength(2); // magnitude and random
    expect(lines.map((l) => l.method).sort()).toEqual(['magnitude', 'random']);
    expect(new Set(lines.map((l) => l.stroke)).size).toBe(2);
    const points = markGroup(svg, 'method_points').match(/<path/g) ?? [];
    expect(points).toHaveLength(10); // 2 methods × 5 operating points
    expect(markGroup(svg, 'dense_point').match(/<path/g)).toHaveLength(1);
    expect(markGroup(svg, 'reference_points').match(/<path/g)).toHaveLength(1);
    const labels = tickLabels(svg);
    for (const tick of ['1', '2', '4', '8', '16', '32']) expect(labels).toContain(tick);
    expect(labels).not.toContain('3'); // a log2 axis ticks only powers of two
    expect(labels).toEqual(expect.arrayContaining(['magnitude', 'random', 'dense baseline', 'HRank (published)', 'top1 (%)']));
  });

  it('places a reference by its FLOP reduction on the speedup chart', () => {
    const spec: any = qualityChartSpec(records, 'cifar10-resnet56', 'speedup', [reference]);
    const layer = spec.layer.find((l: any) => l.name === 'reference_points');
    expect(layer.data.values).toEqual([{ label: 'HRank (published)', x: 2, quality: 93.17, baseline: 93.26 }]);
    const lines = spec.layer.find((l: any) => l.name === 'method_lines');
    expect(lines.encoding.x.scale).toEqual({ type: 'log', base: 2 });
    const magnitude = lines.data.values.filter((p: any) => p.method === 'magnitude');
    expect(magnitude.map((p: any) => p.x)).toEqual([2 ** 0.5, 2, 2 ** 1.5, 4, 2 ** 2.5].map((x) => expect.closeTo(x, 10)));
  });

  it('draws latency only when latency was measured, and never places references there', async () => {
    expect(chartApplies(records, 'cifar10-resnet56', 'latency')).toBe(true);
    expect(chartApplies(syntheticSuite({ latency: false }), 'cifar10-resnet56', 'latency')).toBe(false);
    const svg = await renderChartSvg(qualityChartSpec(records, 'cifar10-resnet56', 'latency', [reference]));
    expect(lineMarks(svg)).toHaveLength(2);
    expect(svg).not.toContain('reference_points_marks');
  });

  it('leaves published top-1 off a chart whose quality is not top-1', () => {
    const mcc = [0, 1].map((seed) => {
      const r = syntheticRecord({ task: 'cifar10-resnet56', method: 'magnitude', target: { kind: 'compression', ratio: 2 }, seed, quality: 0.4 });
      r.metrics.qualityName = 'mcc';
      return r;
    });
    const spec: any = qualityChartSpec(mcc, 'cifar10-resnet56', 'compression', [reference]);
    expect(spec.layer.some((l: any) => l.name === 'reference_points')).toBe(false);
  });

  it('covers values with powers of two', () => {
    expect(powersOfTwoCovering([1, 32])).toEqual([1, 2, 4, 8, 16, 32]);
    expect(powersOfTwoCovering([1.4, 5])).toEqual([1, 2, 4, 8]);
  });
});
