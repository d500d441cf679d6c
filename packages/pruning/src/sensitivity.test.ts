import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerRatiosFromSensitivity, sensitivityAnalysis, sensitivityCsv } from './sensitivity.js';
import { createToyModel, snapshotValues } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('sensitivityAnalysis', () => {
  it('prunes one layer at a time at each sparsity, measures, and restores the weights', async () => {
    const model = createToyModel({ seed: 11 });
    const before = await snapshotValues(model);
    const seen: Array<{ zeros1: number; zeros2: number }> = [];
    // The probe reports the fraction of zeros in fc1 + fc2, so the score says exactly what was pruned.
    const evaluate = async () => {
      const zeros = (n: string) => Array.from(model.params.get(n)!.dataSync()).filter((v) => v === 0).length;
      const z = { zeros1: zeros('fc1.weight'), zeros2: zeros('fc2.weight') };
      seen.push(z);
      return z.zeros1 + z.zeros2;
    };
    const rows = await sensitivityAnalysis({ model, layers: ['fc1.weight', 'fc2.weight'], sparsities: [0, 0.5, 0.75], evaluate });
    expect(rows).toEqual([
      { layer: 'fc1.weight', sparsity: 0, score: 0 },
      { layer: 'fc1.weight', sparsity: 0.5, score: 64 },
      { layer: 'fc1.weight', sparsity: 0.75, score: 96 },
      { layer: 'fc2.weight', sparsity: 0, score: 0 },
      { layer: 'fc2.weight', sparsity: 0.5, score: 24 },
      { layer: 'fc2.weight', sparsity: 0.75, score: 36 },
    ]);
    // Only the probed layer was pruned each time.
    expect(seen.slice(3).every((z) => z.zeros1 === 0)).toBe(true);
    expect(await snapshotValues(model)).toEqual(before);
    model.dispose();
  });

  it('writes a CSV and turns a table into per-layer ratios', () => {
    const rows = [
      { layer: 'a', sparsity: 0.5, score: 0.9 },
      { layer: 'a', sparsity: 0.9, score: 0.6 },
      { layer: 'b,c', sparsity: 0.5, score: 0.7 },
    ];
    expect(sensitivityCsv(rows)).toBe('layer,sparsity,score\na,0.5,0.9\na,0.9,0.6\n"b,c",0.5,0.7\n');
    expect(layerRatiosFromSensitivity(rows, 0.92, 0.05)).toEqual({ a: 0.5, 'b,c': 0 });
  });

  it('rejects bad inputs naming the field', async () => {
    const model = createToyModel({ seed: 1 });
    const evaluate = async () => 1;
    await expect(sensitivityAnalysis({ model, layers: [], sparsities: [0.5], evaluate })).rejects.toThrow(/layers/);
    await expect(sensitivityAnalysis({ model, layers: ['fc1.weight'], sparsities: [2], evaluate })).rejects.toThrow(/sparsities/);
    await expect(sensitivityAnalysis({ model, layers: ['x'], sparsities: [0.5], evaluate })).rejects.toThrow(/unknown parameter "x"/);
    model.dispose();
  });
});
