/**
 * Helpers of the compiled-step kernel tests: closeness as max |webgpu − cpu| / max(1, max |cpu|), and running a
 * reference on the cpu backend while the webgpu backend stays the one kernels run on.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tolerance: number): void {
  expect(actual.length, `${what}: length`).toBeGreaterThanOrEqual(expected.length);
  let scale = 1, diff = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
  }
  expect(Number.isFinite(diff), `${what}: finite`).toBe(true);
  expect(diff / scale, `${what}: max |webgpu − cpu| / scale`).toBeLessThanOrEqual(tolerance);
}

/**
 * Computes `fn` on the cpu backend (then the webgpu backend is active again). Through tf.setBackend, not a second
 * initEngine('webgpu'): that asks Dawn for a new GPU instance and drops the one the running device belongs to.
 */
export async function onCpu<T>(fn: () => Promise<T> | T): Promise<T> {
  await tf.setBackend('cpu');
  try {
    return await fn();
  } finally {
    await tf.setBackend('webgpu');
  }
}

export const readFloats = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from(await t.data());
