import { describe, expect, it } from 'vitest';
import type { LatencyRecord } from '@prunebench/harness';
import { qualityChartSpec, renderChartSvg } from './charts.js';
import { buildTaskLeaderboard, latencyCell, leaderboardHeader, leaderboardMarkdown } from './leaderboard.js';
import { groupRuns } from './run-groups.js';
import { runsCsv } from './runs-csv.js';
import { syntheticRecord } from './synthetic-records.js';
import Papa from 'papaparse';

const SOFTWARE = 'mesa software llvmpipe (software adapter)';

/** A figure as measureLatencyAgainstDense records it: p50 with an interval, speed-up vs dense with its interval. */
function figure(provider: 'cpu' | 'webgpu', p50: number, speedup: [number, number, number]): LatencyRecord {
  const [mid, low, high] = speedup;
  return {
    provider,
    threads: 2,
    device: provider === 'cpu' ? 'Test CPU (2 logical cores)' : SOFTWARE,
    softwareDevice: provider === 'webgpu',
    batch1Ms: { p50, p90: p50 * 1.2, p99: p50 * 1.5, p50Low: p50 * 0.9, p50High: p50 * 1.1 },
    throughputBatch: 16,
    throughputPerSecond: 1000 / p50,
    rounds: 10,
    dense: { batch1Ms: { p50: p50 * mid, p50Low: p50 * mid * 0.9, p50High: p50 * mid * 1.1 }, throughputPerSecond: 1000 / (p50 * mid) },
    speedupVsDense: {
      batch1: { p50: mid, low, high, confidence: 0.979, withinNoise: low <= 1 && high >= 1 },
      throughput: { p50: mid, low, high, confidence: 0.979, withinNoise: low <= 1 && high >= 1 },
    },
  };
}

const target = { kind: 'compression' as const, ratio: 2 };
// Masked (unstructured) models: speed-ups inside the noise; a structured one: a real speed-up on cpu only.
const records = [
  syntheticRecord({ method: 'dense', target: null, seed: 0, quality: 0.92, latencies: [figure('cpu', 1.05, [1.0, 0.93, 1.06]), figure('webgpu', 20, [1.01, 0.8, 1.2])] }),
  syntheticRecord({ method: 'magnitude', target, seed: 0, quality: 0.91, latencies: [figure('cpu', 0.86, [1.22, 0.7, 1.6]), figure('webgpu', 21, [0.95, 0.7, 1.1])] }),
  syntheticRecord({ method: 'hrank', target, seed: 0, quality: 0.9, latencies: [figure('cpu', 0.6, [1.75, 1.6, 1.9]), figure('webgpu', 19, [1.05, 0.9, 1.3])] }),
];

/** The rows of the first target table, as cells. */
function tableRows(markdown: string): string[][] {
  const section = markdown.split('### Target compression=2\n')[1].trimStart().split('\n\n')[0];
  return section.split('\n').map((line) => line.split(' | ').map((cell) => cell.replace(/^\| ?| ?\|$/g, '')));
}

describe('latency in the report', () => {
  it("marks a speed-up inside the dense row's self-comparison interval as noise, even when its own interval misses 1", () => {
    const withDense = (speedup: [number, number, number]) => [
      records[0]!,
      syntheticRecord({ method: 'magnitude', target, seed: 0, quality: 0.91, latencies: [figure('cpu', 0.63, speedup)] }),
    ];
    const cell = (speedup: [number, number, number]) => tableRows(leaderboardMarkdown(withDense(speedup), 'cifar10-resnet56'))[3]!.find((c) => c.includes(' ms; ×'))!;
    // ×1.04 [1.02–1.11]: its interval misses 1, but 1.04 lies within the dense row's [0.93–1.06]
    expect(cell([1.04, 1.02, 1.11])).toMatch(/×1\.04 \[1\.02–1\.11\] noise$/);
    // ×1.20 [1.10–1.30] is beyond both: a measured speed-up
    expect(cell([1.2, 1.1, 1.3])).toMatch(/×1\.20 \[1\.10–1\.30\]$/);
  });

  it('gives the leaderboard one latency column per provider, software adapters labelled, devices in the note', () => {
    const board = buildTaskLeaderboard(records, 'cifar10-resnet56');
    expect(board.latencyProviders).toEqual([
      { provider: 'cpu', device: 'Test CPU (2 logical cores)', software: false, noiseFloor: [0.93, 1.06] },
      { provider: 'webgpu', device: SOFTWARE, software: true, noiseFloor: [0.8, 1.2] },
    ]);
    const header = leaderboardHeader(board);
    expect(header.filter((h) => h.startsWith('latency'))).toEqual(['latency p50 cpu', 'latency p50 webgpu (software adapter)']);
    const markdown = leaderboardMarkdown(records, 'cifar10-resnet56');
    const [head, , dense, ...pruned] = tableRows(markdown);
    const cpu = head.indexOf('latency p50 cpu');
    const webgpu = head.indexOf('latency p50 webgpu (software adapter)');
    expect(webgpu).toBe(cpu + 1);
    expect(head[webgpu + 1]).toMatch(/^flatness/);
    expect(dense[cpu]).toBe('1.050 [0.945–1.155] ms; ×1.00 [0.93–1.06] noise');
    const magnitude = pruned.find((row) => row[1] === 'magnitude')!;
    const hrank = pruned.find((row) => row[1] === 'hrank')!;
    expect(magnitude[cpu]).toBe('0.860 [0.774–0.946] ms; ×1.22 [0.70–1.60] noise');
    expect(hrank[cpu]).toBe('0.600 [0.540–0.660] ms; ×1.75 [1.60–1.90]');
    expect(hrank[webgpu]).toMatch(/×1\.05 \[0\.90–1\.30\] noise$/);
    expect(markdown).toContain(`Latency (ONNX Runtime; cpu: Test CPU (2 logical cores); webgpu: ${SOFTWARE})`);
    expect(markdown).toContain('"noise": the interval holds 1');
  });

  it('over several seeds shows mean ± std and in how many seeds the speed-up was within noise', () => {
    const seeds = [0, 1, 2].map((seed) =>
      syntheticRecord({ method: 'magnitude', target, seed, quality: 0.9, latencies: [figure('cpu', 1 + seed * 0.1, seed === 2 ? [1.3, 1.1, 1.5] : [1.1, 0.9, 1.3])] }),
    );
    const [group] = groupRuns(seeds);
    expect(group.latencyByProvider[0].withinNoise).toEqual({ seeds: 2, of: 3 });
    expect(latencyCell(group.latencyByProvider[0])).toBe('1.100 ± 0.100 ms; ×1.17 ± 0.12 noise in 2/3 seeds');
  });

  it('keeps the single latency column of older records (no providers list, no dense comparison)', () => {
    const old = [syntheticRecord({ method: 'magnitude', target, seed: 0, quality: 0.9, latencyP50Ms: 2.5 })];
    const board = buildTaskLeaderboard(old, 'cifar10-resnet56');
    expect(board.latencyProviders.map((c) => c.provider)).toEqual(['cpu']);
    expect(latencyCell(groupRuns(old)[0].latencyByProvider[0])).toBe('2.500 ms');
  });

  it('writes each provider side by side in runs.csv, with intervals and the noise flag', () => {
    const rows = Papa.parse<Record<string, string>>(runsCsv(records), { header: true, skipEmptyLines: true }).data;
    const hrank = rows.find((r) => r.method === 'hrank')!;
    expect(hrank.latency_provider).toBe('cpu');
    expect(Number(hrank.latency_batch1_p50_low_ms)).toBeCloseTo(0.54, 10);
    expect(hrank.latency_speedup_vs_dense_batch1_within_noise).toBe('false');
    expect(Number(hrank.latencies_cpu_batch1_p50_ms)).toBe(0.6);
    expect(Number(hrank.latencies_webgpu_batch1_p50_ms)).toBe(19);
    expect(hrank.latencies_webgpu_device).toBe(SOFTWARE);
    expect(hrank.latencies_webgpu_software_device).toBe('true');
    expect(hrank.latencies_webgpu_speedup_vs_dense_batch1_within_noise).toBe('true');
    expect(Number(hrank.latencies_webgpu_dense_batch1_p50_ms)).toBeCloseTo(19 * 1.05, 10);
  });

  it('draws one latency panel per provider, side by side, titled with its device', async () => {
    const spec: any = qualityChartSpec(records, 'cifar10-resnet56', 'latency');
    expect(spec.hconcat.map((p: any) => p.title.text)).toEqual(['cpu: Test CPU (2 logical cores)', `webgpu: ${SOFTWARE}`]);
    const points = ['cpu', 'webgpu'].map((provider, i) =>
      spec.hconcat[i].layer.find((l: any) => l.name === `${provider}_method_points`).data.values.map((v: any) => [v.method, v.x]));
    expect(points[0]).toEqual(expect.arrayContaining([['magnitude', 0.86], ['hrank', 0.6]]));
    expect(points[1]).toEqual(expect.arrayContaining([['magnitude', 21], ['hrank', 19]]));
    const intervals = spec.hconcat[0].layer.find((l: any) => l.name === 'cpu_method_latency_intervals').data.values;
    expect(intervals.find((i: any) => i.method === 'magnitude')).toMatchObject({ xLow: expect.closeTo(0.774, 10), xHigh: expect.closeTo(0.946, 10) });
    expect(spec.hconcat[0].layer.find((l: any) => l.name === 'cpu_dense_latency_intervals').data.values).toHaveLength(1);
    const svg = await renderChartSvg(spec);
    // Each panel draws its own provider's points (view names are distinct, so one panel cannot take the other's marks).
    expect(svg).toContain('cpu_method_points_marks');
    expect(svg).toContain('webgpu_method_points_marks');
    expect(svg).toContain('measured latency on cpu');
    expect(svg).toContain('measured latency on webgpu');
  });
});
