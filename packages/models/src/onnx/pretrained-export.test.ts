import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { loadPretrainedResNet } from '../weights.js';
import { exportOnnx } from './index.js';
import { maxAbsDiff, onnxLogits } from './testing/compare.js';

const weightsDir = process.env.PRUNEBENCH_WEIGHTS;
const resnet20 = weightsDir ? join(weightsDir, 'resnet-cifar10', 'resnet20.safetensors') : '';
const available = !!weightsDir && existsSync(resnet20);
if (!available) {
  console.warn(`SKIPPED: pretrained ResNet-20 ONNX export test (set PRUNEBENCH_WEIGHTS to a folder with resnet-cifar10/resnet20.safetensors)`);
}

/** Random images in [0, 1] normalised with the CIFAR-10 training statistics, NHWC. */
function normalisedBatch(n: number, seed: number): tf.Tensor4D {
  const rng = new SeededRng(seed);
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const data = Float32Array.from({ length: n * 32 * 32 * 3 }, (_, i) => (rng.next() - mean[i % 3]) / std[i % 3]);
  return tf.tensor4d(data, [n, 32, 32, 3]);
}

describe.skipIf(!available)('pretrained ResNet-20 exported to ONNX', () => {
  it('gives the tfjs logits (wasm, eval mode) to 1e-4, folded and unfolded', async () => {
    await tf.setBackend('wasm');
    const model = await loadPretrainedResNet(20, { weightsDir, allowDownload: false });
    const images = normalisedBatch(8, 20);
    try {
      const expected = model.forward(images, { training: false }).dataSync() as Float32Array;
      // The check is only meaningful if the logits are not tiny: trained logits span several units.
      expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(1);
      for (const foldBatchNorm of [true, false]) {
        const actual = await onnxLogits(await exportOnnx(model, { foldBatchNorm }), images);
        expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-4);
      }
    } finally {
      images.dispose();
      model.dispose();
    }
  });
});
