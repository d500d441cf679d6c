import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { fanIn, kaimingNormalReinit } from './init.js';
import { restoreSnapshot, takeSnapshot } from './snapshot.js';
import { createToyConvModel, createToyModel, snapshotValues } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('snapshots', () => {
  it('restores every parameter exactly and zeroes the masked ones', async () => {
    const model = createToyModel({ seed: 12 });
    const saved = await snapshotValues(model);
    const snap = takeSnapshot(model);
    for (const v of model.params.values()) v.assign(tf.mul(v, 3));
    const mask = tf.tensor2d(Array.from({ length: 48 }, (_, i) => i % 2), [16, 3]);
    restoreSnapshot(model, snap, new Map([['fc2.weight', mask]]));
    const now = await snapshotValues(model);
    expect(now.get('fc1.weight')).toEqual(saved.get('fc1.weight'));
    const w = now.get('fc2.weight')!;
    for (let i = 0; i < 48; i++) expect(w[i]).toBe(i % 2 ? saved.get('fc2.weight')![i] : 0);
    model.dispose();
  });
});

describe('kaimingNormalReinit', () => {
  it('re-samples conv/linear weights with std sqrt(2 / fan-in), deterministically', () => {
    const a = createToyConvModel({ seed: 1 });
    const b = createToyConvModel({ seed: 2 });
    kaimingNormalReinit(a, ['conv2.weight'], new SeededRng(5));
    kaimingNormalReinit(b, ['conv2.weight'], new SeededRng(5));
    const w = Array.from(a.params.get('conv2.weight')!.dataSync());
    expect(w).toEqual(Array.from(b.params.get('conv2.weight')!.dataSync()));
    expect(fanIn([3, 3, 4, 6], 'conv2d')).toBe(36);
    const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.7 * Math.sqrt(2 / 36));
    expect(std).toBeLessThan(1.3 * Math.sqrt(2 / 36));
    expect(() => kaimingNormalReinit(a, ['norm1.weight'], new SeededRng(1))).toThrow(/norm1.weight.*only conv2d and linear/);
    a.dispose();
    b.dispose();
  });
});
