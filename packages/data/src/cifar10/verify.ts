/**
 * Structural verification of a CIFAR-10 binary folder. Local copies are checked this way rather than by
 * the official archive's md5, because a faithful copy may order its records differently.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from '../errors.js';
import {
  CIFAR10_BATCH_FILES,
  CIFAR10_META_FILE,
  CIFAR10_NUM_CLASSES,
  CIFAR10_RECORD_BYTES,
  CIFAR10_RECORDS_PER_BATCH,
} from './format.js';

export interface Cifar10FormatOptions {
  /** Records in each batch file; 10,000 for the real data set (tests use small synthetic files). */
  expectedRecordsPerBatch?: number;
}

export function recordsPerBatch(opts: Cifar10FormatOptions = {}): number {
  const n = opts.expectedRecordsPerBatch ?? CIFAR10_RECORDS_PER_BATCH;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`expectedRecordsPerBatch must be a positive integer, got ${n}`);
  return n;
}

/** Throws a DatasetError naming `file` unless `bytes` holds exactly `records` records with labels 0..9. */
export function checkBatchBytes(file: string, bytes: Uint8Array, records: number): void {
  const expected = records * CIFAR10_RECORD_BYTES;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'too long';
    throw new DatasetError(
      `${what} CIFAR-10 batch file ${file}: ${bytes.length} bytes, expected ${expected} (${records} records × ${CIFAR10_RECORD_BYTES} bytes)`,
      file,
    );
  }
  for (let r = 0; r < records; r++) {
    const label = bytes[r * CIFAR10_RECORD_BYTES];
    if (label >= CIFAR10_NUM_CLASSES) {
      throw new DatasetError(`bad label byte ${label} in ${file} at record ${r} (labels must be 0..${CIFAR10_NUM_CLASSES - 1})`, file);
    }
  }
}

/** Parses batches.meta.txt: one class name per line, blank lines ignored; exactly 10 names. */
export function parseClassNames(file: string, text: string): string[] {
  const names = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (names.length !== CIFAR10_NUM_CLASSES) {
    throw new DatasetError(`${file} must list ${CIFAR10_NUM_CLASSES} class names, one per line; found ${names.length}`, file);
  }
  return names;
}

/** Reads one file, turning "no such file" into a DatasetError that names it. */
export async function readDatasetFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DatasetError(`missing CIFAR-10 file: ${file}`, file);
    throw err;
  }
}

/** Checks sizes first (cheap, catches truncation before reading 180 MB), then every label byte. */
export async function verifyCifar10Dir(dir: string, opts: Cifar10FormatOptions = {}): Promise<void> {
  const records = recordsPerBatch(opts);
  const expectedBytes = records * CIFAR10_RECORD_BYTES;
  for (const name of [CIFAR10_META_FILE, ...CIFAR10_BATCH_FILES]) {
    const file = join(dir, name);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DatasetError(`missing CIFAR-10 file: ${file}`, file);
      throw err;
    }
    if (name !== CIFAR10_META_FILE && size !== expectedBytes) {
      checkBatchBytes(file, new Uint8Array(size), records); // throws with the size message
    }
  }
  parseClassNames(join(dir, CIFAR10_META_FILE), (await readDatasetFile(join(dir, CIFAR10_META_FILE))).toString('utf8'));
  for (const name of CIFAR10_BATCH_FILES) {
    const file = join(dir, name);
    checkBatchBytes(file, await readDatasetFile(file), records);
  }
}
