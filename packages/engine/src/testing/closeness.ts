import { expect } from 'vitest';

/**
 * Asserts max |actual − expected| ≤ tolerance · max(1, max |expected|), with equal lengths and a finite
 * difference: the closeness rule of the tests that set a GPU path beside a reference (float32, other summation orders).
 */
export function expectRelativelyClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tolerance: number): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 1, diff = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
  }
  expect(Number.isFinite(diff), `${what}: finite`).toBe(true);
  expect(diff / scale, `${what}: max |actual − expected| / scale`).toBeLessThanOrEqual(tolerance);
}
