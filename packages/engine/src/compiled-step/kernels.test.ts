/**
 * Every kernel of the compiled step (issue 16) against tfjs's cpu backend (its reference implementation) on small
 * and ResNet-20-shaped layers: convolution forward, input gradient (with the option-A shortcut's gradient and the
 * ReLU mask fused in), filter gradient as a split reduction and its fused SGD update, batch-norm statistics and
 * running statistics, normalise + residual + ReLU, batch-norm backward with γ/β updates, and the head (pool,
 * linear, softmax cross-entropy, gradients); the fused updates as SGD and (the filter's) as AdamW.
 *
 * Tolerance: max |webgpu − cpu| ≤ 1e-4 · max(1, max |cpu|). Both are float32; the longest reductions here
 * (the filter gradient over 2·16·16 positions, a 9·64-long dot product) put rounding differences at ~1e-6
 * relative; 1e-4 keeps a wide margin while any indexing mistake is off by O(1).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { initEngine } from '../backend.js';
import { SeededRng } from '../rng.js';
import { FIRST_DISPATCH_TIMEOUT_MS, itRequires, webgpuRequirement } from '../testing/index.js';
import { runKernel } from './run-kernel.js';
import { expectClose as close, onCpu, readFloats as read } from './test-helpers.js';
import {
  bnApply, bnBackwardDx, bnBackwardReduceSgd, bnStats, convFilterGradPartial, convForward, convInputGrad, convOut,
  filterGradReduceSgd, filterGradSplits, headBackwardSgd, headFeatureGrad, headForward, headLayout, shortcutBackward,
  shortcutForward, BN_EPS, BN_MOMENTUM, type ConvShape,
} from './wgsl.js';

const requirement = await webgpuRequirement();
const TOLERANCE = 1e-4;

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => close(actual, expected, what, TOLERANCE);

const relu = (a: Float32Array) => a.map((v) => Math.max(v, 0));

const CONVS: ConvShape[] = [
  { batch: 2, height: 7, width: 6, cin: 3, cout: 5, stride: 1 },
  { batch: 2, height: 7, width: 8, cin: 4, cout: 6, stride: 2 },
  // enough positions (4·16·16) for the filter gradient to split its reduction (4 splits)
  { batch: 4, height: 16, width: 16, cin: 4, cout: 8, stride: 1 },
  // ResNet-20's layers at batch 2 on 8×8 maps: the stem, a stage-1 conv, the stage-2 and stage-3 entries
  { batch: 2, height: 8, width: 8, cin: 3, cout: 16, stride: 1 },
  { batch: 2, height: 8, width: 8, cin: 16, cout: 16, stride: 1 },
  { batch: 2, height: 8, width: 8, cin: 16, cout: 32, stride: 2 },
  { batch: 2, height: 8, width: 8, cin: 32, cout: 64, stride: 2 },
  { batch: 1, height: 4, width: 4, cin: 64, cout: 64, stride: 1 },
];

function convData(s: ConvShape, seed: number) {
  const rng = new SeededRng(seed);
  const oh = convOut(s.height, s.stride), ow = convOut(s.width, s.stride);
  return {
    // x is a ReLU output (the input of every convolution but the stem's), so the input gradient's mask matters
    x: relu(Float32Array.from(rng.normalArray(s.batch * s.height * s.width * s.cin))),
    w: Float32Array.from(rng.normalArray(9 * s.cin * s.cout, 0.3)),
    dy: Float32Array.from(rng.normalArray(s.batch * oh * ow * s.cout)),
    oh, ow,
  };
}

/** The option-A shortcut's transpose: scatter gy's channels [pad, pad + cin) back onto every stride-th position. */
function shortcutTranspose(gy: Float32Array, s: { batch: number; height: number; width: number; cin: number; stride: number }, outC: number, pad: number): Float32Array {
  const oh = Math.ceil(s.height / s.stride), ow = Math.ceil(s.width / s.stride);
  const out = new Float32Array(s.batch * s.height * s.width * s.cin);
  for (let n = 0; n < s.batch; n++) for (let y = 0; y < s.height; y += s.stride) for (let x = 0; x < s.width; x += s.stride) {
    for (let c = 0; c < s.cin; c++) out[((n * s.height + y) * s.width + x) * s.cin + c] = gy[((n * oh + y / s.stride) * ow + x / s.stride) * outC + c + pad]!;
  }
  return out;
}

function sgdReference(grad: Float32Array, p: Float32Array, v: Float32Array, mask: Float32Array, lr: number, mom: number, wd: number) {
  const np = new Float32Array(p.length), nv = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const g = (grad[i]! + wd * p[i]!) * mask[i]!;
    nv[i] = mom * v[i]! + g;
    const q = p[i]! - lr * nv[i]!;
    np[i] = mask[i] !== 0 ? q : 0;
  }
  return { p: np, v: nv };
}

describe('compiled-step kernels agree with the cpu backend', () => {
  itRequires(requirement, 'convolution forward, input gradient (+ shortcut, ReLU mask) and filter gradient (split) + SGD', async () => {
    await initEngine({ backend: 'webgpu' });
    for (const [i, s] of CONVS.entries()) {
      const { x, w, dy, oh, ow } = convData(s, 10 + i);
      const shape4 = [s.batch, s.height, s.width, s.cin] as [number, number, number, number];
      const ref = await onCpu(async () => {
        const xt = tf.tensor4d(x, shape4), wt = tf.tensor4d(w, [3, 3, s.cin, s.cout]);
        const dyt = tf.tensor4d(dy, [s.batch, oh, ow, s.cout]);
        const y = tf.conv2d(xt, wt, s.stride, 1);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s.stride, 1), dyt)))([xt, wt]);
        const out = { y: await read(y), dx: await read(dx!), dw: await read(dw!) };
        tf.dispose([xt, wt, dyt, y, dx!, dw!]);
        return out;
      });
      const where = `[${s.batch}, ${s.height}, ${s.width}, ${s.cin}] → ${s.cout}, stride ${s.stride}`;
      const [y] = await runKernel(convForward(s), [x, w, new Float32Array(s.batch * oh * ow * s.cout)]);
      expectClose(y!, ref.y, `conv forward ${where}`);

      const masked = ref.dx.map((v, j) => (x[j]! > 0 ? v : 0));
      const [dx] = await runKernel(convInputGrad(s, null), [dy, w, x, new Float32Array(x.length)]);
      expectClose(dx!, masked, `input gradient ${where}`);
      // with a shortcut's gradient: option A where the conv widens or strides, else identity
      const outC = s.stride === 1 && s.cout === s.cin ? s.cin : Math.max(s.cout, s.cin + 2);
      const pad = Math.floor((outC - s.cin) / 2);
      const gs = Float32Array.from(new SeededRng(50 + i).normalArray(s.batch * Math.ceil(s.height / s.stride) * Math.ceil(s.width / s.stride) * outC));
      const scT = shortcutTranspose(gs, s, outC, pad);
      if (convOut(s.height, s.stride) === Math.ceil(s.height / s.stride) && convOut(s.width, s.stride) === Math.ceil(s.width / s.stride)) {
        const [dxs] = await runKernel(convInputGrad(s, { outChannels: outC, padBefore: pad }), [dy, w, x, gs, new Float32Array(x.length)]);
        expectClose(dxs!, ref.dx.map((v, j) => (x[j]! > 0 ? v + scT[j]! : 0)), `input gradient + shortcut ${where}`);
      }

      const splits = filterGradSplits(s);
      if (s.batch * s.height * s.width >= 1024) expect(splits, 'a split reduction').toBeGreaterThan(1);
      const size = 9 * s.cin * s.cout;
      const [part] = await runKernel(convFilterGradPartial(s), [x, dy, new Float32Array(splits * size)]);
      const dw = new Float32Array(size);
      for (let z = 0; z < splits; z++) for (let j = 0; j < size; j++) dw[j] += part![z * size + j]!;
      expectClose(dw, ref.dw, `filter gradient (${splits} splits) ${where}`);
      const rng = new SeededRng(90 + i);
      const v = Float32Array.from(rng.normalArray(size, 0.1));
      const mask = Float32Array.from({ length: size }, () => (rng.next() < 0.3 ? 0 : 1));
      const [p, nv] = await runKernel(filterGradReduceSgd(s), [part!, w, v, mask, [0.1, 0.9, 5e-4, 0, 0, 0, 1, 1]]);
      const expected = sgdReference(ref.dw, w, v, mask, 0.1, 0.9, 5e-4);
      expectClose(p!, expected.p, `filter update ${where}`);
      expectClose(nv!, expected.v, `momentum ${where}`);
      expect(p!.every((value, j) => mask[j] !== 0 || Object.is(value, 0)), 'pruned weights are +0').toBe(true);
      // the same pipeline as a gradient read (gradientOnly set): the dense gradient into the state, the filter kept
      const [pg, g] = await runKernel(filterGradReduceSgd(s, 'gradient'), [part!, w, v, mask, [0.1, 0.9, 5e-4, 0, 0, 0, 1, 1, 1]]);
      expect(filterGradReduceSgd(s, 'gradient').code, 'a gradient read compiles no shader of its own').toBe(filterGradReduceSgd(s).code);
      expect(pg, 'a gradient read leaves the filter as it was').toEqual(w);
      expectClose(g!, ref.dw, `gradient read of the filter ${where}`);
      // the same update as AdamW (moments interleaved m, v; step 3's bias corrections; decoupled decay)
      const moments = Float32Array.from(rng.normalArray(2 * size, 0.1)).map((x, j) => (j % 2 ? Math.abs(x) : x));
      const [b1, b2, eps, wd, lr] = [0.9, 0.999, 1e-8, 0.01, 0.001];
      const [pa, ma] = await runKernel(filterGradReduceSgd(s, 'adamw'), [part!, w, moments, mask, [lr, 0, wd, b1, b2, eps, 1 - b1 ** 3, 1 - b2 ** 3]]);
      const ep = new Float32Array(size), em = new Float32Array(2 * size);
      for (let j = 0; j < size; j++) {
        const g = ref.dw[j]! * mask[j]!;
        const m = b1 * moments[2 * j]! + (1 - b1) * g, v = b2 * moments[2 * j + 1]! + (1 - b2) * g * g;
        em[2 * j] = m;
        em[2 * j + 1] = v;
        const q = w[j]! * (1 - lr * wd) - lr * (m / (1 - b1 ** 3)) / (Math.sqrt(v / (1 - b2 ** 3)) + eps);
        ep[j] = mask[j] !== 0 ? q : 0;
      }
      expectClose(pa!, ep, `AdamW filter update ${where}`);
      expectClose(ma!, em, `AdamW moments ${where}`);
    }
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'batch norm: statistics, running statistics, normalise + option-A residual + ReLU, backward with γ/β updates', async () => {
    await initEngine({ backend: 'webgpu' });
    const cases = [
      { batch: 3, h: 5, w: 4, c: 6, residual: null as null | { h: number; w: number; c: number; stride: number } },
      { batch: 2, h: 4, w: 4, c: 32, residual: { h: 8, w: 8, c: 16, stride: 2 } },
      { batch: 2, h: 8, w: 8, c: 16, residual: { h: 8, w: 8, c: 16, stride: 1 } },
    ];
    for (const [i, k] of cases.entries()) {
      const rng = new SeededRng(200 + i);
      const P = k.batch * k.h * k.w, C = k.c;
      const x = Float32Array.from(rng.normalArray(P * C, 2)).map((v, j) => v + (j % C) * 0.5);
      const gamma = Float32Array.from({ length: C }, () => 1 + 0.2 * rng.normal());
      const beta = Float32Array.from({ length: C }, () => 0.1 * rng.normal());
      const rm = Float32Array.from({ length: C }, () => 0.1 * rng.normal());
      const rv = Float32Array.from({ length: C }, () => 1 + 0.2 * Math.abs(rng.normal()));
      const dz = Float32Array.from(rng.normalArray(P * C));
      const res = k.residual ? relu(Float32Array.from(rng.normalArray(k.batch * k.residual.h * k.residual.w * k.residual.c))) : null;
      const ref = await onCpu(async () => {
        const xt = tf.tensor4d(x, [k.batch, k.h, k.w, C]);
        const g = tf.tensor1d(gamma), b = tf.tensor1d(beta);
        const { mean, variance } = tf.moments(xt, [0, 1, 2]);
        const bn = (a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
          const m = tf.moments(a, [0, 1, 2]);
          return tf.add(tf.mul(tf.mul(tf.sub(a, m.mean), tf.rsqrt(tf.add(m.variance, BN_EPS))), gg), bb);
        };
        const y = bn(xt, g, b);
        const dzt = tf.tensor4d(dz, [k.batch, k.h, k.w, C]);
        const [dx, dg, db] = tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(bn(a, gg, bb), dzt)))([xt, g, b]);
        return { mean: await read(mean), variance: await read(variance), y: await read(y), dx: await read(dx!), dg: await read(dg!), db: await read(db!) };
      });
      const where = `[${k.batch}, ${k.h}, ${k.w}, ${C}]${k.residual ? ` + residual [${k.residual.h}, ${k.residual.w}, ${k.residual.c}] stride ${k.residual.stride}` : ''}`;
      const [stats, nrm, nrv] = await runKernel(bnStats(P, C), [x, new Float32Array(5 * C), rm, rv]);
      expectClose(stats!.slice(0, C), ref.mean, `batch mean ${where}`);
      expectClose(stats!.slice(C, 2 * C), ref.variance.map((v) => 1 / Math.sqrt(v + BN_EPS)), `1/σ ${where}`);
      expectClose(nrm!, rm.map((r, c) => (1 - BN_MOMENTUM) * r + BN_MOMENTUM * ref.mean[c]!), `running mean ${where}`);
      expectClose(nrv!, rv.map((r, c) => (1 - BN_MOMENTUM) * r + BN_MOMENTUM * ref.variance[c]! * P / (P - 1)), `running variance ${where}`);

      // normalise, + shortcut(residual), ReLU
      const pad = k.residual ? Math.floor((C - k.residual.c) / 2) : 0;
      const resSrc = k.residual ? { height: k.residual.h, width: k.residual.w, channels: k.residual.c, stride: k.residual.stride, padBefore: pad } : null;
      const [y] = await runKernel(bnApply(k.batch, k.h, k.w, C, true, resSrc), [x, stats!, gamma, beta, ...(res ? [res] : []), new Float32Array(P * C)]);
      const expectedY = ref.y.map((v, j) => {
        let s = v;
        if (res && k.residual) {
          const c = j % C, pos = Math.floor(j / C), ox = pos % k.w, oy = Math.floor(pos / k.w) % k.h, n = Math.floor(pos / (k.w * k.h));
          const cc = c - pad;
          if (cc >= 0 && cc < k.residual.c) s += res[((n * k.residual.h + oy * k.residual.stride) * k.residual.w + ox * k.residual.stride) * k.residual.c + cc]!;
        }
        return Math.max(s, 0);
      });
      expectClose(y!, expectedY, `normalise + residual + ReLU ${where}`);

      // backward: reductions, coefficients, γ/β update; then dx
      const velocity = Float32Array.from(rng.normalArray(64 + C, 0.1));
      const mask = new Float32Array(64 + C).fill(1);
      mask[0] = 0;
      const [stats2, ng, nb, nvel] = await runKernel(bnBackwardReduceSgd(P, C, 64), [dz, x, stats!, gamma, beta, velocity, mask, [0.1, 0.9, 5e-4, 0, 0, 0, 1, 1]]);
      const gUpd = sgdReference(ref.dg, gamma, velocity.slice(0, C), mask.slice(0, C), 0.1, 0.9, 5e-4);
      const bUpd = sgdReference(ref.db, beta, velocity.slice(64, 64 + C), mask.slice(64, 64 + C), 0.1, 0.9, 5e-4);
      expectClose(ng!, gUpd.p, `γ update ${where}`);
      expectClose(nb!, bUpd.p, `β update ${where}`);
      expectClose(nvel!.slice(0, C), gUpd.v, `γ momentum ${where}`);
      expectClose(nvel!.slice(64, 64 + C), bUpd.v, `β momentum ${where}`);
      const [dx] = await runKernel(bnBackwardDx(P, C), [dz, x, stats2!, new Float32Array(P * C)]);
      expectClose(dx!, ref.dx, `batch-norm input gradient ${where}`);
    }
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'option-A shortcut of a removed block, forward and backward', async () => {
    await initEngine({ backend: 'webgpu' });
    const rng = new SeededRng(300);
    const s = { batch: 2, height: 7, width: 6, cin: 4, stride: 2 };
    const outC = 8, pad = 2, oh = 4, ow = 3;
    const x = relu(Float32Array.from(rng.normalArray(s.batch * s.height * s.width * s.cin)));
    const src = { height: s.height, width: s.width, channels: s.cin, stride: s.stride, padBefore: pad };
    const [y] = await runKernel(shortcutForward(s.batch, src, oh, ow, outC), [x, new Float32Array(s.batch * oh * ow * outC)]);
    const expected = new Float32Array(s.batch * oh * ow * outC);
    for (let n = 0; n < s.batch; n++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let c = 0; c < s.cin; c++) {
      expected[((n * oh + i) * ow + j) * outC + c + pad] = x[((n * s.height + 2 * i) * s.width + 2 * j) * s.cin + c]!;
    }
    expectClose(y!, expected, 'shortcut forward');
    const gy = Float32Array.from(rng.normalArray(expected.length));
    const [gx] = await runKernel(shortcutBackward(s.batch, src, oh, ow, outC), [gy, x, new Float32Array(x.length)]);
    expectClose(gx!, shortcutTranspose(gy, s, outC, pad).map((v, j) => (x[j]! > 0 ? v : 0)), 'shortcut backward');
  }, 120_000);

  itRequires(requirement, 'head: average pool, linear, softmax cross-entropy, gradients and the linear layer\'s update', async () => {
    await initEngine({ backend: 'webgpu' });
    for (const [i, k] of [{ batch: 5, hw: 4, f: 8, classes: 3 }, { batch: 4, hw: 16, f: 64, classes: 10 }, { batch: 3, hw: 4, f: 70, classes: 100 }].entries()) {
      const rng = new SeededRng(400 + i);
      const x = relu(Float32Array.from(rng.normalArray(k.batch * k.hw * k.f)));
      const w = Float32Array.from(rng.normalArray(k.f * k.classes, 0.5));
      const b = Float32Array.from(rng.normalArray(k.classes, 0.1));
      const labels = Int32Array.from({ length: k.batch }, () => rng.int(k.classes));
      const ref = await onCpu(async () => {
        const xt = tf.tensor3d(x, [k.batch, k.hw, k.f]), wt = tf.tensor2d(w, [k.f, k.classes]), bt = tf.tensor1d(b);
        const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), k.classes);
        const loss = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.losses.softmaxCrossEntropy(onehot, tf.add(tf.matMul(tf.mean(a, 1), ww), bb) as tf.Tensor2D) as tf.Scalar;
        const { value, grads } = tf.valueAndGrads(loss)([xt, wt, bt]);
        return { loss: (await value.data())[0]!, dx: await read(grads[0]!), dw: await read(grads[1]!), db: await read(grads[2]!) };
      });
      const where = `batch ${k.batch}, ${k.hw} positions, ${k.f} features, ${k.classes} classes`;
      const L = headLayout(k.batch, k.f, k.classes);
      const [scratch] = await runKernel(headForward(k.batch, k.hw, k.f, k.classes), [x, w, b, labels, new Float32Array(L.size)]);
      const [g] = await runKernel(headFeatureGrad(k.batch, k.hw, k.f, k.classes), [x, scratch!, w, new Float32Array(x.length)]);
      expectClose(g!, ref.dx.map((v, j) => (x[j]! > 0 ? v : 0)), `feature gradient ${where}`);
      const boff = Math.ceil((k.f * k.classes) / 64) * 64;
      const velocity = new Float32Array(boff + k.classes);
      const mask = new Float32Array(boff + k.classes).fill(1);
      const [scratch2, nw, nb] = await runKernel(headBackwardSgd(k.batch, k.f, k.classes, boff), [scratch!, w, b, velocity, mask, [0.5, 0, 0, 0, 0, 0, 1, 1]]);
      expect(Math.abs(scratch2![L.meanLoss]! - ref.loss), `mean loss ${where}`).toBeLessThanOrEqual(TOLERANCE * Math.max(1, ref.loss));
      expectClose(nw!, w.map((v, j) => v - 0.5 * ref.dw[j]!), `linear weight update ${where}`);
      expectClose(nb!, b.map((v, j) => v - 0.5 * ref.db[j]!), `linear bias update ${where}`);
    }
  }, FIRST_DISPATCH_TIMEOUT_MS);
});
