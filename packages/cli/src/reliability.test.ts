import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { EXIT_OK, EXIT_RUN_FAILURES, EXIT_USAGE, type CliIO } from './usage.js';

async function cli(...argv: string[]) {
  const io = { stdout: '', stderr: '', isTTY: false, out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } } satisfies CliIO & Record<string, unknown>;
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const temp = () => mkdtempSync(join(tmpdir(), 'prunebench-cli-rel-'));
const ID = '0123456789ab';

/** A store holding one completed record for ID with the given quality. */
function storeWith(quality: number, finishedAt: string): string {
  const store = temp();
  mkdirSync(join(store, ID));
  const record = {
    id: ID, status: 'completed',
    description: { suite: 's', task: 'cifar10-resnet20', method: 'magnitude', options: {}, target: { kind: 'compression', ratio: 2 }, seed: 0, budgetExamples: 10 },
    metrics: { quality, qualityName: 'top1', top1: quality, params: { total: 10, prunable: 8, nonzero: 5 }, compressionRatio: 2, macs: { dense: 10, effective: 5 }, theoreticalSpeedup: 2 },
    budget: { totalExamples: 10, usedExamples: 10 }, wallTimeSeconds: 1, environment: { backend: 'cpu', device: 'test', versions: {}, gitCommit: null, node: 'v22', platform: 'linux', cpus: 2 },
    layerDensity: {}, startedAt: finishedAt, finishedAt,
  };
  writeFileSync(join(store, ID, 'record.json'), JSON.stringify(record));
  return store;
}

describe('reliability of report, merge and export', () => {
  it('report exits 1 on a store without a usable record, unless --allow-empty', async () => {
    const store = temp();
    mkdirSync(join(store, ID));
    writeFileSync(join(store, ID, 'record.json'), '{"id": "0123456789ab", "status": ');
    const out = join(temp(), 'report');
    const refused = await cli('report', '--store', store, '--out', out);
    expect(refused.code).toBe(EXIT_RUN_FAILURES);
    expect(refused.stderr).toMatch(new RegExp(`^prunebench report: no usable run record in ${store} \\(1 skipped: .*record\\.json: corrupt JSON`));
    expect((await cli('report', '--store', store, '--out', out, '--allow-empty')).code).toBe(EXIT_OK);
  });

  it('merge exits 1 on a conflict without --prefer, and records the choice with it', async () => {
    const older = storeWith(0.9, '2026-01-01T00:00:00.000Z');
    const newer = storeWith(0.8, '2026-02-01T00:00:00.000Z');
    const into = temp();
    const conflict = await cli('merge', older, newer, '--into', into);
    expect(conflict.code).toBe(EXIT_RUN_FAILURES);
    expect(conflict.stderr).toContain(`1 run(s) completed with different metrics in several stores; nothing merged. Choose with --prefer first|last|newest:\n  ${ID}: ${older}, ${newer}`);
    expect((await cli('merge', older, newer, '--into', into, '--prefer', 'oldest')).code).toBe(EXIT_USAGE);
    const newest = await cli('merge', older, newer, '--into', into, '--prefer', 'newest');
    expect(newest.code).toBe(EXIT_OK);
    expect(newest.stderr).toContain(`${ID} completed with different metrics in several stores; kept the newest`);
    const kept = JSON.parse(readFileSync(join(into, ID, 'record.json'), 'utf8'));
    expect(kept.metrics.quality).toBe(0.8);
    expect(kept.merge).toMatchObject({ prefer: 'newest', keptFrom: newer });
  });

  it('export --out naming a folder is a usage error', async () => {
    const folder = temp();
    const result = await cli('export', '--task', 'cifar10-resnet20', '--out', folder);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toContain(`export: --out ${folder} is a folder; name the .onnx file to write`);
  });
});
