import * as tf from '@tensorflow/tfjs';
import type { Model, ParamKind } from '@prunebench/models';
import { afterAll, describe, expect, it } from 'vitest';
import { compressionRatio, countParameters, defaultPrunableNames, prunableDensities } from './params.js';
import { sparseEncodingBytes, bitmapEncodingBytes } from './sparse-encoding.js';

await tf.setBackend('cpu');

/** A hand-made model: conv [2,2,1,2] (8 values, 3 zeros), its bias, a BN scale/shift, linear [2,3] (6 values, 1 zero), one buffer. */
function tinyModel(): Model {
  const params = new Map<string, tf.Variable>([
    ['conv1.weight', tf.variable(tf.tensor4d([1, 0, 2, 0, 3, 4, 0, 5], [2, 2, 1, 2]))],
    ['conv1.bias', tf.variable(tf.tensor1d([0, 1]))],
    ['bn1.weight', tf.variable(tf.tensor1d([1, 1]))],
    ['bn1.bias', tf.variable(tf.tensor1d([0, 0]))],
    ['linear.weight', tf.variable(tf.tensor2d([1, 2, 3, 0, 5, 6], [2, 3]))],
  ]);
  const paramKinds = new Map<string, ParamKind>([
    ['conv1.weight', 'conv2d'],
    ['conv1.bias', 'bias'],
    ['bn1.weight', 'norm-scale'],
    ['bn1.bias', 'norm-shift'],
    ['linear.weight', 'linear'],
  ]);
  const buffers = new Map([['bn1.running_mean', tf.variable(tf.tensor1d([5, 5]), false)]]);
  return {
    arch: { family: 'hand-made' },
    params,
    buffers,
    paramKinds,
    forward: () => {
      throw new Error('not used');
    },
    dispose: () => [...params.values(), ...buffers.values()].forEach((v) => v.dispose()),
  };
}

const model = tinyModel();
afterAll(() => model.dispose());

describe('countParameters', () => {
  it('counts trainable parameters only, prunable = conv + linear weights, nonzero values', async () => {
    const counts = await countParameters(model);
    // 8 + 2 + 2 + 2 + 6 = 20 (the 2 running-mean values are a buffer, not counted)
    expect(counts.total).toBe(20);
    expect(counts.prunable).toBe(14);
    // nonzero: conv 5, conv bias 1, bn scale 2, bn shift 0, linear 5
    expect(counts.nonzero).toBe(13);
    expect(counts.nonzeroPrunable).toBe(10);
    expect(counts.byLayer['conv1.weight']).toEqual({ total: 8, nonzero: 5, density: 5 / 8, prunable: true });
    expect(counts.byLayer['bn1.bias']).toEqual({ total: 2, nonzero: 0, density: 0, prunable: false });
    expect(compressionRatio(counts)).toBeCloseTo(20 / 13, 12);
    expect(defaultPrunableNames(model)).toEqual(['conv1.weight', 'linear.weight']);
  });

  it('applies masks: a value counts only where weight and mask are both nonzero', async () => {
    const mask = tf.tensor2d([1, 1, 0, 1, 0, 1], [2, 3]); // drops 3 and 5; the 0 weight stays zero
    const counts = await countParameters(model, { masks: new Map([['linear.weight', mask]]) });
    expect(counts.byLayer['linear.weight'].nonzero).toBe(3);
    expect(counts.nonzero).toBe(11);
    expect(counts.nonzeroPrunable).toBe(8);
    expect(prunableDensities(counts)).toEqual(new Map([['conv1.weight', 5 / 8], ['linear.weight', 0.5]]));
    mask.dispose();
  });

  it('takes an explicit prunable list', async () => {
    const counts = await countParameters(model, { prunable: ['linear.weight'] });
    expect(counts.prunable).toBe(6);
    expect(counts.nonzeroPrunable).toBe(5);
    expect(counts.byLayer['conv1.weight'].prunable).toBe(false);
  });

  it('names the bad field', async () => {
    await expect(countParameters(model, { prunable: ['conv9.weight'] })).rejects.toThrow(/"conv9.weight"/);
    const wrong = tf.ones([3, 2]);
    await expect(countParameters(model, { masks: new Map([['linear.weight', wrong]]) })).rejects.toThrow(/mask "linear.weight" has shape \[3,2\]/);
    await expect(countParameters(model, { masks: new Map([['bn1.running_mean', wrong]]) })).rejects.toThrow(/names no trainable parameter/);
    wrong.dispose();
    expect(() => compressionRatio({ total: 10, nonzero: 0 })).toThrow(/nonzero is 0/);
  });
});

describe('sparseEncodingBytes', () => {
  it('counts a 1-bit bitmap plus float32 nonzeros per tensor', async () => {
    expect(bitmapEncodingBytes(8, 5)).toBe(1 + 20);
    expect(bitmapEncodingBytes(9, 0)).toBe(2);
    const size = await sparseEncodingBytes(model);
    // conv: 1 + 4·5 = 21 vs 32; linear: 1 + 4·5 = 21 vs 24
    expect(size.byTensor['conv1.weight']).toEqual({ elements: 8, nonzero: 5, denseBytes: 32, sparseBytes: 21 });
    expect(size.denseBytes).toBe(56);
    expect(size.sparseBytes).toBe(42);
    expect(size.ratio).toBeCloseTo(56 / 42, 12);
  });

  it('encodes a map of weights, and a model after masks', async () => {
    const weights = new Map([['w', new Float32Array(1000).map((_, i) => (i % 10 === 0 ? 1 : 0))]]);
    const size = await sparseEncodingBytes(weights);
    expect(size.sparseBytes).toBe(125 + 400);
    expect(size.denseBytes).toBe(4000);
    const mask = tf.zeros([2, 3]);
    expect((await sparseEncodingBytes(model, { masks: new Map([['linear.weight', mask]]) })).byTensor['linear.weight'].sparseBytes).toBe(1);
    mask.dispose();
    await expect(sparseEncodingBytes(model, { prunable: ['nope'] })).rejects.toThrow(/"nope"/);
  });
});
