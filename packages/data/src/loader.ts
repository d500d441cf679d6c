/**
 * Seeded mini-batches of CIFAR-style uint8 HWC images as NHWC float32 tensors, with the standard CIFAR
 * augmentation (4-pixel zero pad, random 32×32 crop, horizontal flip with p = 0.5) done in uint8 space
 * and per-channel normalisation ((x/255 − mean) / std) done through a 256-entry lookup table per channel.
 */
import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '@prunebench/engine';
import { checkImageSet, type ImageSet } from './image-set.js';
import { CIFAR10_CHANNELS, CIFAR10_HEIGHT, CIFAR10_MEAN, CIFAR10_STD, CIFAR10_WIDTH } from './cifar10/format.js';
import { CROP_PADDING, IMAGE, cropFlipInto, fillBatch, normalizationTable, normalizeInto, type BatchPlan, type Normalization } from './batch-fill.js';

export { CROP_PADDING, cropFlipInto, type BatchPlan, type Normalization } from './batch-fill.js';

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

function checkCifarSized(set: ImageSet, name: string): void {
  checkImageSet(set, name);
  if (set.images.length !== set.count * IMAGE) {
    throw new RangeError(`${name}.images must hold count × ${H}×${W}×${C} bytes (${set.count * IMAGE}), got ${set.images.length}`);
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

  /** The normalisation table the loader fills batches with (normalizationTable of its `normalize`). */
  get normalization(): Float32Array {
    return this.lut;
  }

  /**
   * One epoch of batches. Each call draws a new order (when shuffling) and new augmentations from the
   * loader's seeded streams, so epoch k is the same for the same seed. The caller disposes the tensors.
   */
  *batches(): Generator<ImageBatch> {
    for (const plan of this.plans()) yield this.batch(plan);
  }

  /**
   * One epoch as plans: all of batches()'s random draws, in the same order, without the pixel work — so the pixels
   * can be filled elsewhere (prefetch.ts) and the batches stay the same for the same seed.
   */
  *plans(): Generator<BatchPlan> {
    const count = this.set.count;
    const order = this.opts.shuffle ? this.orderRng.permutation(count) : Int32Array.from({ length: count }, (_, i) => i);
    for (let b = 0; b < this.numBatches; b++) {
      const start = b * this.batchSize;
      const size = Math.min(this.batchSize, count - start);
      const sources = order.slice(start, start + size);
      let crops: Uint8Array | null = null;
      if (this.opts.augment) {
        crops = new Uint8Array(3 * size);
        for (let i = 0; i < size; i++) {
          // Draw order per image: vertical offset, horizontal offset, flip.
          crops[3 * i] = this.augmentRng.int(2 * CROP_PADDING + 1);
          crops[3 * i + 1] = this.augmentRng.int(2 * CROP_PADDING + 1);
          crops[3 * i + 2] = this.augmentRng.next() < 0.5 ? 1 : 0;
        }
      }
      yield { sources, crops };
    }
  }

  /** The batch of a plan from plans(), as tensors; `x`: its pixels when filled elsewhere (fillBatch), else filled here. */
  batch(plan: BatchPlan, x: Float32Array = fillBatch(this.set.images, plan, this.lut)): ImageBatch {
    const size = plan.sources.length;
    const y = new Int32Array(size);
    for (let i = 0; i < size; i++) y[i] = this.set.labels[plan.sources[i]];
    return { x: tf.tensor4d(x, [size, H, W, C], 'float32'), y: tf.tensor1d(y, 'int32'), size };
  }
}
