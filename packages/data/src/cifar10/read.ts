/** Reads a verified-layout CIFAR-10 binary folder into memory, converting each record from CHW to HWC. */
import { join } from 'node:path';
import type { ImageSet } from '../image-set.js';
import {
  CIFAR10_CHANNELS,
  CIFAR10_IMAGE_BYTES,
  CIFAR10_META_FILE,
  CIFAR10_PIXELS,
  CIFAR10_RECORD_BYTES,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
} from './format.js';
import { checkBatchBytes, parseClassNames, readDatasetFile, recordsPerBatch, type Cifar10FormatOptions } from './verify.js';

export interface Cifar10 {
  train: ImageSet;
  test: ImageSet;
  classNames: string[];
}

export async function readCifar10(dir: string, opts: Cifar10FormatOptions = {}): Promise<Cifar10> {
  const metaFile = join(dir, CIFAR10_META_FILE);
  const classNames = parseClassNames(metaFile, (await readDatasetFile(metaFile)).toString('utf8'));
  const train = await readBatches(CIFAR10_TRAIN_FILES.map((name) => join(dir, name)), recordsPerBatch(opts));
  const test = await readBatches([join(dir, CIFAR10_TEST_FILE)], recordsPerBatch(opts));
  return { train, test, classNames };
}

/** Reads and concatenates batch files (each checked for size and labels) into one ImageSet. */
export async function readBatches(files: string[], records: number): Promise<ImageSet> {
  const count = files.length * records;
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let f = 0; f < files.length; f++) {
    const bytes = await readDatasetFile(files[f]);
    checkBatchBytes(files[f], bytes, records);
    decodeRecordsInto(bytes, records, images, labels, f * records);
  }
  return { images, labels, count };
}

/**
 * Decodes `records` CIFAR records (label, R plane, G plane, B plane) into HWC images starting at image
 * index `first` of `images`/`labels`.
 */
export function decodeRecordsInto(bytes: Uint8Array, records: number, images: Uint8Array, labels: Uint8Array, first: number): void {
  for (let r = 0; r < records; r++) {
    const src = r * CIFAR10_RECORD_BYTES;
    const dst = (first + r) * CIFAR10_IMAGE_BYTES;
    labels[first + r] = bytes[src];
    const red = src + 1;
    const green = red + CIFAR10_PIXELS;
    const blue = green + CIFAR10_PIXELS;
    for (let p = 0, o = dst; p < CIFAR10_PIXELS; p++, o += CIFAR10_CHANNELS) {
      images[o] = bytes[red + p];
      images[o + 1] = bytes[green + p];
      images[o + 2] = bytes[blue + p];
    }
  }
}
