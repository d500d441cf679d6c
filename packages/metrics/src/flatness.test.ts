import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import type { Model, ParamKind } from '@prunebench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { measureFlatness } from './flatness.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Softmax regression 8 → 3 (`fc.weight` [8, 3], `fc.bias` [3]): its loss is convex in the weights. */
function createLinearModel(seed: number): Model {
  const rng = new SeededRng(seed);
  const params = new Map<string, tf.Variable>([
    ['fc.weight', tf.variable(tf.tensor(rng.normalArray(24, 0.8), [8, 3]))],
    ['fc.bias', tf.variable(tf.tensor(rng.normalArray(3, 0.1), [3]))],
  ]);
  const paramKinds = new Map<string, ParamKind>([
    ['fc.weight', 'linear'],
    ['fc.bias', 'bias'],
  ]);
  return {
    arch: { family: 'toy-linear' },
    params,
    buffers: new Map(),
    paramKinds,
    forward: (input) => tf.tidy(() => tf.add(tf.matMul(input as tf.Tensor, params.get('fc.weight')!), params.get('fc.bias')!)),
    dispose: () => params.forEach((v) => v.dispose()),
  };
}

/** A fixed evaluation set labelled by the model's own argmax at creation (so the base loss is low). */
function evaluationSet(model: Model, n = 64) {
  const x = tf.tensor(new SeededRng(77).normalArray(n * 8), [n, 8]);
  const labels = tf.tidy(() => tf.oneHot(tf.argMax(model.forward(x, { training: false }), -1), 3));
  const loss = (m: Model) => tf.tidy(() => tf.losses.softmaxCrossEntropy(labels, m.forward(x, { training: false })).dataSync()[0]);
  const gradientOf = (m: Model) => {
    const vars = [...m.params.values()];
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, m.forward(x, { training: true })) as tf.Scalar, vars);
    value.dispose();
    return new Map([...m.params.keys()].map((name, i) => [name, grads[vars[i].name]]));
  };
  return { loss, gradientOf };
}

const snapshot = (model: Model) => new Map([...model.params].map(([name, v]) => [name, Float32Array.from(v.dataSync() as Float32Array)]));

describe('measureFlatness', () => {
  it('restores every weight exactly, after random and worst-case perturbations and after a failing loss', async () => {
    const model = createLinearModel(1);
    const { loss, gradientOf } = evaluationSet(model);
    const before = snapshot(model);
    const seen: number[] = [];
    const result = await measureFlatness({
      lossOn: (m) => {
        seen.push(loss(m));
        return seen[seen.length - 1];
      },
      model,
      params: ['fc.weight', 'fc.bias'],
      radius: 0.3,
      samples: 5,
      rng: new SeededRng(3),
      gradientOf,
    });
    expect(snapshot(model)).toEqual(before);
    expect(result.samples).toBe(5);
    expect(result.losses).toHaveLength(5);
    expect(seen).toHaveLength(1 + 5 + 1);
    expect(result.baseLoss).toBe(loss(model));
    expect(result.meanLoss).toBeCloseTo(result.losses.reduce((a, b) => a + b, 0) / 5, 10);
    expect(result.lossIncrease).toBeCloseTo(result.meanLoss - result.baseLoss, 10);

    let calls = 0;
    const failing = measureFlatness({
      lossOn: (m) => {
        if (++calls === 2) throw new Error('evaluation failed');
        return loss(m);
      },
      model,
      params: ['fc.weight'],
      radius: 0.5,
      samples: 3,
      rng: new SeededRng(3),
    });
    await expect(failing).rejects.toThrow(/evaluation failed/);
    expect(snapshot(model)).toEqual(before);
  });

  it('moves each tensor by exactly radius × its norm', async () => {
    const model = createLinearModel(2);
    const before = snapshot(model);
    const distances: Record<string, number>[] = [];
    await measureFlatness({
      lossOn: (m) => {
        const d: Record<string, number> = {};
        for (const [name, v] of m.params) {
          const w = v.dataSync() as Float32Array;
          const w0 = before.get(name)!;
          d[name] = Math.sqrt(w.reduce((s, x, i) => s + (x - w0[i]) ** 2, 0)) / Math.sqrt(w0.reduce((s, x) => s + x * x, 0));
        }
        distances.push(d);
        return 0;
      },
      model,
      params: ['fc.weight', 'fc.bias'],
      radius: 0.2,
      samples: 3,
      rng: new SeededRng(5),
    });
    expect(distances[0]).toEqual({ 'fc.weight': 0, 'fc.bias': 0 });
    for (const d of distances.slice(1)) {
      expect(d['fc.weight']).toBeCloseTo(0.2, 4);
      expect(d['fc.bias']).toBeCloseTo(0.2, 4);
    }
  });

  it('gives a larger increase for a larger radius, zero for radius 0, and the gradient direction beats random ones', async () => {
    const model = createLinearModel(4);
    const { loss, gradientOf } = evaluationSet(model);
    const at = (radius: number) =>
      measureFlatness({ lossOn: loss, model, params: ['fc.weight', 'fc.bias'], radius, samples: 8, rng: new SeededRng(11), gradientOf });
    const zero = await at(0);
    const small = await at(0.1);
    const large = await at(0.5);
    expect(zero.lossIncrease).toBe(0);
    expect(small.lossIncrease).toBeGreaterThan(0);
    expect(large.lossIncrease).toBeGreaterThan(small.lossIncrease);
    expect(large.worstCase!.lossIncrease).toBeGreaterThan(large.lossIncrease);
    expect(large.worstCase!.lossIncrease).toBeGreaterThan(small.worstCase!.lossIncrease);
    // A separate gradient radius moves only the ascent step: the random part is the same as at radius 0.5.
    const mixed = await measureFlatness({
      lossOn: loss, model, params: ['fc.weight', 'fc.bias'], radius: 0.5, gradientRadius: 0.1, samples: 8, rng: new SeededRng(11), gradientOf,
    });
    expect(mixed.losses).toEqual(large.losses);
    expect(mixed.worstCase).toEqual({ ...small.worstCase, radius: 0.1 });
    await expect(measureFlatness({ lossOn: loss, model, params: ['fc.weight'], radius: 0.1, gradientRadius: -1, samples: 1, rng: new SeededRng(1) }))
      .rejects.toThrow('measureFlatness: gradientRadius must be a finite number >= 0, got -1');
  });

  it('with masks, moves only the surviving weights: pruned weights stay exactly zero', async () => {
    const model = createLinearModel(6);
    const w = model.params.get('fc.weight')!;
    const mask = tf.tensor(Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 0 : 1)), [8, 3]);
    w.assign(tf.where(tf.notEqual(mask, 0), w, tf.zerosLike(w)));
    const before = snapshot(model);
    let checked = 0;
    await measureFlatness({
      lossOn: (m) => {
        const now = m.params.get('fc.weight')!.dataSync();
        for (let i = 0; i < 24; i++) if (i % 3 === 0) expect(Object.is(now[i], 0)).toBe(true);
        checked++;
        return 1;
      },
      model,
      params: ['fc.weight'],
      radius: 0.4,
      samples: 4,
      rng: new SeededRng(8),
      masks: new Map([['fc.weight', mask]]),
    });
    expect(checked).toBe(5);
    expect(snapshot(model)).toEqual(before);
  });

  it('rejects bad options, naming the field', async () => {
    const model = createLinearModel(1);
    const base = { lossOn: () => 0, model, params: ['fc.weight'], radius: 0.1, samples: 2, rng: new SeededRng(1) };
    await expect(measureFlatness({ ...base, radius: -1 })).rejects.toThrow(/radius/);
    await expect(measureFlatness({ ...base, samples: 0 })).rejects.toThrow(/samples/);
    await expect(measureFlatness({ ...base, params: ['fc9.weight'] })).rejects.toThrow(/params names "fc9.weight"/);
    await expect(measureFlatness({ ...base, masks: new Map([['fc.weight', tf.ones([3, 8])]]) })).rejects.toThrow(/masks\["fc.weight"\]/);
  });
});
