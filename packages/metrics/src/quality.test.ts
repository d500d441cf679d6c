import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { accuracy, argmax, f1Score, matthewsCorrelation, topKAccuracy } from './quality.js';

await tf.setBackend('cpu');

// 4 examples × 4 classes
const logits = new Float32Array([
  0.1, 0.5, 0.2, 0.9, // order 3, 1, 2, 0
  2.0, 1.0, 1.0, 0.0, // order 0, 1, 2 (tie broken by index), 3
  0.0, 0.0, 0.0, 0.0, // all tied: order 0, 1, 2, 3
  -1, NaN, -2, -3, //   NaN ranks last: order 0, 2, 3, 1
]);
const labels = [1, 2, 3, 1];

describe('argmax and topKAccuracy', () => {
  it('argmax picks the first maximum, NaN never wins', async () => {
    expect(Array.from(argmax(logits, 4))).toEqual([3, 0, 0, 0]);
    expect(Array.from(argmax(await tf.tensor2d(logits, [4, 4]).data(), 4))).toEqual([3, 0, 0, 0]);
  });

  it('top-k by rank with index tie-breaking', async () => {
    // label ranks: ex0 label 1 → rank 1; ex1 label 2 → rank 2; ex2 label 3 → rank 3; ex3 label 1 (NaN) → rank 3
    expect(topKAccuracy(logits, labels, 1, 4)).toBe(0);
    expect(topKAccuracy(logits, labels, 2, 4)).toBe(0.25);
    expect(topKAccuracy(logits, labels, 3, 4)).toBe(0.5);
    expect(topKAccuracy(logits, labels, 4, 4)).toBe(1);
    expect(topKAccuracy(await tf.tensor2d(logits, [4, 4]).data(), await tf.tensor1d(labels, 'int32').data(), 2, 4)).toBe(0.25);
    expect(topKAccuracy(logits, [3, 0, 0, 0], 1, 4)).toBe(1);
  });

  it('names the bad argument', () => {
    expect(() => topKAccuracy(logits, labels, 1)).toThrow(/numClasses/);
    expect(() => topKAccuracy(logits, labels, 5, 4)).toThrow(/k must be/);
    expect(() => topKAccuracy(logits, [1, 2], 1, 4)).toThrow(/2 labels for 4 rows/);
    expect(() => topKAccuracy(logits, [1, 2, 3, 7], 1, 4)).toThrow(/label 7 at index 3/);
    expect(() => argmax(new Float32Array(5), 4)).toThrow(/not a multiple/);
  });
});

describe('binary classification metrics', () => {
  // tp = 3, tn = 2, fp = 1, fn = 2
  const pred = [1, 1, 1, 1, 0, 0, 0, 0];
  const gold = [1, 1, 1, 0, 1, 1, 0, 0];

  it('accuracy', async () => {
    expect(accuracy(pred, gold)).toBe(5 / 8);
    expect(accuracy(await tf.tensor1d([2, 1, 0], 'int32').data(), [2, 0, 0])).toBeCloseTo(2 / 3, 12);
  });

  it('Matthews correlation, computed by hand', () => {
    // (3·2 − 1·2) / sqrt(4 · 5 · 3 · 4) = 4 / sqrt(240)
    expect(matthewsCorrelation(pred, gold)).toBeCloseTo(4 / Math.sqrt(240), 12);
    expect(matthewsCorrelation([1, 0, 1, 0], [1, 0, 1, 0])).toBe(1);
    expect(matthewsCorrelation([1, 0, 1, 0], [0, 1, 0, 1])).toBe(-1);
    // a constant predictor leaves the coefficient undefined: 0, as scikit-learn
    expect(matthewsCorrelation([1, 1, 1, 1], [1, 0, 1, 0])).toBe(0);
  });

  it('F1 of the positive class, and of class 0', () => {
    // 2·3 / (2·3 + 1 + 2) = 6 / 9
    expect(f1Score(pred, gold)).toBeCloseTo(2 / 3, 12);
    // class 0: tp = 2, fp = 2, fn = 1 → 4 / 7
    expect(f1Score(pred, gold, 0)).toBeCloseTo(4 / 7, 12);
    expect(f1Score([0, 0], [0, 0])).toBe(0);
  });

  it('rejects non-binary values and mismatched lengths', () => {
    expect(() => matthewsCorrelation([2, 0], [1, 0])).toThrow(/prediction 2 and label 1 at index 0/);
    expect(() => f1Score([1], [1, 0])).toThrow(/1 predictions for 2 labels/);
    expect(() => accuracy([], [])).toThrow(/no examples/);
  });
});
