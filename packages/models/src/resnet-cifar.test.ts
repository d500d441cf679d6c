import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNormTraining } from './batchnorm.js';
import { getModelFamily, registerModelFamily, traceLayers } from './family.js';
import { createResNetCifar, optionAShortcut, resnetCifarArch, validateResNetCifarArch, type ResNetCifarArch } from './resnet-cifar.js';
import { loadStateDict, stateDict } from './state-dict.js';
import type { Model } from './types.js';
import { resnetCifarStructure } from './resnet-cifar-structure.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function countPrunableParams(model: Model, kinds?: string[]): number {
  let n = 0;
  for (const [name, v] of model.params) if (!kinds || kinds.includes(model.paramKinds.get(name)!)) n += v.size;
  return n;
}

/** Two stages, stem 4: a stride-2 block that widens 4 → 6 (option-A) and narrow inner widths. */
const tinyArch: ResNetCifarArch = {
  family: 'resnet-cifar',
  depth: 6,
  numClasses: 3,
  stem: 4,
  stages: [{ blocks: [{ mid: 3, out: 4, stride: 1 }] }, { blocks: [{ mid: 2, out: 6, stride: 2 }] }],
};

describe('resnet-cifar structure', () => {
  it.each([
    [20, 269_722, 268_336, 40_551_040],
    [56, 853_018, 848_944, 125_485_696],
  ])('ResNet-%i: %i parameters, %i conv+linear weights, %i MACs', (depth, params, weights, macs) => {
    const model = createResNetCifar(depth, { seed: 1 });
    try {
      expect(countPrunableParams(model)).toBe(params);
      expect(countPrunableParams(model, ['conv2d', 'linear'])).toBe(weights);
      const layers = traceLayers(model.arch, [32, 32, 3]);
      expect(resnetCifarStructure.totalMacs!(model)).toBe(macs);
      // every weight the trace names is a parameter, and every parameter appears in the trace
      const traced = new Set(layers.flatMap((l) => [l.weight, l.bias].filter((x): x is string => !!x)));
      expect([...traced].sort()).toEqual([...model.params.keys()].sort());
      expect(layers.filter((l) => l.op === 'shortcut')).toHaveLength(2);
      expect(layers.at(-1)).toMatchObject({ name: 'linear', inShape: [64], outShape: [10] });
    } finally {
      model.dispose();
    }
  });

  it('uses the reference parameter names', () => {
    const model = createResNetCifar(20);
    const names = [...model.params.keys(), ...model.buffers.keys()];
    for (const n of ['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'layer1.0.conv1.weight',
      'layer1.0.bn2.running_var', 'layer3.2.conv2.weight', 'linear.weight', 'linear.bias']) {
      expect(names).toContain(n);
    }
    expect(model.params.get('layer2.0.conv1.weight')!.shape).toEqual([3, 3, 16, 32]);
    expect(model.params.get('linear.weight')!.shape).toEqual([64, 10]);
    expect(model.paramKinds.get('bn1.weight')).toBe('norm-scale');
    model.dispose();
  });

  it('validates archs with errors naming the field', () => {
    expect(() => resnetCifarArch(21)).toThrow(/6n \+ 2/);
    const bad = structuredClone(tinyArch);
    bad.stages[1].blocks[0].mid = 0;
    expect(() => validateResNetCifarArch(bad)).toThrow(/stages\[1\]\.blocks\[0\]\.mid/);
    const shrink = structuredClone(tinyArch);
    shrink.stages[1].blocks[0].out = 2;
    expect(() => createResNetCifar(shrink)).toThrow(/stages\[1\]\.blocks\[0\]\.out.*zero-pad/);
    expect(() => validateResNetCifarArch({ ...tinyArch, depth: 8 })).toThrow(/depth 8 does not match 2 blocks/);
    expect(() => validateResNetCifarArch({ ...tinyArch, family: 'bert' })).toThrow(/family/);
  });

  it('has a family registry that lists known families for unknown names', () => {
    expect(getModelFamily('resnet-cifar').traceLayers(tinyArch, [8, 8, 3]).length).toBeGreaterThan(0);
    registerModelFamily({ family: 'toy', traceLayers: () => [] });
    // the known families are listed sorted (other families, e.g. bert, register themselves too)
    expect(() => getModelFamily('nope')).toThrow(/unknown model family "nope"; known: (\w[\w-]*, )*resnet-cifar, toy$/);
    expect(() => traceLayers(tinyArch, [8, 8, 1])).toThrow(/inputShape/);
  });

  it('gives the same weights for the same seed and different ones for another seed', () => {
    const a = createResNetCifar(tinyArch, { seed: 7 });
    const b = createResNetCifar(tinyArch, { seed: 7 });
    const c = createResNetCifar(tinyArch, { seed: 8 });
    for (const [name, v] of a.params) expect(b.params.get(name)!.dataSync()).toEqual(v.dataSync());
    expect(c.params.get('conv1.weight')!.dataSync()).not.toEqual(a.params.get('conv1.weight')!.dataSync());
    // kaiming normal fan_in: std √(2 / (3·3·16)) for a 16-in conv of ResNet-20
    const r = createResNetCifar(20, { seed: 3 });
    const w = r.params.get('layer1.0.conv1.weight')!.dataSync() as Float32Array;
    const std = Math.sqrt(w.reduce((s: number, x: number) => s + x * x, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / 144), 2);
    const bias = r.params.get('linear.bias')!.dataSync();
    expect(Math.max(...bias.map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    for (const m of [a, b, c, r]) m.dispose();
  });
});

describe('option-A shortcut', () => {
  it('subsamples every second pixel and puts the identity channels in the middle', () => {
    const x = tf.tensor4d(Array.from({ length: 1 * 4 * 4 * 2 }, (_, i) => i + 1), [1, 4, 4, 2]);
    const y = optionAShortcut(x, 2, 6);
    expect(y.shape).toEqual([1, 2, 2, 6]);
    const v = y.arraySync()[0];
    // x[0, h, w, c] = (h·4 + w)·2 + c + 1; kept pixels (0,0) (0,2) (2,0) (2,2), channels at 2..3
    expect(v[0][0]).toEqual([0, 0, 1, 2, 0, 0]);
    expect(v[0][1]).toEqual([0, 0, 5, 6, 0, 0]);
    expect(v[1][0]).toEqual([0, 0, 17, 18, 0, 0]);
    expect(v[1][1]).toEqual([0, 0, 21, 22, 0, 0]);
    // odd sizes keep ceil(h / 2) rows like x[:, ::2]; uneven padding puts the extra zero after
    const odd = optionAShortcut(tf.ones([1, 5, 5, 1]) as tf.Tensor4D, 2, 4);
    expect(odd.shape).toEqual([1, 3, 3, 4]);
    expect(odd.arraySync()[0][2][2]).toEqual([0, 1, 0, 0]);
  });
});

describe('batch norm', () => {
  it('training mode normalises with batch statistics; the analytic gradient matches autodiff', () => {
    const x = tf.randomNormal([3, 2, 2, 4], 1, 2, 'float32', 5) as tf.Tensor4D;
    const gamma = tf.tensor1d([1, 2, 0.5, -1]);
    const beta = tf.tensor1d([0, 1, -1, 0.5]);
    const dy = tf.randomNormal([3, 2, 2, 4], 0, 1, 'float32', 6);
    const reference = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const m = tf.moments(xi, [0, 1, 2]);
      return tf.add(tf.mul(tf.div(tf.sub(xi, m.mean), tf.sqrt(tf.add(m.variance, 1e-5))), g), b);
    };
    const ours = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const r = batchNormTraining(xi as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D);
      r.mean.dispose();
      r.variance.dispose();
      return r.y;
    };
    const expectClose = (a: tf.Tensor, b: tf.Tensor) => {
      const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
      expect(diff).toBeLessThan(1e-4);
    };
    expectClose(ours(x, gamma, beta), reference(x, gamma, beta));
    const gOurs = tf.grads((a, b, c) => tf.sum(tf.mul(ours(a, b, c), dy)))([x, gamma, beta]);
    const gRef = tf.grads((a, b, c) => tf.sum(tf.mul(reference(a, b, c), dy)))([x, gamma, beta]);
    for (let i = 0; i < 3; i++) expectClose(gOurs[i], gRef[i]);
  });

  it('training forward updates running stats like PyTorch; eval uses them and changes nothing', () => {
    const arch = resnetCifarArch(8, 3);
    const model = createResNetCifar(arch, { seed: 2 });
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    // hand computation for bn1: statistics of conv1's output over batch, height and width
    const conv1 = tf.conv2d(x, model.params.get('conv1.weight') as unknown as tf.Tensor4D, 1, 1);
    const values = conv1.arraySync().flat(2) as number[][];
    const n = values.length;
    const c = values[0].length;
    const mean = Array.from({ length: c }, (_, k) => values.reduce((s, v) => s + v[k], 0) / n);
    const unbiasedVar = Array.from({ length: c }, (_, k) => values.reduce((s, v) => s + (v[k] - mean[k]) ** 2, 0) / (n - 1));

    const evalBefore = model.forward(x, { training: false }).dataSync();
    const trainOut = model.forward(x, { training: true });
    expect(trainOut.shape).toEqual([4, 3]);
    const rm = model.buffers.get('bn1.running_mean')!.dataSync();
    const rv = model.buffers.get('bn1.running_var')!.dataSync();
    for (let k = 0; k < c; k++) {
      expect(rm[k]).toBeCloseTo(0.1 * mean[k], 5);
      expect(rv[k]).toBeCloseTo(0.9 + 0.1 * unbiasedVar[k], 4);
    }
    const evalAfter = model.forward(x, { training: false }).dataSync();
    expect(evalAfter).not.toEqual(evalBefore);
    expect(model.forward(x, { training: false }).dataSync()).toEqual(evalAfter);
    expect(model.buffers.get('bn1.running_mean')!.dataSync()).toEqual(rm);
    model.dispose();
  });
});

describe('eval forward', () => {
  it('matches an unfused reference (conv, running-stat batch norm, relu, option-A, pool, linear)', () => {
    const model = createResNetCifar(tinyArch, { seed: 5 });
    for (const [name, v] of model.buffers) {
      const r = tf.randomUniform(v.shape, name.endsWith('running_var') ? 0.5 : -0.5, name.endsWith('running_var') ? 2 : 0.5, 'float32', 11);
      v.assign(r);
    }
    for (const [name, v] of model.params) if (model.paramKinds.get(name)!.startsWith('norm')) v.assign(tf.randomNormal(v.shape, 0.5, 0.3, 'float32', 12));
    const P = (n: string) => (model.params.get(n) ?? model.buffers.get(n)) as unknown as tf.Tensor;
    const bn = (x: tf.Tensor, p: string) =>
      tf.add(tf.mul(tf.div(tf.sub(x, P(`${p}.running_mean`)), tf.sqrt(tf.add(P(`${p}.running_var`), 1e-5))), P(`${p}.weight`)), P(`${p}.bias`));
    const conv = (x: tf.Tensor, n: string, s: number) => tf.conv2d(x as tf.Tensor4D, P(n) as tf.Tensor4D, s, 1);
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 13) as tf.Tensor4D;
    let h = tf.relu(bn(conv(x, 'conv1.weight', 1), 'bn1'));
    let t = tf.relu(bn(conv(h, 'layer1.0.conv1.weight', 1), 'layer1.0.bn1'));
    h = tf.relu(tf.add(bn(conv(t, 'layer1.0.conv2.weight', 1), 'layer1.0.bn2'), h));
    t = tf.relu(bn(conv(h, 'layer2.0.conv1.weight', 2), 'layer2.0.bn1'));
    const sub = tf.pad(tf.stridedSlice(h, [0, 0, 0, 0], [2, 8, 8, 4], [1, 2, 2, 1]), [[0, 0], [0, 0], [0, 0], [1, 1]]);
    h = tf.relu(tf.add(bn(conv(t, 'layer2.0.conv2.weight', 1), 'layer2.0.bn2'), sub));
    const expected = tf.add(tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, P('linear.weight') as tf.Tensor2D), P('linear.bias'));
    const got = model.forward(x, { training: false });
    expect(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]).toBeLessThan(1e-4);
    model.dispose();
  });
});

describe('training', () => {
  it('gradients reach every parameter inside tf.variableGrads and running stats update after it', () => {
    const model = createResNetCifar(tinyArch, { seed: 4 });
    const x = tf.randomUniform([3, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2], 'int32'), 3);
    const before = model.buffers.get('layer2.0.bn2.running_var')!.dataSync().slice();
    const tensorsBefore = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() =>
      tf.losses.softmaxCrossEntropy(labels, model.forward(x, { training: true })) as tf.Scalar,
    );
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(Object.keys(grads).length).toBe(model.params.size);
    for (const [name, v] of model.params) {
      const g = grads[v.name];
      expect(g, name).toBeDefined();
      expect(g.shape).toEqual(v.shape);
      expect(tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]), name).toBeGreaterThan(0);
    }
    expect(model.buffers.get('layer2.0.bn2.running_var')!.dataSync()).not.toEqual(before);
    value.dispose();
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(tensorsBefore);

    // an optimizer step lowers the loss
    const opt = tf.train.sgd(0.1);
    const loss = () => tf.losses.softmaxCrossEntropy(labels, model.forward(x, { training: true })) as tf.Scalar;
    const first = opt.minimize(loss, true)!.dataSync()[0];
    for (let i = 0; i < 5; i++) opt.minimize(loss);
    expect(loss().dataSync()[0]).toBeLessThan(first);
    model.dispose();
  });
});

describe('state dict', () => {
  it('round-trips through PyTorch layout and gives the same outputs', async () => {
    const a = createResNetCifar(tinyArch, { seed: 1 });
    const b = createResNetCifar(tinyArch, { seed: 2 });
    a.buffers.get('bn1.running_mean')!.assign(tf.tensor1d([0.1, 0.2, 0.3, 0.4]));
    const sd = await stateDict(a);
    expect(sd.get('conv1.weight')!.shape).toEqual([4, 3, 3, 3]);
    expect(sd.get('linear.weight')!.shape).toEqual([3, 6]);
    // OIHW[o, i, h, w] == HWIO[h, w, i, o]
    const hwio = a.params.get('layer2.0.conv1.weight')!.arraySync() as number[][][][];
    expect(sd.get('layer2.0.conv1.weight')!.data[((1 * 4 + 2) * 3 + 0) * 3 + 2]).toBeCloseTo(hwio[0][2][2][1], 6);
    const result = loadStateDict(b, sd);
    expect(result.loaded.length).toBe(a.params.size + a.buffers.size);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    expect(b.forward(x, { training: false }).dataSync()).toEqual(a.forward(x, { training: false }).dataSync());
    a.dispose();
    b.dispose();
  });

  it('names mis-shaped, missing and unexpected tensors', async () => {
    const model = createResNetCifar(tinyArch);
    const sd = await stateDict(model);
    const wrong = new Map(sd);
    wrong.set('layer1.0.conv2.weight', { shape: [4, 2, 3, 3], data: new Float32Array(72) });
    expect(() => loadStateDict(model, wrong)).toThrow(/mis-shaped: layer1\.0\.conv2\.weight \(checkpoint \[4,2,3,3\], model expects \[4,3,3,3\]\)/);
    const partial = new Map(sd);
    partial.delete('bn1.running_var');
    partial.set('extra.weight', { shape: [1], data: new Float32Array(1) });
    partial.set('bn1.num_batches_tracked', { shape: [], data: new Float32Array(1) });
    expect(() => loadStateDict(model, partial)).toThrow(/missing: bn1\.running_var; unexpected: extra\.weight$/);
    const lax = loadStateDict(model, partial, { strict: false });
    expect(lax.missing).toEqual(['bn1.running_var']);
    expect(lax.unexpected).toEqual(['extra.weight']);
    model.dispose();
  });
});
