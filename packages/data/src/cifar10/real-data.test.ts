import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCifar10 } from './resolve.js';
import { readCifar10 } from './read.js';
import { CIFAR10_CLASS_NAMES } from './format.js';

const dataDir = process.env.PRUNEBENCH_DATA;
if (!dataDir) console.warn('SKIPPED: real CIFAR-10 test (set PRUNEBENCH_DATA to a folder laid out like ../shared/datasets)');

describe.skipIf(!dataDir)('real CIFAR-10 (PRUNEBENCH_DATA)', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'prunebench-cifar-real-'));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('extracts the tarball into a temp cache and reads all 60,000 records, 5000/1000 per class', async () => {
    const t0 = performance.now();
    // Only the tarball (not an extracted folder beside it), so the extraction path is exercised.
    const dir = await resolveCifar10({ source: join(dataDir!, 'cifar-10', 'cifar-10-binary.tar.gz'), cacheDir, allowDownload: false });
    const t1 = performance.now();
    const data = await readCifar10(dir);
    const t2 = performance.now();
    console.log(`CIFAR-10: extract+verify ${((t1 - t0) / 1000).toFixed(1)} s, read ${((t2 - t1) / 1000).toFixed(1)} s`);

    expect(data.classNames).toEqual(CIFAR10_CLASS_NAMES);
    expect(data.train.count).toBe(50_000);
    expect(data.test.count).toBe(10_000);
    expect(data.train.images.length).toBe(50_000 * 3072);
    const histogram = (labels: Uint8Array) => labels.reduce((h, l) => (h[l]++, h), new Array(10).fill(0));
    expect(histogram(data.train.labels)).toEqual(new Array(10).fill(5000));
    expect(histogram(data.test.labels)).toEqual(new Array(10).fill(1000));
    // Real photos: pixel statistics near the published CIFAR-10 channel means (0.49, 0.48, 0.45).
    const sums = [0, 0, 0];
    for (let i = 0; i < data.train.images.length; i += 3) for (let c = 0; c < 3; c++) sums[c] += data.train.images[i + c];
    const means = sums.map((s) => s / (50_000 * 1024) / 255);
    expect(means[0]).toBeCloseTo(0.4914, 2);
    expect(means[1]).toBeCloseTo(0.4822, 2);
    expect(means[2]).toBeCloseTo(0.4465, 2);
  });
});
