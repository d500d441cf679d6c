import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../rng.js';
import { computeOn, normalValues, relativeError } from './compare-backends.test-util.js';
import { registerWasmTrainingKernels } from './register.js';

describe('wasm UnsortedSegmentSum matches the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  for (const [rows, rowShape, numSegments] of [[7, [3], 4], [12, [2, 5], 6], [1, [8], 3], [20, [], 5]] as const) {
    it(`${rows} rows of shape [${rowShape}] into ${numSegments} segments, ids out of range dropped`, async () => {
      const rng = new SeededRng(rows);
      const x = normalValues([rows, ...rowShape], rng);
      // Ids from -1 to numSegments: both ends are out of range and must contribute nothing.
      const ids = Int32Array.from({ length: rows }, () => rng.int(numSegments + 2) - 1);
      const compute = () => tf.unsortedSegmentSum(tf.tensor(x.values, x.shape), tf.tensor1d(ids, 'int32'), numSegments);
      const [cpu] = await computeOn('cpu', compute);
      const [wasm] = await computeOn('wasm', compute);
      expect(wasm).toHaveLength(numSegments * rowShape.reduce((a: number, b: number) => a * b, 1));
      expect(relativeError(wasm!, cpu!)).toBeLessThan(1e-5);
    });
  }

  it('sums int32 values and accepts 2-D segment ids (a prefix of x shape)', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor3d([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], [2, 2, 2], 'int32');
    const ids = tf.tensor2d([[0, 2], [2, 0]], [2, 2], 'int32');
    const out = tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 3 }) as tf.Tensor;
    expect(out.dtype).toBe('int32');
    expect(out.arraySync()).toEqual([[1 + 7, 2 + 8], [0, 0], [3 + 5, 4 + 6]]);
    tf.dispose([x, ids, out]);
  });

  it('gives the gradient of an embedding gather equal to cpu (repeated ids accumulate)', async () => {
    const rng = new SeededRng(5);
    const table = normalValues([10, 4], rng);
    const ids = Int32Array.from([3, 1, 3, 9, 0, 3, 1]);
    const weights = normalValues([7, 4], rng);
    const compute = () => tf.grad((t: tf.Tensor) =>
      tf.gather(t, tf.tensor1d(ids, 'int32')).mul(tf.tensor(weights.values, weights.shape)).sum())(tf.tensor(table.values, table.shape));
    const [cpu] = await computeOn('cpu', compute);
    const [wasm] = await computeOn('wasm', compute);
    expect(relativeError(wasm!, cpu!)).toBeLessThan(1e-5);
    // Row 3 was gathered three times: its gradient is the sum of those three weight rows.
    for (let k = 0; k < 4; k++) {
      expect(wasm![3 * 4 + k]).toBeCloseTo(weights.values[0 * 4 + k]! + weights.values[2 * 4 + k]! + weights.values[5 * 4 + k]!, 5);
    }
  });

  it('rejects segment ids whose shape is not a prefix of x', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([4, 3]), ids = tf.zeros([5], 'int32');
    expect(() => tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 2 })).toThrow(/segmentIds shape \[5\].*prefix of x shape \[4,3\]/);
    tf.dispose([x, ids]);
  });
});
