/**
 * Seeded mini-batches of CIFAR-style uint8 HWC images as NHWC float32 tensors, with the standard CIFAR
 * augmentation (4-pixel zero pad, random 32×32 crop, horizontal flip with p = 0.5) done in uint8 space
 * and per-channel normalisation ((x/255 − mean) / std) done through a 256-entry lookup table per channel.
 */
import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '@prunebench/engine';
import { checkImageSet, type ImageSet } from './image-set.js';
import { CIFAR10_CHANNELS, CIFAR10_HEIGHT, CIFAR10_MEAN, CIFAR10_STD, CIFAR10_WIDTH } from './cifar10/format.js';

export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

export interface ImageBatchLoaderOptions {
  batchSize: number;
  shuffle: boolean;
  augment: boolean;
  /** Default: CIFAR10_MEAN / CIFAR10_STD, which the pretrained weights expect. */
  normalize?: Normalization;
  rng: SeededRng;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
}

export interface ImageBatch {
  /** [size, 32, 32, 3] float32, normalised. */
  x: tf.Tensor4D;
  /** [size] int32 class labels. */
  y: tf.Tensor1D;
  size: number;
}

const H = CIFAR10_HEIGHT;
const W = CIFAR10_WIDTH;
const C = CIFAR10_CHANNELS;
const IMAGE = H * W * C;
/** Zero padding on each side before the random crop. */
export const CROP_PADDING = 4;

/** Per channel, the normalised float for each uint8 value: lut[c * 256 + v]. */
function normalizationTable(normalize: Normalization): Float32Array {
  if (normalize.mean?.length !== C || normalize.std?.length !== C) throw new RangeError('normalize.mean and normalize.std need 3 values (R, G, B)');
  const lut = new Float32Array(C * 256);
  for (let c = 0; c < C; c++) {
    const std = normalize.std[c];
    if (!(std > 0)) throw new RangeError(`normalize.std[${c}] must be positive, got ${std}`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - normalize.mean[c]) / std;
  }
  return lut;
}

function checkCifarSized(set: ImageSet, name: string): void {
  checkImageSet(set, name);
  if (set.images.length !== set.count * IMAGE) {
    throw new RangeError(`${name}.images must hold count × ${H}×${W}×${C} bytes (${set.count * IMAGE}), got ${set.images.length}`);
  }
}

/**
 * Writes image `src` (HWC uint8, at byte offset `srcOffset`) cropped from its zero-padded version at
 * (offsetY, offsetX) — each in 0..2·CROP_PADDING, where CROP_PADDING means no shift — and optionally
 * mirrored left-right, into `dst` at `dstOffset`.
 */
export function cropFlipInto(
  src: Uint8Array,
  srcOffset: number,
  offsetY: number,
  offsetX: number,
  flip: boolean,
  dst: Uint8Array,
  dstOffset: number,
): void {
  for (let y = 0; y < H; y++) {
    const sy = y + offsetY - CROP_PADDING;
    for (let x = 0; x < W; x++) {
      const sx = (flip ? W - 1 - x : x) + offsetX - CROP_PADDING;
      const o = dstOffset + (y * W + x) * C;
      if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
        dst[o] = 0;
        dst[o + 1] = 0;
        dst[o + 2] = 0;
      } else {
        const s = srcOffset + (sy * W + sx) * C;
        dst[o] = src[s];
        dst[o + 1] = src[s + 1];
        dst[o + 2] = src[s + 2];
      }
    }
  }
}

/** One image, augmented: a convenience wrapper around cropFlipInto. */
export function cropFlipImage(image: Uint8Array, offsetY: number, offsetX: number, flip: boolean): Uint8Array {
  if (image.length !== IMAGE) throw new RangeError(`image must hold ${IMAGE} bytes (32×32×3 HWC), got ${image.length}`);
  const out = new Uint8Array(IMAGE);
  cropFlipInto(image, 0, offsetY, offsetX, flip, out, 0);
  return out;
}

/** Normalised float32 NHWC copies of the images at `indices` (default: all), for evaluation. */
export function normalizeImages(set: ImageSet, indices?: ArrayLike<number>, normalize: Normalization = { mean: CIFAR10_MEAN, std: CIFAR10_STD }): Float32Array {
  checkCifarSized(set, 'set');
  const lut = normalizationTable(normalize);
  const n = indices ? indices.length : set.count;
  const out = new Float32Array(n * IMAGE);
  for (let i = 0; i < n; i++) {
    const src = indices ? indices[i] : i;
    if (!Number.isInteger(src) || src < 0 || src >= set.count) throw new RangeError(`index ${src} out of range [0, ${set.count})`);
    normalizeInto(set.images, src * IMAGE, lut, out, i * IMAGE);
  }
  return out;
}

function normalizeInto(src: Uint8Array, srcOffset: number, lut: Float32Array, out: Float32Array, outOffset: number): void {
  for (let p = 0; p < IMAGE; p += C) {
    out[outOffset + p] = lut[src[srcOffset + p]];
    out[outOffset + p + 1] = lut[256 + src[srcOffset + p + 1]];
    out[outOffset + p + 2] = lut[512 + src[srcOffset + p + 2]];
  }
}

export class ImageBatchLoader {
  readonly batchSize: number;
  private readonly lut: Float32Array;
  /** Separate streams, so switching augmentation on or off keeps the same order. */
  private readonly orderRng: SeededRng;
  private readonly augmentRng: SeededRng;

  constructor(
    readonly set: ImageSet,
    private readonly opts: ImageBatchLoaderOptions,
  ) {
    checkCifarSized(set, 'set');
    if (!Number.isInteger(opts.batchSize) || opts.batchSize <= 0) throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
    if (!opts.rng) throw new RangeError('rng is required (a SeededRng from @prunebench/engine)');
    this.batchSize = opts.batchSize;
    this.lut = normalizationTable(opts.normalize ?? { mean: CIFAR10_MEAN, std: CIFAR10_STD });
    this.orderRng = opts.rng.fork('order');
    this.augmentRng = opts.rng.fork('augment');
  }

  get numBatches(): number {
    return this.opts.dropLast ? Math.floor(this.set.count / this.batchSize) : Math.ceil(this.set.count / this.batchSize);
  }

  /**
   * One epoch of batches. Each call draws a new order (when shuffling) and new augmentations from the
   * loader's seeded streams, so epoch k is the same for the same seed. The caller disposes the tensors.
   */
  *batches(): Generator<ImageBatch> {
    const count = this.set.count;
    const order = this.opts.shuffle ? this.orderRng.permutation(count) : Int32Array.from({ length: count }, (_, i) => i);
    const scratch = new Uint8Array(IMAGE);
    for (let b = 0; b < this.numBatches; b++) {
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, count - start);
      const x = new Float32Array(size * IMAGE);
      const y = new Int32Array(size);
      for (let i = 0; i < size; i++) {
        const src = order[start + i];
        y[i] = this.set.labels[src];
        if (this.opts.augment) {
          // Draw order per image: vertical offset, horizontal offset, flip.
          const offsetY = this.augmentRng.int(2 * CROP_PADDING + 1);
          const offsetX = this.augmentRng.int(2 * CROP_PADDING + 1);
          const flip = this.augmentRng.next() < 0.5;
          cropFlipInto(this.set.images, src * IMAGE, offsetY, offsetX, flip, scratch, 0);
          normalizeInto(scratch, 0, this.lut, x, i * IMAGE);
        } else {
          normalizeInto(this.set.images, src * IMAGE, this.lut, x, i * IMAGE);
        }
      }
      yield { x: tf.tensor4d(x, [size, H, W, C], 'float32'), y: tf.tensor1d(y, 'int32'), size };
    }
  }
}
