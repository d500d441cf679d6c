import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { replaceFolder } from './atomic-write.js';
import { EmptyReportError, generateReport } from './generate-report.js';
import { readRunStore } from './run-store.js';
import { syntheticRecord, syntheticSuite, writeSyntheticStore } from './synthetic-records.js';

const folders: string[] = [];
afterEach(() => folders.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function tempRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prunebench-replace-'));
  folders.push(dir);
  return dir;
}
const referencesDir = resolve(import.meta.dirname, '../../../benchmarks/references');
const quiet = { referencesDir, onProblem: () => {} };

describe('a report is replaced as a whole', () => {
  it('drops the leaderboards and charts of tasks no longer in the store when regenerated', async () => {
    const root = tempRoot();
    const { store } = writeSyntheticStore(join(root, 'runs'), [...syntheticSuite(), ...syntheticSuite({ task: 'cifar10-resnet20', latency: false })]);
    const out = join(root, 'report');
    await generateReport(store, out, quiet);
    expect(readdirSync(out)).toContain('leaderboard-cifar10-resnet20.md');
    expect(readdirSync(join(out, 'charts')).some((f) => f.startsWith('cifar10-resnet20-'))).toBe(true);

    rmSync(join(root, 'runs'), { recursive: true });
    writeSyntheticStore(join(root, 'runs'), syntheticSuite());
    const { files } = await generateReport(store, out, quiet);
    expect(readdirSync(out)).not.toContain('leaderboard-cifar10-resnet20.md');
    expect(readdirSync(join(out, 'charts')).some((f) => f.startsWith('cifar10-resnet20-'))).toBe(false);
    expect(files.every((f) => existsSync(f))).toBe(true);
    expect(readdirSync(root).sort()).toEqual(['report', 'runs']); // no build or set-aside folder left
  });

  it('leaves the old folder untouched when the build fails, and removes what dead processes left beside it', async () => {
    const root = tempRoot();
    const out = join(root, 'report');
    mkdirSync(out);
    writeFileSync(join(out, 'index.html'), 'old');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    mkdirSync(join(root, `report.tmp-${dead}-abc123`));
    mkdirSync(join(root, `report.old-${dead}-def456`));
    await expect(replaceFolder(out, async (dir) => {
      writeFileSync(join(dir, 'index.html'), 'half');
      throw new Error('disk full');
    })).rejects.toThrow('disk full');
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toBe('old');
    expect(readdirSync(root)).toEqual(['report']);
  });

  it('refuses to replace a folder that is not a report, or that holds the store', async () => {
    const root = tempRoot();
    const { store } = writeSyntheticStore(join(root, 'runs'), syntheticSuite());
    writeFileSync(join(root, 'notes.txt'), 'mine');
    await expect(generateReport(store, root, quiet)).rejects.toThrow(`report output ${root} holds the run store ${store}`);
    const other = join(root, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine');
    await expect(generateReport(store, other, quiet)).rejects.toThrow(/holds other files and no earlier report/);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('refuses an empty store unless allowed, writing nothing', async () => {
    const root = tempRoot();
    const { store } = writeSyntheticStore(join(root, 'runs'), []);
    const out = join(root, 'report');
    await expect(generateReport(store, out, { ...quiet, allowEmpty: false })).rejects.toThrow(EmptyReportError);
    await expect(generateReport(store, out, { ...quiet, allowEmpty: false })).rejects.toThrow(/no usable run record in .*runs \(1 skipped: .*broken-run/);
    expect(existsSync(out)).toBe(false);
    const { files } = await generateReport(store, out, { ...quiet, allowEmpty: true });
    expect(files.some((f) => f.endsWith('index.html'))).toBe(true);
  });
});

describe('records the report leaves out', () => {
  it('lists a record carrying another run\'s id, or NaN flatness, as a problem, not as a row', () => {
    const root = tempRoot();
    const good = syntheticRecord({ method: 'magnitude', target: { kind: 'compression', ratio: 4 }, seed: 0, quality: 0.9 });
    const copy = { ...good };
    const nanFlatness = syntheticRecord({ method: 'snip', target: { kind: 'compression', ratio: 4 }, seed: 0, quality: 0.8 });
    nanFlatness.metrics.flatness = { radius: 0.05, examples: 10, samples: 3, gradientRadius: 0.005, baseLoss: NaN, lossIncrease: NaN, maxLossIncrease: NaN, worstCaseLossIncrease: NaN };
    for (const [folder, record] of [[good.id, good], ['0123456789ab', copy], [nanFlatness.id, nanFlatness]] as const) {
      mkdirSync(join(root, folder));
      writeFileSync(join(root, folder, 'record.json'), JSON.stringify(record)); // NaN becomes null, as in a real record
    }
    const { records, problems } = readRunStore(root);
    expect(records.map((r) => r.id)).toEqual([good.id]);
    expect(problems.map((p) => p.message).sort()).toEqual([
      expect.stringContaining(`carries the id of another run ("${good.id}", folder 0123456789ab)`),
      expect.stringContaining('missing finite number "metrics.flatness.baseLoss" (got null)'),
    ].sort());
  });
});
