import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, unlinkSync, truncateSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCifar10 } from './read.js';
import { verifyCifar10Dir } from './verify.js';
import { CIFAR10_CLASS_NAMES, CIFAR10_RECORD_BYTES } from './format.js';
import { DatasetError } from '../errors.js';
import { fixtureLabel, fixturePixel, writeCifar10Folder } from '../testing/cifar10-fixture.js';

const RECORDS = 20;
let root: string;
let good: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'prunebench-cifar-read-'));
  good = writeCifar10Folder(join(root, 'good'), RECORDS);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fresh copy of the good folder to break. */
function copyOfGood(name: string): string {
  const dir = join(root, name);
  cpSync(good, dir, { recursive: true });
  return dir;
}

describe('readCifar10', () => {
  it('reads train (5 files) and test with labels and class names', async () => {
    const data = await readCifar10(good, { expectedRecordsPerBatch: RECORDS });
    expect(data.classNames).toEqual(CIFAR10_CLASS_NAMES);
    expect(data.train.count).toBe(5 * RECORDS);
    expect(data.test.count).toBe(RECORDS);
    expect(data.train.images.length).toBe(5 * RECORDS * 3072);
    expect(data.train.labels[RECORDS * 2 + 3]).toBe(fixtureLabel(2, 3));
    expect(data.test.labels[4]).toBe(fixtureLabel(5, 4));
  });

  it('converts each CHW record to HWC', async () => {
    const data = await readCifar10(good, { expectedRecordsPerBatch: RECORDS });
    // Image 7 of data_batch_3 (file index 2), pixel (row 5, col 9).
    const image = 2 * RECORDS + 7;
    const pixel = 5 * 32 + 9;
    for (let c = 0; c < 3; c++) {
      expect(data.train.images[image * 3072 + pixel * 3 + c]).toBe(fixturePixel(2, 7, c, pixel));
    }
    // Last pixel of the last test image.
    for (let c = 0; c < 3; c++) expect(data.test.images[RECORDS * 3072 - 3 + c]).toBe(fixturePixel(5, RECORDS - 1, c, 1023));
  });
});

describe('verifyCifar10Dir', () => {
  it('accepts a well-formed folder', async () => {
    await expect(verifyCifar10Dir(good, { expectedRecordsPerBatch: RECORDS })).resolves.toBeUndefined();
  });

  it('rejects the small fixture when the real record count is expected', async () => {
    await expect(verifyCifar10Dir(good)).rejects.toThrow(/data_batch_1\.bin: 61460 bytes, expected 30730000 \(10000 records/);
  });

  it('names a missing file', async () => {
    const dir = copyOfGood('missing');
    unlinkSync(join(dir, 'data_batch_4.bin'));
    await expect(verifyCifar10Dir(dir, { expectedRecordsPerBatch: RECORDS })).rejects.toThrow(/missing CIFAR-10 file: .*missing\/data_batch_4\.bin/);
    await expect(readCifar10(dir, { expectedRecordsPerBatch: RECORDS })).rejects.toThrow(/missing CIFAR-10 file: .*data_batch_4\.bin/);
  });

  it('names a truncated file', async () => {
    const dir = copyOfGood('truncated');
    truncateSync(join(dir, 'test_batch.bin'), RECORDS * CIFAR10_RECORD_BYTES - 100);
    const err = await verifyCifar10Dir(dir, { expectedRecordsPerBatch: RECORDS }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.file).toBe(join(dir, 'test_batch.bin'));
    expect(err.message).toMatch(/truncated CIFAR-10 batch file .*test_batch\.bin: 61360 bytes, expected 61460/);
    await expect(readCifar10(dir, { expectedRecordsPerBatch: RECORDS })).rejects.toThrow(/truncated .*test_batch\.bin/);
  });

  it('names a bad label byte with its record index', async () => {
    const dir = copyOfGood('badlabel');
    const file = join(dir, 'data_batch_2.bin');
    const bytes = readFileSync(file);
    bytes[13 * CIFAR10_RECORD_BYTES] = 10;
    writeFileSync(file, bytes);
    await expect(verifyCifar10Dir(dir, { expectedRecordsPerBatch: RECORDS })).rejects.toThrow(/bad label byte 10 in .*data_batch_2\.bin at record 13/);
    await expect(readCifar10(dir, { expectedRecordsPerBatch: RECORDS })).rejects.toThrow(/at record 13/);
  });

  it('names a class-name file with the wrong number of names', async () => {
    const dir = copyOfGood('badmeta');
    writeFileSync(join(dir, 'batches.meta.txt'), 'cat\ndog\n');
    await expect(verifyCifar10Dir(dir, { expectedRecordsPerBatch: RECORDS })).rejects.toThrow(/batches\.meta\.txt must list 10 class names.*found 2/);
  });

  it('rejects a bad expectedRecordsPerBatch', async () => {
    await expect(verifyCifar10Dir(good, { expectedRecordsPerBatch: 0 })).rejects.toThrow(/expectedRecordsPerBatch/);
  });
});
