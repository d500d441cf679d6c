import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { createResNetCifar, getModelStructure, resnetCifarArch } from '@prunebench/models';
import { featuresWithoutEachBlock } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('cka-hybrid featuresWithoutEachBlock', () => {
  it('gives the same features through the structure\'s shared pass as by building each model (the fallback)', async () => {
    const model = createResNetCifar(resnetCifarArch(20), { seed: 4 });
    const structure = getModelStructure(model);
    const probe = { inputs: tf.tensor4d(new SeededRng(2).normalArray(4 * 32 * 32 * 3), [4, 32, 32, 3]), labels: tf.tensor1d([0, 1, 2, 3], 'int32'), size: 4 };
    const ids = structure.removableBlocks(model).map((b) => b.id);
    const fast = await featuresWithoutEachBlock(structure, model, probe, ids);
    const built = await featuresWithoutEachBlock({ ...structure, featuresWithoutEachBlock: undefined }, model, probe, ids);
    expect(ids).toHaveLength(9);
    expect([...fast.keys()]).toEqual(ids);
    for (const id of ids) expect(fast.get(id), id).toEqual(built.get(id));
    tf.dispose([probe.inputs, probe.labels]);
    model.dispose();
  });
});
