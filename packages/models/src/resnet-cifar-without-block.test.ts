import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import type { ResNetCifarArch } from './resnet-cifar.js';
import type { Model } from './types.js';
import { resnetCifarStructure } from './resnet-cifar-structure.js';
import { randomResNetCifar } from './testing/random-resnet-cifar.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Two blocks per stage; the first block of stages 2 and 3 is stride 2 with an option-A shortcut. */
const ARCH: ResNetCifarArch = {
  family: 'resnet-cifar',
  depth: 14,
  numClasses: 5,
  stem: 4,
  stages: [
    { blocks: [{ mid: 4, out: 4, stride: 1 }, { mid: 4, out: 4, stride: 1 }] },
    { blocks: [{ mid: 6, out: 8, stride: 2 }, { mid: 8, out: 8, stride: 1 }] },
    { blocks: [{ mid: 5, out: 12, stride: 2 }, { mid: 12, out: 12, stride: 1 }] },
  ],
};

function images(n: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(new SeededRng(seed).normalArray(n * 8 * 8 * 3), [n, 8, 8, 3]);
}

/** The reference: build each model by surgery and run it whole. */
function bySurgery(model: Model<ResNetCifarArch>, x: tf.Tensor, id: string): Float32Array {
  const without = resnetCifarStructure.applySurgery(model, { removeBlocks: [id] });
  try {
    const capture = resnetCifarStructure.forwardWithActivations(without, x, []);
    const features = capture.features.dataSync() as Float32Array;
    tf.dispose([capture.output, capture.features]);
    return features;
  } finally {
    without.dispose();
  }
}

function expectSameAsSurgery(model: Model<ResNetCifarArch>, x: tf.Tensor): string[] {
  const ids = resnetCifarStructure.removableBlocks(model).map((b) => b.id);
  const fast = resnetCifarStructure.featuresWithoutEachBlock!(model, x, ids);
  try {
    expect([...fast.keys()]).toEqual(ids);
    for (const id of ids) {
      // bit for bit: the same operations on the same weights
      expect(fast.get(id)!.dataSync(), id).toEqual(bySurgery(model, x, id));
    }
  } finally {
    tf.dispose([...fast.values()]);
  }
  return ids;
}

describe('resnet-cifar featuresWithoutEachBlock', () => {
  it('gives the pooled features of each one-block-removed model exactly, identity and option-A blocks alike', () => {
    const model = randomResNetCifar(ARCH, 3);
    const x = images(6, 1);
    const before = tf.memory().numTensors;
    expect(expectSameAsSurgery(model, x)).toEqual(['layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0', 'layer3.1']);
    expect(tf.memory().numTensors).toBe(before);
    // Removing a block changes the features (else the check above would prove nothing).
    const whole = resnetCifarStructure.forwardWithActivations(model, x, []);
    expect(whole.features.dataSync()).not.toEqual(bySurgery(model, x, 'layer2.1'));
    tf.dispose([whole.output, whole.features, x]);
    model.dispose();
  });

  it('matches surgery on a model already cut: units kept, a block dropped, a coupled stream narrowed (channel-mapped shortcuts)', () => {
    const start = randomResNetCifar(ARCH, 5);
    const cut = resnetCifarStructure.applySurgery(start, {
      keep: { 'layer1.0.conv1': [0, 2, 3], 'layer3.1.conv1': [1, 4, 5, 9], stage2: [0, 1, 3, 4, 6, 7] },
      removeBlocks: ['layer2.1'],
    });
    const x = images(5, 2);
    expect(expectSameAsSurgery(cut, x)).toEqual(['layer1.0', 'layer1.1', 'layer2.0', 'layer3.0', 'layer3.1']);
    expect(() => resnetCifarStructure.featuresWithoutEachBlock!(cut, x, ['layer2.1'])).toThrow('resnet-cifar: no live block "layer2.1" to remove');
    expect(() => resnetCifarStructure.featuresWithoutEachBlock!(cut, x, ['layer9.0'])).toThrow('resnet-cifar: no live block "layer9.0" to remove');
    tf.dispose(x);
    start.dispose();
    cut.dispose();
  });
});
