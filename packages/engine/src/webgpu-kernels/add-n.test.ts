import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { initEngine } from '../backend.js';
import { SeededRng } from '../rng.js';
import { itRequires, webgpuRequirement } from '../testing/index.js';

const requirement = await webgpuRequirement();

describe('webgpu AddN', () => {
  itRequires(requirement, 'sums more inputs than one shader can bind, as the cpu backend does', async () => {
    const rng = new SeededRng(1);
    const values = Array.from({ length: 23 }, () => Float32Array.from(rng.normalArray(50)));
    const sumOn = async (backend: 'cpu' | 'webgpu') => {
      await initEngine({ backend });
      const tensors = values.map((v) => tf.tensor2d(v, [5, 10]));
      const sum = tf.addN(tensors);
      const out = Float32Array.from(await sum.data());
      tf.dispose([...tensors, sum]);
      return out;
    };
    const expected = await sumOn('cpu');
    const before = tf.memory().numTensors;
    const actual = await sumOn('webgpu');
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-5);
    // and the few-input path is tfjs's own kernel, unchanged
    const small = tf.addN([tf.scalar(1), tf.scalar(2), tf.scalar(3)]);
    expect((await small.data())[0]).toBe(6);
    small.dispose();
  });
});
