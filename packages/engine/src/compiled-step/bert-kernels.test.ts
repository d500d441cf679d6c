/**
 * Every kernel of the compiled BERT step (issue 16) against tfjs's cpu backend: LayerNorm forward (plain and over
 * a wider `layerNormWidth`), its backward and its γ/β gradients; the dense GEMMs (bias, + residual, + GELU; input
 * gradients plain, + residual, × GELU′; weight + bias gradients from a column range); Q/K/V in one GEMM and its input
 * gradient; attention (masked scores, softmax, context) and its backward (dP, softmax backward, dQ/dK/dV); the
 * embeddings (token lists, gather + LayerNorm, the tables' gradients); the pooler/classifier/loss head and its
 * gradients. References are the same formulas as @prunebench/models' BertModel in tfjs ops, gradients by tf.grads.
 *
 * The fused updates run as SGD with lr 1, no momentum, no decay, on parameters starting at 0: the velocity then
 * holds the masked gradient and the parameter its negation (the update function itself is wgsl.ts's, tested with
 * AdamW in kernels.test.ts), so each gradient is compared directly, and pruned entries are checked to be +0.
 *
 * Shapes: 2 examples × 37 tokens (more than a 32-row GEMM tile), hidden 72 (more than a 64-thread row loop), 2 heads
 * of 5, FFN 40. Tolerance: max |webgpu − cpu| ≤ 1e-4 · max(1, max |cpu|). Both are float32; the longest sums here
 * (74 tokens in a weight gradient, 80-wide dot products) leave rounding differences ~1e-6 relative, while an
 * indexing or layout mistake is off by O(1).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { initEngine } from '../backend.js';
import { SeededRng } from '../rng.js';
import { FIRST_DISPATCH_TIMEOUT_MS, itRequires, webgpuRequirement } from '../testing/index.js';
import { runKernel } from './run-kernel.js';
import { expectClose as close, onCpu, readFloats as read } from './test-helpers.js';
import {
  ATTENTION_MASK_PENALTY, attentionContext, attentionProbGrad, attentionQkvGrad, attentionScores, bertHeadBackward,
  bertHeadForward, bertHeadLayout, bertIndexLayout, denseForward, denseInputGrad, denseWeightGrad, embeddingForward,
  embeddingTokenLists, embeddingUpdate, layerNormBackward, layerNormForward, layerNormParams, normFloats, qkvForward,
  qkvInputGrad, softmaxBackwardRows, softmaxRows, type BertLayerDims,
} from './bert-wgsl.js';

const requirement = await webgpuRequirement();
const TOLERANCE = 1e-4;
const expectClose = (a: ArrayLike<number>, e: ArrayLike<number>, what: string) => close(a, e, what, TOLERANCE);

const L: BertLayerDims = { batch: 2, seq: 37, hidden: 72, heads: 2, headDim: 5, intermediate: 40 };
const T = L.batch * L.seq, H = L.hidden, A = L.heads * L.headDim;
/** SGD with lr 1, no momentum or decay: on a zero parameter, velocity = masked gradient, parameter = −velocity. */
const RECOVER_GRADIENT = [1, 0, 0, 0, 0, 0, 1, 1];
const EPS = 1e-12;

const normal = (rng: SeededRng, n: number, std = 1) => Float32Array.from(rng.normalArray(n, std));
const maskOf = (rng: SeededRng, n: number) => Float32Array.from({ length: n }, () => (rng.next() < 0.3 ? 0 : 1));

/** Checks a fused update's outputs: velocity = gradient · mask; the parameter −velocity, pruned entries +0. */
function expectGradient(param: Float32Array, velocity: Float32Array, offset: number, grad: Float32Array, mask: Float32Array, maskOffset: number, what: string) {
  const n = grad.length;
  expectClose(velocity.slice(offset, offset + n), grad.map((g, i) => g * mask[maskOffset + i]!), `${what}: gradient`);
  const wrong: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!Object.is(param[i], mask[maskOffset + i] === 0 ? 0 : 0 - velocity[offset + i]!)) wrong.push(i);
  }
  expect(wrong, `${what}: entries that are not +0 where pruned, −velocity elsewhere`).toEqual([]);
}

/** BertModel's LayerNorm in tfjs ops (statistics over `width` ≥ hidden channels, the others zeros). */
function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, width: number): tf.Tensor {
  const h = x.shape[1]!;
  const mean = tf.div(tf.sum(x, -1, true), width);
  const centered = tf.sub(x, mean);
  const variance = tf.div(tf.add(tf.sum(tf.square(centered), -1, true), tf.mul(tf.square(mean), width - h)), width);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, EPS))), gamma), beta);
}

const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));

describe('compiled BERT kernels agree with the cpu backend', () => {
  itRequires(requirement, 'LayerNorm forward (hidden and a wider layerNormWidth), backward, γ/β gradients', async () => {
    await initEngine({ backend: 'webgpu' });
    for (const width of [H, H + 8]) {
      const rng = new SeededRng(width);
      const y = normal(rng, T * H, 2).map((v, i) => v + (i % 7) * 0.3);
      const gamma = normal(rng, H, 0.2).map((v) => v + 1), beta = normal(rng, H, 0.1), dx = normal(rng, T * H);
      const ref = await onCpu(async () => {
        const yt = tf.tensor2d(y, [T, H]), g = tf.tensor1d(gamma), b = tf.tensor1d(beta), dxt = tf.tensor2d(dx, [T, H]);
        const out = layerNorm(yt, g, b, width);
        const [dy, dg, db] = tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, gg, bb, width), dxt)))([yt, g, b]);
        return { x: await read(out), dy: await read(dy!), dg: await read(dg!), db: await read(db!) };
      });
      const ln = { rows: T, hidden: H, normWidth: width, eps: EPS };
      const [x, norm] = await runKernel(layerNormForward(ln), [y, gamma, beta, new Float32Array(T * H), new Float32Array(normFloats(ln))]);
      expectClose(x!, ref.x, `LN forward, width ${width}`);
      const [dy] = await runKernel(layerNormBackward(ln), [dx, norm!, gamma, new Float32Array(T * H)]);
      expectClose(dy!, ref.dy, `LN backward, width ${width}`);
      const betaOffset = 128, mask = maskOf(rng, betaOffset + H);
      const [g, b, v] = await runKernel(layerNormParams(ln, betaOffset, 'sgd'), [dx, norm!, new Float32Array(H), new Float32Array(H), new Float32Array(betaOffset + H), mask, RECOVER_GRADIENT]);
      expectGradient(g!, v!, 0, ref.dg, mask, 0, `LN γ, width ${width}`);
      expectGradient(b!, v!, betaOffset, ref.db, mask, betaOffset, `LN β, width ${width}`);
    }
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'dense: forward (bias, + residual, + GELU), input gradients (plain, + residual, × GELU′), weight + bias gradients', async () => {
    await initEngine({ backend: 'webgpu' });
    const rng = new SeededRng(3);
    const IN = 40, OUT = 72;
    const x = normal(rng, T * IN), w = normal(rng, IN * OUT, 0.3), b = normal(rng, OUT, 0.1), r = normal(rng, T * OUT);
    const dy = normal(rng, T * OUT), uIn = normal(rng, T * IN, 1.5), res = normal(rng, T * IN);
    // the output gradient as the middle third of a [T, 3·OUT] buffer (how Q/K/V's weight gradients read theirs)
    const dyWide = new Float32Array(T * 3 * OUT);
    for (let t = 0; t < T; t++) dyWide.set(dy.subarray(t * OUT, (t + 1) * OUT), t * 3 * OUT + OUT);
    const ref = await onCpu(async () => {
      const xt = tf.tensor2d(x, [T, IN]), wt = tf.tensor2d(w, [IN, OUT]), bt = tf.tensor1d(b), rt = tf.tensor2d(r, [T, OUT]);
      const dyt = tf.tensor2d(dy, [T, OUT]), ut = tf.tensor2d(uIn, [T, IN]), rest = tf.tensor2d(res, [T, IN]);
      const pre = tf.add(tf.matMul(xt, wt), bt);
      const dx = tf.matMul(dyt, wt, false, true);
      const [geluGrad] = tf.grads((a: tf.Tensor) => tf.sum(gelu(a)))([ut]);
      return {
        bias: await read(pre), residual: await read(tf.add(pre, rt)), gelu: await read(gelu(pre)),
        dx: await read(dx), dxResidual: await read(tf.add(dx, rest)), dxGelu: await read(tf.mul(dx, geluGrad!)),
        dw: await read(tf.matMul(xt, dyt, true, false)), db: await read(tf.sum(dyt, 0)),
      };
    });
    const zeros = (n: number) => new Float32Array(n);
    expectClose((await runKernel(denseForward(T, IN, OUT, 'bias'), [x, w, b, zeros(T * OUT)]))[0]!, ref.bias, 'dense + bias');
    expectClose((await runKernel(denseForward(T, IN, OUT, 'bias+residual'), [x, w, b, r, zeros(T * OUT)]))[0]!, ref.residual, 'dense + bias + residual');
    const [u, g] = await runKernel(denseForward(T, IN, OUT, 'bias+gelu'), [x, w, b, zeros(T * OUT), zeros(T * OUT)]);
    expectClose(u!, ref.bias, 'dense + bias (GELU input)');
    expectClose(g!, ref.gelu, 'dense + bias + GELU');
    expectClose((await runKernel(denseInputGrad(T, IN, OUT, 'plain'), [dy, w, zeros(T * IN)]))[0]!, ref.dx, 'input gradient');
    expectClose((await runKernel(denseInputGrad(T, IN, OUT, 'residual'), [dy, w, res, zeros(T * IN)]))[0]!, ref.dxResidual, 'input gradient + residual');
    expectClose((await runKernel(denseInputGrad(T, IN, OUT, 'gelu'), [dy, w, uIn, zeros(T * IN)]))[0]!, ref.dxGelu, 'input gradient × GELU′');
    const biasOffset = 64 * Math.ceil((IN * OUT) / 64), mask = maskOf(rng, biasOffset + OUT);
    const [pw, pb, v] = await runKernel(denseWeightGrad(T, IN, OUT, { stride: 3 * OUT, offset: OUT }, biasOffset, 'sgd'), [
      x, dyWide, zeros(IN * OUT), zeros(OUT), zeros(biasOffset + OUT), mask, RECOVER_GRADIENT,
    ]);
    expectGradient(pw!, v!, 0, ref.dw, mask, 0, 'weight gradient');
    expectGradient(pb!, v!, biasOffset, ref.db, mask, biasOffset, 'bias gradient');
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'Q, K, V in one GEMM and the input gradient through all three (+ residual)', async () => {
    await initEngine({ backend: 'webgpu' });
    const rng = new SeededRng(4);
    const x = normal(rng, T * H), ws = [0, 1, 2].map(() => normal(rng, H * A, 0.3)), bs = [0, 1, 2].map(() => normal(rng, A, 0.1));
    const dqkv = normal(rng, T * 3 * A), r = normal(rng, T * H);
    const ref = await onCpu(async () => {
      const xt = tf.tensor2d(x, [T, H]), wt = ws.map((w) => tf.tensor2d(w, [H, A]));
      const parts = wt.map((w, i) => tf.add(tf.matMul(xt, w), tf.tensor1d(bs[i]!)));
      const d = tf.tensor2d(dqkv, [T, 3 * A]);
      const dparts = tf.split(d, 3, 1);
      const dx = tf.addN([tf.tensor2d(r, [T, H]), ...dparts.map((dp, i) => tf.matMul(dp, wt[i]!, false, true))]);
      return { qkv: await read(tf.concat(parts, 1)), dx: await read(dx) };
    });
    const [qkv] = await runKernel(qkvForward(L), [x, ...ws, ...bs, new Float32Array(T * 3 * A)]);
    expectClose(qkv!, ref.qkv, 'QKV forward');
    const [dx] = await runKernel(qkvInputGrad(L), [dqkv, ...ws, r, new Float32Array(T * H)]);
    expectClose(dx!, ref.dx, 'QKV input gradient + residual');
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'attention: masked scores, softmax, context; dP, softmax backward, dQ/dK/dV', async () => {
    await initEngine({ backend: 'webgpu' });
    const rng = new SeededRng(5);
    const { batch: B, seq: S, heads: NH, headDim: D } = L;
    const qkv = normal(rng, T * 3 * A), dctx = normal(rng, T * A);
    // the second example has 9 padding tokens at its end
    const am = Float32Array.from({ length: T }, (_, t) => (t >= S + S - 9 ? 0 : 1));
    const scale = 1 / Math.sqrt(D);
    const attention = (q3: tf.Tensor) => {
      const [q, k, v] = tf.split(q3, 3, 1).map((p) => tf.transpose(tf.reshape(p, [B, S, NH, D]), [0, 2, 1, 3]));
      const penalty = tf.reshape(tf.mul(tf.sub(1, tf.tensor2d(am, [B, S])), ATTENTION_MASK_PENALTY), [B, 1, 1, S]);
      const scores = tf.add(tf.mul(tf.matMul(q!, k!, false, true), scale), penalty);
      const probs = tf.softmax(scores);
      const ctx = tf.reshape(tf.transpose(tf.matMul(probs, v!), [0, 2, 1, 3]), [T, A]);
      return { probs, ctx };
    };
    const ref = await onCpu(async () => {
      const q3 = tf.tensor2d(qkv, [T, 3 * A]);
      const { probs, ctx } = attention(q3);
      const [dq] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(attention(a).ctx, tf.tensor2d(dctx, [T, A]))))([q3]);
      return { probs: await read(probs), ctx: await read(ctx), dqkv: await read(dq!) };
    });
    const P = B * NH * S * S, vocab = 11;
    // the mask as the step's index buffer holds it: once as int32 words, once as float32 words
    const layout = bertIndexLayout(L, vocab);
    const asInt = new Int32Array(layout.size), asFloat = new Int32Array(layout.size);
    asInt.set(Int32Array.from(am), layout.mask);
    asFloat.set(new Int32Array(am.buffer), layout.mask);
    asFloat[layout.maskIsFloat] = 1;
    const [scores] = await runKernel(attentionScores(L, vocab), [qkv, asInt, new Float32Array(P)]);
    const [scoresFromFloat] = await runKernel(attentionScores(L, vocab), [qkv, asFloat, new Float32Array(P)]);
    expect(scoresFromFloat, 'the same scores from a float32 mask').toEqual(scores);
    const [probs] = await runKernel(softmaxRows(B * NH * S, S), [scores!]);
    expectClose(probs!, ref.probs, 'attention probabilities');
    const [ctx] = await runKernel(attentionContext(L), [probs!, qkv, new Float32Array(T * A)]);
    expectClose(ctx!, ref.ctx, 'attention context');
    const [dp] = await runKernel(attentionProbGrad(L), [dctx, qkv, new Float32Array(P)]);
    const [ds] = await runKernel(softmaxBackwardRows(B * NH * S, S, scale), [probs!, dp!]);
    const [dqkv] = await runKernel(attentionQkvGrad(L), [ds!, probs!, qkv, dctx, new Float32Array(T * 3 * A)]);
    expectClose(dqkv!, ref.dqkv, 'attention dQ, dK, dV');
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'embeddings: token lists, gather + LayerNorm, the three tables\' gradients (repeated ids, two token types)', async () => {
    await initEngine({ backend: 'webgpu' });
    const rng = new SeededRng(6);
    const e = { vocab: 11, maxPosition: 40, typeVocab: 2 };
    const layout = bertIndexLayout(L, e.vocab);
    const ids = Int32Array.from({ length: T }, () => rng.int(e.vocab - 1)); // the last row gets no token
    const types = Int32Array.from({ length: T }, (_, t) => (t % L.seq > 20 ? 1 : 0));
    const index = new Int32Array(layout.size);
    index.set(ids, layout.ids);
    index.set(types, layout.types);
    const word = normal(rng, e.vocab * H, 0.5), position = normal(rng, e.maxPosition * H, 0.5), type = normal(rng, e.typeVocab * H, 0.5);
    const gamma = normal(rng, H, 0.2).map((v) => v + 1), beta = normal(rng, H, 0.1), de = normal(rng, T * H);
    const embed = (w: tf.Tensor, p: tf.Tensor, ty: tf.Tensor) => {
      const sum = tf.add(tf.reshape(tf.add(tf.gather(w, tf.tensor1d(ids, 'int32')), tf.gather(ty, tf.tensor1d(types, 'int32'))), [L.batch, L.seq, H]), tf.slice(p, [0, 0], [L.seq, H]));
      return tf.reshape(sum, [T, H]);
    };
    const ref = await onCpu(async () => {
      const w = tf.tensor2d(word, [e.vocab, H]), p = tf.tensor2d(position, [e.maxPosition, H]), ty = tf.tensor2d(type, [e.typeVocab, H]);
      const x = layerNorm(embed(w, p, ty), tf.tensor1d(gamma), tf.tensor1d(beta), H);
      const [dw, dp, dt] = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(embed(a, b, c), tf.tensor2d(de, [T, H]))))([w, p, ty]);
      return { x: await read(x), dw: await read(dw!), dp: await read(dp!), dt: await read(dt!) };
    });
    const [lists] = await runKernel(embeddingTokenLists(L, e.vocab), [index]);
    const linked = new Int32Array(lists!.buffer);
    // the lists: first[id] points at the id's first token, next[] chains every later one, in order
    for (let v = 0; v < e.vocab; v++) {
      const tokens = [...ids.keys()].filter((t) => ids[t] === v);
      const chain: number[] = [];
      for (let t = linked[layout.first + v]! === 0 ? -1 : T - linked[layout.first + v]!; t !== -1; t = linked[layout.next + t]!) chain.push(t);
      expect(chain, `token list of id ${v}`).toEqual(tokens);
    }
    const ln = { rows: T, hidden: H, normWidth: H, eps: EPS };
    const [x] = await runKernel(embeddingForward(L, e, H, EPS), [linked, word, position, type, gamma, beta, new Float32Array(T * H), new Float32Array(normFloats(ln))]);
    expectClose(x!, ref.x, 'embeddings + LayerNorm');
    const nw = e.vocab * H, offsets = { position: 64 * Math.ceil(nw / 64), type: 64 * Math.ceil((64 * Math.ceil(nw / 64) + e.maxPosition * H) / 64) };
    const stateSize = offsets.type + e.typeVocab * H, mask = maskOf(rng, stateSize);
    const [w, p, t, v] = await runKernel(embeddingUpdate(L, e, offsets, 'sgd'), [
      de, linked, new Float32Array(nw), new Float32Array(e.maxPosition * H), new Float32Array(e.typeVocab * H), new Float32Array(stateSize), mask, RECOVER_GRADIENT,
    ]);
    expectGradient(w!, v!, 0, ref.dw, mask, 0, 'word embedding');
    expectGradient(p!, v!, offsets.position, ref.dp, mask, offsets.position, 'position embedding');
    expectGradient(t!, v!, offsets.type, ref.dt, mask, offsets.type, 'token-type embedding');
  }, FIRST_DISPATCH_TIMEOUT_MS);

  itRequires(requirement, 'head: pooler (tanh on [CLS]), classifier, softmax cross-entropy, their gradients and the gradient at the last layer', async () => {
    await initEngine({ backend: 'webgpu' });
    const rng = new SeededRng(7);
    const h = { pooler: 9, labels: 3 }, vocab = 11;
    const x = normal(rng, T * H), wp = normal(rng, H * h.pooler, 0.2), bp = normal(rng, h.pooler, 0.1);
    const wc = normal(rng, h.pooler * h.labels, 0.5), bc = normal(rng, h.labels, 0.1);
    const labels = Int32Array.from([2, 0]);
    const layout = bertIndexLayout(L, vocab);
    const index = new Int32Array(layout.size);
    index.set(labels, layout.labels);
    const loss = (xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
      const cls = tf.reshape(tf.slice(tf.reshape(xx, [L.batch, L.seq, H]), [0, 0, 0], [L.batch, 1, H]), [L.batch, H]);
      const logits = tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(cls, a), b)), c), d);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), h.labels), logits) as tf.Scalar;
    };
    const ref = await onCpu(async () => {
      const args = [tf.tensor2d(x, [T, H]), tf.tensor2d(wp, [H, h.pooler]), tf.tensor1d(bp), tf.tensor2d(wc, [h.pooler, h.labels]), tf.tensor1d(bc)];
      const value = loss(...(args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]));
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) => loss(a, b, c, d, e))(args);
      return { loss: (await value.data())[0]!, grads: await Promise.all(grads.map(read)) };
    });
    const S = bertHeadLayout(L, h);
    const [scratch, dx] = await runKernel(bertHeadForward(L, h, vocab), [x, wp, bp, wc, bc, index, new Float32Array(S.size), new Float32Array(T * H)]);
    expectClose(dx!, ref.grads[0]!, 'gradient at the last layer (the [CLS] rows, zeros elsewhere)');
    const offsets = { poolerBias: 64 * Math.ceil((H * h.pooler) / 64), classifierWeight: 0, classifierBias: 0 };
    offsets.classifierWeight = offsets.poolerBias + 64;
    offsets.classifierBias = offsets.classifierWeight + 64;
    const stateSize = offsets.classifierBias + h.labels, mask = maskOf(rng, stateSize);
    const [scr, pwp, pbp, pwc, pbc, v] = await runKernel(bertHeadBackward(L, h, offsets, 'sgd'), [
      scratch!, x, new Float32Array(wp.length), new Float32Array(bp.length), new Float32Array(wc.length), new Float32Array(bc.length), new Float32Array(stateSize), mask, RECOVER_GRADIENT,
    ]);
    expectClose([scr![S.meanLoss]!], [ref.loss], 'mean loss');
    expectGradient(pwp!, v!, 0, ref.grads[1]!, mask, 0, 'pooler weight');
    expectGradient(pbp!, v!, offsets.poolerBias, ref.grads[2]!, mask, offsets.poolerBias, 'pooler bias');
    expectGradient(pwc!, v!, offsets.classifierWeight, ref.grads[3]!, mask, offsets.classifierWeight, 'classifier weight');
    expectGradient(pbc!, v!, offsets.classifierBias, ref.grads[4]!, mask, offsets.classifierBias, 'classifier bias');
  }, FIRST_DISPATCH_TIMEOUT_MS);
});
