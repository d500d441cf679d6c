/** Test-only: small synthetic CIFAR-10 folders and archives in the official binary layout. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  CIFAR10_ARCHIVE_ROOT,
  CIFAR10_BATCH_FILES,
  CIFAR10_CLASS_NAMES,
  CIFAR10_META_FILE,
  CIFAR10_PIXELS,
  CIFAR10_RECORD_BYTES,
} from '../cifar10/format.js';
import { writeTar } from './tar-writer.js';

/** Label of record r in batch file f: cycles through the classes so every class is present. */
export function fixtureLabel(fileIndex: number, record: number): number {
  return (record + fileIndex) % 10;
}

/** Channel value of pixel p (row-major) of record r in file f: distinct enough to catch layout mix-ups. */
export function fixturePixel(fileIndex: number, record: number, channel: number, pixel: number): number {
  return (fileIndex * 31 + record * 7 + channel * 85 + pixel) % 256;
}

/** Bytes of one batch file: `records` records of label + R, G, B planes. */
export function fixtureBatch(fileIndex: number, records: number): Buffer {
  const bytes = Buffer.alloc(records * CIFAR10_RECORD_BYTES);
  for (let r = 0; r < records; r++) {
    const base = r * CIFAR10_RECORD_BYTES;
    bytes[base] = fixtureLabel(fileIndex, r);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < CIFAR10_PIXELS; p++) bytes[base + 1 + c * CIFAR10_PIXELS + p] = fixturePixel(fileIndex, r, c, p);
    }
  }
  return bytes;
}

export const FIXTURE_META = CIFAR10_CLASS_NAMES.join('\n') + '\n\n';

/** Writes <parent>/cifar-10-batches-bin/ with `records` records per batch; returns that folder. */
export function writeCifar10Folder(parent: string, records: number): string {
  const dir = join(parent, CIFAR10_ARCHIVE_ROOT);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, CIFAR10_META_FILE), FIXTURE_META);
  CIFAR10_BATCH_FILES.forEach((name, f) => writeFileSync(join(dir, name), fixtureBatch(f, records)));
  return dir;
}

/** A .tar.gz laid out like the official archive (plus a readme), holding `records` records per batch. */
export function cifar10ArchiveBytes(records: number): Buffer {
  const entries = [
    { name: `${CIFAR10_ARCHIVE_ROOT}/` },
    { name: `${CIFAR10_ARCHIVE_ROOT}/${CIFAR10_META_FILE}`, data: Buffer.from(FIXTURE_META) },
    ...CIFAR10_BATCH_FILES.map((name, f) => ({ name: `${CIFAR10_ARCHIVE_ROOT}/${name}`, data: fixtureBatch(f, records) })),
    { name: `${CIFAR10_ARCHIVE_ROOT}/readme.html`, data: Buffer.from('<html></html>') },
  ];
  return gzipSync(writeTar(entries));
}
