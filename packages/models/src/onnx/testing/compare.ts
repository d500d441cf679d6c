/** Test support: run NHWC images through an ONNX model and compare logits. */
import type * as tf from '@tensorflow/tfjs';
import { OnnxRunner, nhwcToNchw } from '../runner.js';

/** Logits of `images` (NHWC, as tfjs models take them) from ONNX bytes, via ORT cpu. */
export async function onnxLogits(bytes: Uint8Array, images: tf.Tensor4D): Promise<Float32Array> {
  const [n, h, w, c] = images.shape;
  const runner = await OnnxRunner.create(bytes);
  try {
    return await runner.run(nhwcToNchw((await images.data()) as Float32Array, n, h, w, c), [n, c, h, w]);
  } finally {
    await runner.dispose();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
