import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot } from '@prunebench/engine';
import * as format from './format.js';

describe('datasets/cifar10.json', () => {
  const root = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

  it('is found from the package (repo root holds nx.json)', () => {
    expect(root).not.toBeNull();
  });

  it('agrees with the constants the code uses', () => {
    const manifest = JSON.parse(readFileSync(join(root!, 'datasets', 'cifar10.json'), 'utf8'));
    expect(manifest.archive.url).toBe(format.CIFAR10_URL);
    expect(manifest.archive.md5).toBe(format.CIFAR10_MD5);
    expect(manifest.archive.bytes).toBe(format.CIFAR10_ARCHIVE_BYTES);
    expect(manifest.archive.root).toBe(format.CIFAR10_ARCHIVE_ROOT);
    expect(manifest.record.bytes).toBe(format.CIFAR10_RECORD_BYTES);
    expect(manifest.classNames).toEqual(format.CIFAR10_CLASS_NAMES);
    expect(manifest.normalization.mean).toEqual(format.CIFAR10_MEAN);
    expect(manifest.normalization.std).toEqual(format.CIFAR10_STD);
    const batches = manifest.files.filter((f: { split: string }) => f.split !== 'meta');
    expect(batches.map((f: { name: string }) => f.name)).toEqual(format.CIFAR10_BATCH_FILES);
    for (const f of batches) {
      expect(f.records).toBe(format.CIFAR10_RECORDS_PER_BATCH);
      expect(f.bytes).toBe(format.CIFAR10_RECORDS_PER_BATCH * format.CIFAR10_RECORD_BYTES);
    }
  });
});
