import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { ImageBatchLoader, cropFlipImage, normalizeImages, CROP_PADDING } from './loader.js';
import { CIFAR10_MEAN, CIFAR10_STD } from './cifar10/format.js';
import type { ImageSet } from './image-set.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Pixel (y, x, c) of the test image: distinct for every position and channel that matters here. */
const pixel = (y: number, x: number, c: number) => (y * 7 + x * 3 + c * 50 + 1) % 256;

function testImage(): Uint8Array {
  const img = new Uint8Array(3072);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) img[(y * 32 + x) * 3 + c] = pixel(y, x, c);
  return img;
}

/** `count` images, image i filled with the value i (so batch contents reveal the order). */
function constantSet(count: number): ImageSet {
  const images = new Uint8Array(count * 3072);
  for (let i = 0; i < count; i++) images.fill(i, i * 3072, (i + 1) * 3072);
  return { images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), count };
}

const identity = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };

describe('cropFlipImage', () => {
  const img = testImage();
  const at = (out: Uint8Array, y: number, x: number, c: number) => out[(y * 32 + x) * 3 + c];

  it('is the identity at the centre offset without flip', () => {
    expect(cropFlipImage(img, CROP_PADDING, CROP_PADDING, false)).toEqual(img);
  });

  it('shifts by a known offset with zero padding', () => {
    // Crop at (1, 6) of the padded image: output (y, x) = input (y - 3, x + 2).
    const out = cropFlipImage(img, 1, 6, false);
    expect(at(out, 3, 0, 0)).toBe(pixel(0, 2, 0));
    expect(at(out, 10, 20, 2)).toBe(pixel(7, 22, 2));
    expect(at(out, 2, 5, 1)).toBe(0); // rows 0..2 come from the top padding
    expect(at(out, 15, 30, 0)).toBe(0); // columns 30, 31 from the right padding
    expect(at(out, 15, 29, 0)).toBe(pixel(12, 31, 0));
  });

  it('flips left-right after cropping', () => {
    const flipped = cropFlipImage(img, CROP_PADDING, CROP_PADDING, true);
    expect(at(flipped, 5, 0, 1)).toBe(pixel(5, 31, 1));
    expect(at(flipped, 5, 31, 1)).toBe(pixel(5, 0, 1));
    // Flip + shift: output (y, x) = input (y, 31 - x + 2), zero where that leaves the image.
    const both = cropFlipImage(img, CROP_PADDING, 6, true);
    expect(at(both, 4, 2, 2)).toBe(pixel(4, 31, 2));
    expect(at(both, 4, 0, 2)).toBe(0);
  });

  it('equals the per-pixel definition at every offset, with and without flip', () => {
    // output (y, x, c) = padded input (y + oy, (flip ? 31 − x : x) + ox, c), padding 4 of zeros on each side
    for (let oy = 0; oy <= 2 * CROP_PADDING; oy++) {
      for (let ox = 0; ox <= 2 * CROP_PADDING; ox++) {
        for (const flip of [false, true]) {
          const expected = new Uint8Array(32 * 32 * 3);
          for (let y = 0; y < 32; y++) {
            for (let x = 0; x < 32; x++) {
              const sy = y + oy - CROP_PADDING, sx = (flip ? 31 - x : x) + ox - CROP_PADDING;
              for (let c = 0; c < 3; c++) expected[(y * 32 + x) * 3 + c] = sy < 0 || sy > 31 || sx < 0 || sx > 31 ? 0 : pixel(sy, sx, c);
            }
          }
          expect(cropFlipImage(img, oy, ox, flip), `offset (${oy}, ${ox}), flip ${flip}`).toEqual(expected);
        }
      }
    }
  });
});

describe('normalizeImages', () => {
  it('applies (x/255 - mean) / std per channel, HWC, for the chosen indices', () => {
    const set: ImageSet = { images: testImage(), labels: new Uint8Array([3]), count: 1 };
    const out = normalizeImages(set);
    const k = (9 * 32 + 4) * 3;
    for (let c = 0; c < 3; c++) expect(out[k + c]).toBeCloseTo((pixel(9, 4, c) / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c], 5);
    const two = normalizeImages(constantSet(5), [4, 1], identity);
    expect(two.length).toBe(2 * 3072);
    expect(two[0]).toBeCloseTo(4 / 255, 6);
    expect(two[3072]).toBeCloseTo(1 / 255, 6);
    expect(() => normalizeImages(constantSet(2), [2])).toThrow(/index 2 out of range/);
  });
});

describe('ImageBatchLoader', () => {
  const firstValues = (x: tf.Tensor4D) => {
    const data = x.dataSync();
    return Array.from({ length: x.shape[0] }, (_, i) => Math.round(data[i * 3072 + 1000] * 255));
  };

  it('yields NHWC float32 / int32 batches in order without shuffle, last batch partial', () => {
    const loader = new ImageBatchLoader(constantSet(10), { batchSize: 4, shuffle: false, augment: false, normalize: identity, rng: new SeededRng(0) });
    expect(loader.numBatches).toBe(3);
    const batches = [...loader.batches()];
    expect(batches.map((b) => b.size)).toEqual([4, 4, 2]);
    expect(batches[0].x.shape).toEqual([4, 32, 32, 3]);
    expect(batches[0].x.dtype).toBe('float32');
    expect(batches[0].y.dtype).toBe('int32');
    expect(firstValues(batches[2].x)).toEqual([8, 9]);
    expect(Array.from(batches[2].y.dataSync())).toEqual([8, 9]);
    batches.forEach((b) => tf.dispose([b.x, b.y]));
  });

  it('drops the last partial batch when asked', () => {
    const loader = new ImageBatchLoader(constantSet(10), { batchSize: 4, shuffle: true, augment: false, rng: new SeededRng(0), dropLast: true });
    expect(loader.numBatches).toBe(2);
    const sizes = [...loader.batches()].map((b) => (tf.dispose([b.x, b.y]), b.size));
    expect(sizes).toEqual([4, 4]);
  });

  it('shuffles deterministically: same seed same epochs, a new order each epoch, different seed different', () => {
    const epochs = (seed: number, n: number) => {
      const loader = new ImageBatchLoader(constantSet(40), { batchSize: 16, shuffle: true, augment: false, normalize: identity, rng: new SeededRng(seed) });
      return Array.from({ length: n }, () => [...loader.batches()].flatMap((b) => {
        const values = firstValues(b.x);
        expect(Array.from(b.y.dataSync())).toEqual(values.map((v) => v % 10)); // labels travel with images
        tf.dispose([b.x, b.y]);
        return values;
      }));
    };
    const [a1, a2] = epochs(7, 2);
    const [b1, b2] = epochs(7, 2);
    const [c1] = epochs(8, 1);
    expect([...a1].sort((p, q) => p - q)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(b1).toEqual(a1);
    expect(b2).toEqual(a2);
    expect(a2).not.toEqual(a1);
    expect(c1).not.toEqual(a1);
  });

  it('augments with seeded crops and flips that match cropFlipImage', () => {
    const img = testImage();
    const set: ImageSet = { images: new Uint8Array([...img, ...img, ...img, ...img, ...img, ...img, ...img, ...img]), labels: new Uint8Array(8), count: 8 };
    const run = (seed: number) => {
      const loader = new ImageBatchLoader(set, { batchSize: 8, shuffle: false, augment: true, normalize: identity, rng: new SeededRng(seed) });
      const [batch] = [...loader.batches()];
      const data = batch.x.dataSync();
      tf.dispose([batch.x, batch.y]);
      return Array.from({ length: 8 }, (_, i) => Uint8Array.from(data.subarray(i * 3072, (i + 1) * 3072), (v) => Math.round(v * 255)));
    };
    const a = run(11);
    // Every augmented image is one of the 9 × 9 × 2 possible crop/flip results.
    const candidates = new Map<string, string>();
    for (let oy = 0; oy <= 8; oy++) for (let ox = 0; ox <= 8; ox++) for (const flip of [false, true]) {
      candidates.set(Buffer.from(cropFlipImage(img, oy, ox, flip)).toString('base64'), `${oy},${ox},${flip}`);
    }
    const chosen = a.map((out) => candidates.get(Buffer.from(out).toString('base64')));
    expect(chosen.every((c) => c !== undefined)).toBe(true);
    expect(new Set(chosen).size).toBeGreaterThan(1);
    expect(run(11)).toEqual(a);
    expect(run(12)).not.toEqual(a);
  });

  it('keeps the same order with augmentation on or off', () => {
    const order = (augment: boolean) => {
      const loader = new ImageBatchLoader(constantSet(20), { batchSize: 20, shuffle: true, augment, normalize: identity, rng: new SeededRng(3) });
      const [b] = [...loader.batches()];
      const labels = Array.from(b.y.dataSync());
      tf.dispose([b.x, b.y]);
      return labels;
    };
    expect(order(true)).toEqual(order(false));
  });

  it('rejects bad options with the field named', () => {
    const rng = new SeededRng(0);
    expect(() => new ImageBatchLoader(constantSet(4), { batchSize: 0, shuffle: false, augment: false, rng })).toThrow(/batchSize/);
    const bad = { mean: [0, 0, 0] as [number, number, number], std: [1, 0, 1] as [number, number, number] };
    expect(() => new ImageBatchLoader(constantSet(4), { batchSize: 2, shuffle: false, augment: false, rng, normalize: bad })).toThrow(/normalize\.std\[1\]/);
    const wrongSize: ImageSet = { images: new Uint8Array(100), labels: new Uint8Array(1), count: 1 };
    expect(() => new ImageBatchLoader(wrongSize, { batchSize: 2, shuffle: false, augment: false, rng })).toThrow(/set\.images must hold/);
  });
});
