import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { createResNetCifar } from '../resnet-cifar.js';
import { exportOnnx } from './export.js';
import './resnet-cifar-exporter.js';
import { evaluateOnnxClassifier, normalisedImageBatches } from './evaluate.js';
import { OnnxRunner } from './runner.js';

describe('normalisedImageBatches', () => {
  it('scales to [0,1], normalises per channel and splits into batches', () => {
    const images = Uint8Array.from([0, 255, 51, 255, 0, 102, 51, 51, 51]); // 3 images of 1×1×3
    const batches = [...normalisedImageBatches(images, [4, 5, 6], { count: 3, height: 1, width: 1, channels: 3, batchSize: 2, mean: [0, 0.5, 0.2], std: [1, 0.5, 0.4] })];
    expect(batches.map((b) => b.shape)).toEqual([[2, 1, 1, 3], [1, 1, 1, 3]]);
    expect(batches.map((b) => b.labels)).toEqual([[4, 5], [6]]);
    const values = [...batches[0].images, ...batches[1].images];
    const expected = [0, 1, 0, 1, -1, 0.5, 0.2, -0.6, 0];
    values.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    expect(() => normalisedImageBatches(images, [0], { count: 4, height: 1, width: 1, channels: 3, batchSize: 2, mean: [0, 0, 0], std: [1, 1, 1] }).next()).toThrow(/need 12/);
  });
});

describe('evaluateOnnxClassifier', () => {
  it('counts top-1 hits against the tfjs predictions', async () => {
    await tf.setBackend('wasm');
    const model = createResNetCifar({
      family: 'resnet-cifar', depth: 8, numClasses: 10, stem: 4,
      stages: [{ blocks: [{ mid: 4, out: 4, stride: 1 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }, { blocks: [{ mid: 8, out: 8, stride: 2 }] }],
    }, { seed: 4 });
    const images = tf.randomNormal([6, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const predicted = Array.from(tf.argMax(model.forward(images, { training: false }), 1).dataSync());
    // Labels: the tfjs prediction for the first four images, a different class for the last two.
    const labels = predicted.map((p, i) => (i < 4 ? p : (p + 1) % 10));
    const runner = await OnnxRunner.create(await exportOnnx(model));
    const data = images.dataSync() as Float32Array;
    const batches = [
      { images: data.slice(0, 4 * 3072), labels: labels.slice(0, 4), shape: [4, 32, 32, 3] as [number, number, number, number] },
      { images: data.slice(4 * 3072), labels: labels.slice(4), shape: [2, 32, 32, 3] as [number, number, number, number] },
    ];
    const result = await evaluateOnnxClassifier(runner, batches);
    expect(result).toMatchObject({ count: 6, correct: 4 });
    expect(result.top1).toBeCloseTo(4 / 6, 10);
    expect(result.imagesPerSecond).toBeGreaterThan(0);
    await expect(evaluateOnnxClassifier(runner, [])).rejects.toThrow(/no batches/);
    await runner.dispose();
    images.dispose();
    model.dispose();
  });
});
