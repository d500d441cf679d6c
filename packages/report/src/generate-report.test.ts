import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import Papa from 'papaparse';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunRecord } from '@prunebench/harness';
import { generateReport } from './generate-report.js';
import type { StoreProblem } from './run-store.js';
import { syntheticSuite, writeSyntheticStore } from './synthetic-records.js';

const folders: string[] = [];
afterEach(() => folders.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function writeStore(records: RunRecord[]): { root: string; store: string; corruptFile: string } {
  const root = mkdtempSync(join(tmpdir(), 'prunebench-report-'));
  folders.push(root);
  return { root, ...writeSyntheticStore(join(root, 'runs'), records) };
}

const referencesDir = resolve(import.meta.dirname, '../../../benchmarks/references');

describe('generateReport', () => {
  it('writes the CSV, leaderboards, charts and a self-contained HTML page, reporting the corrupt record by file', async () => {
    const records = [...syntheticSuite(), ...syntheticSuite({ task: 'cifar10-resnet20', latency: false })];
    const { root, store, corruptFile } = writeStore(records);
    const out = join(root, 'report');
    const told: StoreProblem[] = [];

    const { files, problems } = await generateReport(store, out, { referencesDir, title: 'Smoke report', onProblem: (p) => told.push(p) });

    expect(problems).toEqual([{ file: corruptFile, message: expect.stringMatching(/corrupt JSON/) }]);
    expect(told).toEqual(problems);
    const written = files.map((f) => relative(out, f)).sort();
    expect(written).toEqual(
      [
        'runs.csv',
        'leaderboard.md',
        'leaderboard-cifar10-resnet56.md',
        'leaderboard-cifar10-resnet20.md',
        'index.html',
        ...['compression', 'speedup', 'latency'].flatMap((k) => [`charts/cifar10-resnet56-${k}.svg`, `charts/cifar10-resnet56-${k}.vl.json`]),
        ...['compression', 'speedup'].flatMap((k) => [`charts/cifar10-resnet20-${k}.svg`, `charts/cifar10-resnet20-${k}.vl.json`]),
      ].sort(),
    );
    for (const file of files) expect(existsSync(file)).toBe(true);
    const leftovers = [...readdirSync(out), ...readdirSync(join(out, 'charts'))].filter((name) => name.includes('.tmp-'));
    expect(leftovers).toEqual([]);

    const csv = Papa.parse<Record<string, string>>(readFileSync(join(out, 'runs.csv'), 'utf8'), { header: true, skipEmptyLines: true });
    expect(csv.data).toHaveLength(records.length);

    const resnet56 = readFileSync(join(out, 'leaderboard-cifar10-resnet56.md'), 'utf8');
    expect(resnet56).toContain('# Leaderboard: cifar10-resnet56');
    for (const method of ['FPGM', 'HRank', 'MLPruner']) expect(resnet56).toContain(`| ${method} |`);
    expect(resnet56).not.toContain('RGP'); // a ResNet-110 reference
    const resnet20 = readFileSync(join(out, 'leaderboard-cifar10-resnet20.md'), 'utf8');
    expect(resnet20).not.toContain('Published references');

    const combined = readFileSync(join(out, 'leaderboard.md'), 'utf8');
    expect(combined).toContain('# Smoke report');
    expect(combined).toContain('## cifar10-resnet56');
    expect(combined).toContain('## cifar10-resnet20');
    expect(combined).toContain(corruptFile);
    expect(combined).toMatch(/^- backend: \S+/m); // where the runs computed, under the title

    const spec = JSON.parse(readFileSync(join(out, 'charts/cifar10-resnet56-compression.vl.json'), 'utf8'));
    expect(spec.layer.map((l: any) => l.name)).toContain('reference_points');
    expect(readFileSync(join(out, 'charts/cifar10-resnet56-compression.svg'), 'utf8')).toMatch(/^<svg/);

    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(5);
    expect(html).not.toMatch(/<(script|link|img)\b/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain('BudgetExceededError');
    expect(html).toContain('abc1234'); // git commit in the environment summary
    expect(html).toContain(corruptFile);
    // clip-path ids made unique across the inlined charts
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('fails with the store path when the store is missing, and warns for an empty one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'prunebench-report-'));
    folders.push(root);
    await expect(generateReport(join(root, 'missing'), join(root, 'out'))).rejects.toThrow(join(root, 'missing'));
    mkdirSync(join(root, 'empty'));
    const told: StoreProblem[] = [];
    const { files, problems } = await generateReport(join(root, 'empty'), join(root, 'out'), { referencesDir, onProblem: (p) => told.push(p) });
    expect(problems).toEqual([{ file: join(root, 'empty'), message: expect.stringMatching(/no run records/) }]);
    expect(told).toEqual(problems);
    expect(files.map((f) => relative(join(root, 'out'), f)).sort()).toEqual(['index.html', 'leaderboard.md', 'runs.csv']);
    expect(readFileSync(join(root, 'out', 'index.html'), 'utf8')).toContain('No completed runs');
  });
});
