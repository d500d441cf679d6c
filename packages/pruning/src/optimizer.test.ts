import * as tf from '@tensorflow/tfjs';
import type { Model, ParamKind } from '@prunebench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMaskedOptimizer, type MaskedOptimizer, type MaskedOptimizerSettings, type OptimizerState } from './optimizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A "model" of bare parameters (step never calls forward). */
function paramsModel(values: Record<string, { kind: ParamKind; value: number[] }>): Model {
  const params = new Map<string, tf.Variable>();
  const paramKinds = new Map<string, ParamKind>();
  for (const [name, { kind, value }] of Object.entries(values)) {
    params.set(name, tf.variable(tf.tensor1d(value)));
    paramKinds.set(name, kind);
  }
  return {
    arch: { family: 'params-only' },
    params,
    buffers: new Map(),
    paramKinds,
    forward: () => {
      throw new Error('not a network');
    },
    dispose: () => tf.dispose([...params.values()]),
  };
}

const read = (model: Model, name: string) => Array.from(model.params.get(name)!.dataSync());
const grads = (values: Record<string, number[]>) => new Map(Object.entries(values).map(([name, g]) => [name, tf.tensor1d(g)]));

function step(optimizer: MaskedOptimizer, model: Model, values: Record<string, number[]>, learningRate: number, masks?: Map<string, tf.Tensor>): void {
  const g = grads(values);
  optimizer.step(model, g, { learningRate, masks });
  tf.dispose([...g.values()]);
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a, `[${i}]`).toBeCloseTo(expected[i], 6));
}

async function stateValues(state: OptimizerState): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [key, t] of state.tensors) out[key] = Array.from(await t.data());
  return out;
}

describe('MaskedOptimizer: SGD', () => {
  const settings: MaskedOptimizerSettings = { kind: 'sgd', momentum: 0.9, weightDecay: 0.1 };

  it('takes PyTorch SGD steps: g + wd·w, v = μv + g, w − lr·v; pruned entries get no gradient and stay exactly +0', async () => {
    const model = paramsModel({ w: { kind: 'linear', value: [1, -2, 3] } });
    const mask = tf.tensor1d([1, 1, 0]);
    const optimizer = createMaskedOptimizer(settings);
    const lr = 0.5;
    const w0 = [1, -2, 3];
    const g1 = [0.2, -0.4, 0.6];
    step(optimizer, model, { w: g1 }, lr, new Map([['w', mask]]));
    // Step 1: v = g + wd·w (masked); w ← w − lr·v, pruned → 0.
    const v1 = w0.map((w, i) => (i === 2 ? 0 : g1[i] + 0.1 * w));
    const w1 = w0.map((w, i) => (i === 2 ? 0 : w - lr * v1[i]));
    expectClose(read(model, 'w'), w1);
    expect(Object.is(read(model, 'w')[2], 0)).toBe(true);
    const g2 = [-0.1, 0.3, 5];
    step(optimizer, model, { w: g2 }, lr, new Map([['w', mask]]));
    const v2 = w1.map((w, i) => (i === 2 ? 0 : 0.9 * v1[i] + g2[i] + 0.1 * w));
    const w2 = w1.map((w, i) => (i === 2 ? 0 : w - lr * v2[i]));
    expectClose(read(model, 'w'), w2);
    expect(Object.is(read(model, 'w')[2], 0)).toBe(true);
    expect(optimizer.steps).toBe(2);
    const state = optimizer.state();
    expect([...state.tensors.keys()]).toEqual(['momentum/w']);
    expectClose((await stateValues(state))['momentum/w'], v2);
    expect((await stateValues(state))['momentum/w'][2]).toBe(0);
    tf.dispose([...state.tensors.values(), mask]);
    optimizer.dispose();
    model.dispose();
  });

  it('without momentum is plain w − lr·g and keeps no buffers; a negative pruned weight becomes +0, not −0', () => {
    const model = paramsModel({ w: { kind: 'linear', value: [-1, 2] }, b: { kind: 'bias', value: [0.5] } });
    const optimizer = createMaskedOptimizer({ kind: 'sgd', momentum: 0, weightDecay: 0 });
    step(optimizer, model, { w: [0.5, 1], b: [2] }, 0.1, new Map([['w', tf.tensor1d([0, 1])]]));
    expect(Object.is(read(model, 'w')[0], 0)).toBe(true);
    expectClose(read(model, 'w'), [0, 2 - 0.1]);
    expectClose(read(model, 'b'), [0.5 - 0.2]);
    expect(optimizer.state().tensors.size).toBe(0);
    optimizer.dispose();
    model.dispose();
  });
});

describe('MaskedOptimizer: AdamW', () => {
  const settings: MaskedOptimizerSettings = { kind: 'adamw', beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };

  it('takes PyTorch AdamW steps: decoupled decay on weights only, bias correction by step, masked entries exactly +0', async () => {
    const model = paramsModel({ w: { kind: 'linear', value: [1, -2, 3] }, b: { kind: 'bias', value: [0.5, -0.5] } });
    const mask = tf.tensor1d([1, 0, 1]);
    const masks = new Map([['w', mask]]);
    const optimizer = createMaskedOptimizer(settings);
    const lr = 0.01;
    const gradients = [{ w: [0.3, 0.7, -0.2], b: [1, -2] }, { w: [-0.1, 0.4, 0.5], b: [0.5, 0.25] }];
    // Hand computation in float64.
    const current: Record<string, number[]> = { w: [1, -2, 3], b: [0.5, -0.5] };
    const m: Record<string, number[]> = { w: [0, 0, 0], b: [0, 0] };
    const v: Record<string, number[]> = { w: [0, 0, 0], b: [0, 0] };
    for (const [t, g] of gradients.entries()) {
      step(optimizer, model, g, lr, masks);
      const k = t + 1;
      for (const name of ['w', 'b'] as const) {
        current[name] = current[name].map((w, i) => {
          const pruned = name === 'w' && i === 1;
          const gi = pruned ? 0 : g[name][i];
          m[name][i] = 0.9 * m[name][i] + 0.1 * gi;
          v[name][i] = 0.99 * v[name][i] + 0.01 * gi * gi;
          if (pruned) return 0;
          const decayed = name === 'w' ? w * (1 - lr * 0.1) : w;
          return decayed - (lr * (m[name][i] / (1 - 0.9 ** k))) / (Math.sqrt(v[name][i] / (1 - 0.99 ** k)) + 1e-8);
        });
        expectClose(read(model, name), current[name]);
      }
      expect(Object.is(read(model, 'w')[1], 0)).toBe(true);
    }
    expect(optimizer.steps).toBe(2);
    const state = await stateValues(optimizer.state());
    expect(Object.keys(state).sort()).toEqual(['adam-m/b', 'adam-m/w', 'adam-v/b', 'adam-v/w']);
    expectClose(state['adam-m/w'], m.w);
    expectClose(state['adam-v/b'], v.b);
    expect([state['adam-m/w'][1], state['adam-v/w'][1]]).toEqual([0, 0]); // pruned entries gather no moments
    mask.dispose();
    optimizer.dispose();
    model.dispose();
  });
});

describe('MaskedOptimizer state', () => {
  for (const settings of [
    { kind: 'sgd', momentum: 0.9, weightDecay: 0.01 },
    { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 },
  ] satisfies MaskedOptimizerSettings[]) {
    it(`${settings.kind}: state() and restore() round-trip to bit-identical next steps`, async () => {
      const start = { w: { kind: 'linear' as const, value: [0.3, -1.2, 2] }, b: { kind: 'bias' as const, value: [0.1] } };
      const first = [{ w: [0.5, -0.25, 1], b: [0.3] }, { w: [0.2, 0.1, -0.4], b: [-0.6] }];
      const next = [{ w: [-0.3, 0.8, 0.05], b: [0.2] }, { w: [0.01, -0.02, 0.3], b: [1] }];
      const straight = paramsModel(start);
      const a = createMaskedOptimizer(settings);
      for (const g of first) step(a, straight, g, 0.05);
      const saved = a.state();
      // A second process: the weights and the optimizer state come from the "checkpoint".
      const resumed = paramsModel({ w: { kind: 'linear', value: read(straight, 'w') }, b: { kind: 'bias', value: read(straight, 'b') } });
      const b = createMaskedOptimizer(settings);
      b.restore(saved);
      tf.dispose([...saved.tensors.values()]); // restore copied what it needs
      expect(b.steps).toBe(2);
      for (const g of next) {
        step(a, straight, g, 0.05);
        step(b, resumed, g, 0.05);
      }
      expect(read(resumed, 'w')).toEqual(read(straight, 'w'));
      expect(read(resumed, 'b')).toEqual(read(straight, 'b'));
      expect(await stateValues(b.state())).toEqual(await stateValues(a.state()));
      for (const x of [a, b, straight, resumed]) x.dispose();
    });
  }

  it('restore refuses buffers the optimizer does not keep, and a fresh optimizer has none', () => {
    const sgd = createMaskedOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0 });
    expect(sgd.state()).toEqual({ steps: 0, tensors: new Map() });
    const moments = new Map([['adam-m/w', tf.zeros([2])]]);
    expect(() => sgd.restore({ steps: 3, tensors: moments })).toThrow(/buffer "adam-m\/w" this optimizer does not keep \(it keeps momentum\/<param>\)/);
    expect(() => sgd.restore({ steps: -1, tensors: new Map() })).toThrow(/steps/);
    expect(sgd.steps).toBe(0);
    const adam = createMaskedOptimizer({ kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0 });
    expect(() => adam.restore({ steps: 1, tensors: new Map([['momentum/w', moments.get('adam-m/w')!]]) })).toThrow(/adam-m\/<param>, adam-v\/<param>/);
    tf.dispose([...moments.values()]);
  });
});

describe('MaskedOptimizer compiled-step use', () => {
  it("defaults to 'auto', keeps a valid choice and names the option for an unknown one", () => {
    const settings: MaskedOptimizerSettings = { kind: 'sgd', momentum: 0.9, weightDecay: 0 };
    const auto = createMaskedOptimizer(settings);
    expect(auto.compiled).toBe('auto');
    const never = createMaskedOptimizer(settings, { compiled: 'never' });
    expect(never.compiled).toBe('never');
    expect(() => createMaskedOptimizer(settings, { compiled: 'sometimes' as never })).toThrow(
      'optimizer: compiled must be one of auto, always, never, got "sometimes"',
    );
    auto.dispose();
    never.dispose();
  });
});
