/**
 * Helpers of the compiled-step kernel tests: closeness as max |webgpu − cpu| / max(1, max |cpu|), and running a
 * reference on the cpu backend while the webgpu backend stays the one kernels run on.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { expectRelativelyClose } from '../testing/closeness.js';

/** expectRelativelyClose on the first expected.length values (a kernel's output buffer may hold scratch after them). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tolerance: number): void {
  expect(actual.length, `${what}: length`).toBeGreaterThanOrEqual(expected.length);
  expectRelativelyClose(Array.prototype.slice.call(actual, 0, expected.length) as number[], expected, what, tolerance);
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
