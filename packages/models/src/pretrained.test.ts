import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { normalisedBatch, readCifar10TestBatch } from './cifar10-test-images.test-util.js';
import { readSafetensors } from './safetensors.js';
import { stateDict } from './state-dict.js';
import { loadPretrainedResNet } from './weights.js';

const weightsRoot = process.env.PRUNEBENCH_WEIGHTS;
const dataRoot = process.env.PRUNEBENCH_DATA;
if (!weightsRoot) console.warn('SKIPPED: pretrained ResNet tests need PRUNEBENCH_WEIGHTS');
if (!dataRoot) console.warn('SKIPPED: pretrained ResNet-20 accuracy test needs PRUNEBENCH_DATA');

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe.skipIf(!weightsRoot)('pretrained ResNet-20', () => {
  it('loads from the .th original and the safetensors copy to the same state dict', async () => {
    const fromTh = await loadPretrainedResNet(20, { weightsDir: weightsRoot! });
    const st = await readSafetensors(join(weightsRoot!, 'resnet-cifar10', 'resnet20.safetensors'));
    const sd = await stateDict(fromTh);
    for (const [name, t] of sd) expect(t.data, name).toEqual(st.get(name)!.data);
    fromTh.dispose();
  });

  it.skipIf(!dataRoot || !existsSync(join(dataRoot ?? '', 'cifar-10')))(
    'classifies the first 500 CIFAR-10 test images with > 88 % top-1 (wasm, eval mode)',
    async () => {
      const model = await loadPretrainedResNet(20, { weightsDir: weightsRoot! });
      const { labels, pixels } = readCifar10TestBatch(dataRoot!);
      let correct = 0;
      const n = 500;
      for (let from = 0; from < n; from += 100) {
        const predicted = tf.tidy(() => tf.argMax(model.forward(normalisedBatch(pixels, from, 100), { training: false }), 1));
        const p = predicted.dataSync();
        predicted.dispose();
        for (let i = 0; i < p.length; i++) if (p[i] === labels[from + i]) correct++;
      }
      model.dispose();
      expect(correct / n).toBeGreaterThan(0.88);
    },
  );
});
