/**
 * The pixel work of a CIFAR-style image batch — crop, flip, per-channel normalisation — apart from its randomness
 * (a BatchPlan, drawn by ImageBatchLoader) and from tfjs, so a worker thread can do it without loading tfjs
 * (prefetch.ts). Each batch is the same bytes wherever it is filled.
 */
import { CIFAR10_CHANNELS, CIFAR10_HEIGHT, CIFAR10_WIDTH } from './cifar10/format.js';

export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

const H = CIFAR10_HEIGHT;
const W = CIFAR10_WIDTH;
const C = CIFAR10_CHANNELS;
/** Bytes of one 32×32×3 HWC image. */
export const IMAGE = H * W * C;
/** Zero padding on each side before the random crop. */
export const CROP_PADDING = 4;

/** One batch before its pixels: which images, and (with augmentation) how each is cropped and flipped. */
export interface BatchPlan {
  /** Index in the set of each row's image. */
  sources: Int32Array;
  /** Per row: vertical offset, horizontal offset (each 0..2·CROP_PADDING), flip (0 or 1); null without augmentation. */
  crops: Uint8Array | null;
}

/** Per channel, the normalised float for each uint8 value: lut[c * 256 + v]. */
export function normalizationTable(normalize: Normalization): Float32Array {
  if (normalize.mean?.length !== C || normalize.std?.length !== C) throw new RangeError('normalize.mean and normalize.std need 3 values (R, G, B)');
  const lut = new Float32Array(C * 256);
  for (let c = 0; c < C; c++) {
    const std = normalize.std[c];
    if (!(std > 0)) throw new RangeError(`normalize.std[${c}] must be positive, got ${std}`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - normalize.mean[c]) / std;
  }
  return lut;
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

export function normalizeInto(src: Uint8Array, srcOffset: number, lut: Float32Array, out: Float32Array, outOffset: number): void {
  for (let p = 0; p < IMAGE; p += C) {
    out[outOffset + p] = lut[src[srcOffset + p]];
    out[outOffset + p + 1] = lut[256 + src[srcOffset + p + 1]];
    out[outOffset + p + 2] = lut[512 + src[srcOffset + p + 2]];
  }
}

/** The normalised float32 NHWC pixels of a plan's batch, from the set's `images` and a normalizationTable. */
export function fillBatch(images: Uint8Array, plan: BatchPlan, lut: Float32Array): Float32Array {
  const { sources, crops } = plan;
  const x = new Float32Array(sources.length * IMAGE);
  const scratch = crops ? new Uint8Array(IMAGE) : null;
  for (let i = 0; i < sources.length; i++) {
    if (crops) {
      cropFlipInto(images, sources[i] * IMAGE, crops[3 * i], crops[3 * i + 1], crops[3 * i + 2] === 1, scratch!, 0);
      normalizeInto(scratch!, 0, lut, x, i * IMAGE);
    } else {
      normalizeInto(images, sources[i] * IMAGE, lut, x, i * IMAGE);
    }
  }
  return x;
}
