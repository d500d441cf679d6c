import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';

/**
 * Test-only: CIFAR-10 test images straight from the binary tarball (models may not depend on the data
 * package). Records are 1 label byte + 3072 bytes (3 planes of 32×32).
 */
export const CIFAR10_MEAN = [0.485, 0.456, 0.406];
export const CIFAR10_STD = [0.229, 0.224, 0.225];

export function readCifar10TestBatch(dataRoot: string): { labels: Uint8Array; pixels: Uint8Array; count: number } {
  const tarPath = join(dataRoot, 'cifar-10', 'cifar-10-binary.tar.gz');
  const tar = gunzipSync(readFileSync(tarPath));
  let pos = 0;
  while (pos + 512 <= tar.byteLength && tar[pos] !== 0) {
    const name = tar.subarray(pos, pos + 100).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(tar.subarray(pos + 124, pos + 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
    const start = pos + 512;
    if (name.endsWith('test_batch.bin')) {
      const body = tar.subarray(start, start + size);
      const count = size / 3073;
      const labels = new Uint8Array(count);
      const pixels = new Uint8Array(count * 3072);
      for (let i = 0; i < count; i++) {
        labels[i] = body[i * 3073];
        pixels.set(body.subarray(i * 3073 + 1, (i + 1) * 3073), i * 3072);
      }
      return { labels, pixels, count };
    }
    pos = start + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${tarPath}: no test_batch.bin inside`);
}

/** Images [from, from + n) as NHWC float32, scaled to [0, 1] and normalised with the ImageNet mean/std. */
export function normalisedBatch(pixels: Uint8Array, from: number, n: number): tf.Tensor4D {
  const out = new Float32Array(n * 3072);
  for (let i = 0; i < n; i++) {
    const src = (from + i) * 3072;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) {
        out[i * 3072 + p * 3 + c] = (pixels[src + c * 1024 + p] / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c];
      }
    }
  }
  return tf.tensor4d(out, [n, 32, 32, 3]);
}
