/** Test helpers: run the same computation on the cpu and wasm backends and compare. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { SeededRng } from '../rng.js';

/** Runs `compute` on `backend` and returns its result as plain numbers (every output, flattened, in order). */
export async function computeOn(backend: 'cpu' | 'wasm', compute: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`test setup: backend ${backend} did not start`);
  // Values are read outside tidy: tidy walks its return value, element by element for typed arrays.
  const outputs = tf.tidy(() => {
    const out = compute();
    return Array.isArray(out) ? out : [out];
  });
  const values = outputs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outputs);
  return values;
}

/** Largest absolute difference relative to the largest magnitude of the reference. */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0, scale = 1e-12;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

/** Seeded normal values for a tensor of `shape`; build the tensor inside each backend's computation. */
export function normalValues(shape: readonly number[], rng: SeededRng): { shape: number[]; values: Float32Array } {
  return { shape: [...shape], values: rng.normalArray(shape.reduce((a, b) => a * b, 1)) };
}
