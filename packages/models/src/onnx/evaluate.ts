import type { OnnxRunner } from './runner.js';
import { nhwcToNchw } from './runner.js';

/** One batch of normalised images, NHWC float32 (prunebench's layout), with integer class labels. */
export interface NhwcClassifierBatch {
  images: Float32Array;
  labels: ArrayLike<number>;
  /** [n, h, w, c] */
  shape: [number, number, number, number];
}

export interface OnnxClassifierEvaluation {
  count: number;
  correct: number;
  /** Fraction in [0, 1]. */
  top1: number;
  /** Seconds spent inside onnxruntime (excludes layout conversion). */
  inferenceSeconds: number;
  /** count / inferenceSeconds. */
  imagesPerSecond: number;
}

/** Top-1 accuracy of an ONNX classifier (logits [n, classes]) over NHWC batches, converted to NCHW for the graph. */
export async function evaluateOnnxClassifier(
  runner: OnnxRunner,
  batches: Iterable<NhwcClassifierBatch> | AsyncIterable<NhwcClassifierBatch>,
): Promise<OnnxClassifierEvaluation> {
  let count = 0;
  let correct = 0;
  let inferenceSeconds = 0;
  for await (const batch of batches) {
    const [n, h, w, c] = batch.shape;
    if (batch.labels.length !== n) throw new Error(`evaluateOnnxClassifier: batch has ${n} images but ${batch.labels.length} labels`);
    const input = nhwcToNchw(batch.images, n, h, w, c);
    const start = process.hrtime.bigint();
    const logits = await runner.run(input, [n, c, h, w]);
    inferenceSeconds += Number(process.hrtime.bigint() - start) / 1e9;
    const classes = logits.length / n;
    if (!Number.isInteger(classes)) throw new Error(`evaluateOnnxClassifier: ${logits.length} logits for ${n} images`);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
      if (best === batch.labels[i]) correct++;
    }
    count += n;
  }
  if (count === 0) throw new Error('evaluateOnnxClassifier: no batches');
  return { count, correct, top1: correct / count, inferenceSeconds, imagesPerSecond: count / inferenceSeconds };
}

/**
 * Batches of uint8 HWC images (e.g. a CIFAR ImageSet), scaled to [0, 1] then normalised per channel:
 * (x/255 − mean[c]) / std[c].
 */
export function* normalisedImageBatches(
  images: Uint8Array,
  labels: ArrayLike<number>,
  opts: { count: number; height: number; width: number; channels: number; batchSize: number; mean: number[]; std: number[] },
): Generator<NhwcClassifierBatch> {
  const { count, height, width, channels, batchSize, mean, std } = opts;
  const imageSize = height * width * channels;
  if (images.length < count * imageSize) throw new Error(`normalisedImageBatches: images hold ${images.length} bytes, need ${count * imageSize}`);
  if (mean.length !== channels || std.length !== channels) throw new Error(`normalisedImageBatches: mean/std need ${channels} values`);
  for (let first = 0; first < count; first += batchSize) {
    const n = Math.min(batchSize, count - first);
    const out = new Float32Array(n * imageSize);
    const src = images.subarray(first * imageSize, (first + n) * imageSize);
    for (let i = 0; i < out.length; i++) {
      const ch = i % channels;
      out[i] = (src[i] / 255 - mean[ch]) / std[ch];
    }
    yield { images: out, labels: Array.from({ length: n }, (_, i) => labels[first + i]), shape: [n, height, width, channels] };
  }
}
