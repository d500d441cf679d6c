/**
 * WGSL for the compiled BERT training step (issue 16, design b). Layouts are @prunebench/models' BertModel's:
 * activations [tokens, features] row-major (token t = example · seq + position), linear weights [in, out],
 * embeddings [rows, hidden]. The GEMMs, the optimizer update and the WGSL helpers are wgsl.ts's.
 *
 * Every generator bakes the sizes in and returns the kernel with its bindings in declaration order; none binds
 * more than 8 storage buffers (the default limit tfjs's device has).
 */
import { MAX_X, f, gemm, grid1d, optimizerBindings, u, type CompiledOptimizer, type Kernel } from './wgsl.js';


/** The sizes shared by every kernel of one step. */
export interface BertStepDims {
  batch: number;
  seq: number;
  hidden: number;
}

const tokensOf = (d: BertStepDims) => d.batch * d.seq;

/**
 * The u32 index buffer of a step (words): input ids [T], token types [T], labels [batch], the attention mask [T]
 * as the tensor's 32-bit words and one word saying how to read them (1: float32 bits, 0: int32 — tfjs's cast from
 * int32 to float32 relabels the data without converting it, so the words are read as what they are); then, built on
 * the GPU each step for the embedding gradient, first[vocab] (T − the first token with that id; 0 = none) and
 * next[T] (the next token with the same id; NONE = none).
 */
export function bertIndexLayout(d: BertStepDims, vocab: number) {
  const T = tokensOf(d);
  const types = T, labels = 2 * T, mask = 2 * T + d.batch, maskIsFloat = mask + T, first = maskIsFloat + 1, next = first + vocab;
  return { ids: 0, types, labels, mask, maskIsFloat, first, next, size: next + T };
}
const NONE = 0xffffffff;

/** A grid of one workgroup per row; the row index expression (rows beyond MAX_X fold into y). */
function rowGrid(rows: number): { workgroups: [number, number, number]; row: string } {
  if (rows <= MAX_X) return { workgroups: [rows, 1, 1], row: 'wg.x' };
  return { workgroups: [MAX_X, Math.ceil(rows / MAX_X), 1], row: `wg.y * ${u(MAX_X)} + wg.x` };
}

/** Workgroup tree reductions (sum, max) over `size` threads; call in uniform control flow. */
function reductions(size: number): string {
  return `var<workgroup> red: array<f32, ${size}>;
fn reduceSum(i: u32, v: f32) -> f32 {
  red[i] = v;
  workgroupBarrier();
  for (var w = ${u(size / 2)}; w > 0u; w = w >> 1u) {
    if (i < w) { red[i] = red[i] + red[i + w]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn reduceMax(i: u32, v: f32) -> f32 {
  red[i] = v;
  workgroupBarrier();
  for (var w = ${u(size / 2)}; w > 0u; w = w >> 1u) {
    if (i < w) { red[i] = max(red[i], red[i + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;
}

const ROW_THREADS = 64;

// ------------------------------------------------------------------------------------------ LayerNorm

/**
 * LayerNorm statistics as BertModel's: over `normWidth` ≥ hidden channels, the ones beyond hidden counting as
 * zeros (mean = Σx / W, variance = (Σ(x − mean)² + (W − hidden)·mean²) / W), eps inside the square root.
 */
export interface LayerNormShape {
  rows: number;
  hidden: number;
  normWidth: number;
  eps: number;
}

/**
 * The norm buffer of a LayerNorm, rows·hidden + rows floats: x̂ = (x − mean)·rstd per entry, then rstd per row
 * (what the backward needs).
 */
export const normFloats = (s: Pick<LayerNormShape, 'rows' | 'hidden'>) => s.rows * s.hidden + s.rows;

/** The body shared by both LayerNorm forwards: `value` is the WGSL expression of x[t, c]. */
function layerNormForwardBody(s: LayerNormShape, value: string, prelude: string): string {
  const g = rowGrid(s.rows);
  return `const H: u32 = ${u(s.hidden)};
const T: u32 = ${u(s.rows)};
var<workgroup> rowv: array<f32, ${s.hidden}>;
${reductions(ROW_THREADS)}
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = ${g.row};
  if (t >= T) { return; }
  ${prelude}
  var s = 0.0;
  for (var c = lid.x; c < H; c += ${u(ROW_THREADS)}) {
    let v = ${value};
    rowv[c] = v;
    s += v;
  }
  let mean = reduceSum(lid.x, s) / ${f(s.normWidth)};
  var q = 0.0;
  for (var c = lid.x; c < H; c += ${u(ROW_THREADS)}) { let d = rowv[c] - mean; q += d * d; }
  let variance = (reduceSum(lid.x, q) + ${f(s.normWidth - s.hidden)} * mean * mean) / ${f(s.normWidth)};
  let rstd = 1.0 / sqrt(variance + ${f(s.eps)});
  for (var c = lid.x; c < H; c += ${u(ROW_THREADS)}) {
    let xh = (rowv[c] - mean) * rstd;
    NORM[t * H + c] = xh;
    X[t * H + c] = xh * GAMMA[c] + BETA[c];
  }
  if (lid.x == 0u) { NORM[T * H + t] = rstd; }
}`;
}

/** x = LN(y)·γ + β per row. Bindings y (r), γ (r), β (r), x (rw), norm (rw). */
export function layerNormForward(s: LayerNormShape): Kernel {
  return {
    name: 'ln-fwd',
    bindings: ['r', 'r', 'r', 'rw', 'rw'],
    workgroups: rowGrid(s.rows).workgroups,
    code: `@group(0) @binding(0) var<storage, read> Y: array<f32>;
@group(0) @binding(1) var<storage, read> GAMMA: array<f32>;
@group(0) @binding(2) var<storage, read> BETA: array<f32>;
@group(0) @binding(3) var<storage, read_write> X: array<f32>;
@group(0) @binding(4) var<storage, read_write> NORM: array<f32>;
${layerNormForwardBody(s, 'Y[t * H + c]', '')}`,
  };
}

/** The embedding tables' sizes. */
export interface EmbeddingShape {
  vocab: number;
  maxPosition: number;
  typeVocab: number;
}

/**
 * Embeddings and their LayerNorm: x[t] = LN(word[id] + type[tt] + position[t mod seq]) (BertModel's order of
 * sums). Ids and types beyond their tables are clamped to the last row. Bindings index (r, u32, bertIndexLayout),
 * word (r), position (r), type (r), γ (r), β (r), x (rw), norm (rw).
 */
export function embeddingForward(d: BertStepDims, e: EmbeddingShape, normWidth: number, eps: number): Kernel {
  const T = tokensOf(d);
  const L = bertIndexLayout(d, e.vocab);
  return {
    name: 'embed-fwd+ln',
    bindings: ['r', 'r', 'r', 'r', 'r', 'r', 'rw', 'rw'],
    workgroups: rowGrid(T).workgroups,
    code: `@group(0) @binding(0) var<storage, read> IDX: array<u32>;
@group(0) @binding(1) var<storage, read> WW: array<f32>;
@group(0) @binding(2) var<storage, read> WP: array<f32>;
@group(0) @binding(3) var<storage, read> WT: array<f32>;
@group(0) @binding(4) var<storage, read> GAMMA: array<f32>;
@group(0) @binding(5) var<storage, read> BETA: array<f32>;
@group(0) @binding(6) var<storage, read_write> X: array<f32>;
@group(0) @binding(7) var<storage, read_write> NORM: array<f32>;
${layerNormForwardBody({ rows: T, hidden: d.hidden, normWidth, eps }, '(WW[id * H + c] + WT[ty * H + c]) + WP[pos * H + c]',
    `let id = min(IDX[${u(L.ids)} + t], ${u(e.vocab - 1)});
  let ty = min(IDX[${u(L.types)} + t], ${u(e.typeVocab - 1)});
  let pos = t % ${u(d.seq)};`)}`,
  };
}

/**
 * LayerNorm backward, per row: dy = rstd·(dx̂ − Σdx̂/W − x̂·Σ(dx̂·x̂)/W), dx̂ = dx·γ (γ before its update).
 * Bindings dx (r), norm (r), γ (r), dy (rw).
 */
export function layerNormBackward(s: LayerNormShape): Kernel {
  const g = rowGrid(s.rows);
  return {
    name: 'ln-bwd',
    bindings: ['r', 'r', 'r', 'rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> DX: array<f32>;
@group(0) @binding(1) var<storage, read> NORM: array<f32>;
@group(0) @binding(2) var<storage, read> GAMMA: array<f32>;
@group(0) @binding(3) var<storage, read_write> DY: array<f32>;
const H: u32 = ${u(s.hidden)};
const T: u32 = ${u(s.rows)};
var<workgroup> rowv: array<f32, ${s.hidden}>;
${reductions(ROW_THREADS)}
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = ${g.row};
  if (t >= T) { return; }
  var s1 = 0.0;
  var s2 = 0.0;
  for (var c = lid.x; c < H; c += ${u(ROW_THREADS)}) {
    let dxh = DX[t * H + c] * GAMMA[c];
    rowv[c] = dxh;
    s1 += dxh;
    s2 += dxh * NORM[t * H + c];
  }
  let a = reduceSum(lid.x, s1) / ${f(s.normWidth)};
  let b = reduceSum(lid.x, s2) / ${f(s.normWidth)};
  let rstd = NORM[T * H + t];
  for (var c = lid.x; c < H; c += ${u(ROW_THREADS)}) {
    DY[t * H + c] = rstd * (rowv[c] - a - NORM[t * H + c] * b);
  }
}`,
  };
}

/**
 * LayerNorm's γ and β gradients (Σ_t dx·x̂, Σ_t dx; one workgroup per channel) and their update (not decayed).
 * Bindings dx (r), norm (r), γ (rw), β (rw), state (rw: γ's, then β's at `betaOffset`), mask (r: likewise), hyper (u).
 */
export function layerNormParams(s: Pick<LayerNormShape, 'rows' | 'hidden'>, betaOffset: number, optimizer: CompiledOptimizer): Kernel {
  return {
    name: `ln-params+${optimizer}`,
    bindings: ['r', 'r', 'rw', 'rw', 'rw', 'r', 'u'],
    workgroups: [s.hidden, 1, 1],
    code: `@group(0) @binding(0) var<storage, read> DX: array<f32>;
@group(0) @binding(1) var<storage, read> NORM: array<f32>;
@group(0) @binding(2) var<storage, read_write> GAMMA: array<f32>;
@group(0) @binding(3) var<storage, read_write> BETA: array<f32>;
${optimizerBindings(4, optimizer)}
${reductions(256)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wg.x;
  var sg = 0.0;
  var sb = 0.0;
  for (var t = lid.x; t < ${u(s.rows)}; t += 256u) {
    let dx = DX[t * ${u(s.hidden)} + c];
    sg += dx * NORM[t * ${u(s.hidden)} + c];
    sb += dx;
  }
  let dGamma = reduceSum(lid.x, sg);
  let dBeta = reduceSum(lid.x, sb);
  if (lid.x == 0u) {
    GAMMA[c] = update(dGamma, GAMMA[c], c, MASK[c], false);
    BETA[c] = update(dBeta, BETA[c], ${u(betaOffset)} + c, MASK[${u(betaOffset)} + c], false);
  }
}`,
  };
}

// ------------------------------------------------------------------------------------------ dense layers

/** GELU as BertModel's (erf form, tfjs's erf: Abramowitz–Stegun 7.1.26) and its exact derivative (tfjs's gradient). */
const GELU = `fn erfApprox(x: f32) -> f32 {
  let v = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * v);
  return sign(x) * (1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-v * v));
}
fn gelu(x: f32) -> f32 { return (x * 0.5) * (1.0 + erfApprox(x * ${f(Math.SQRT1_2)})); }
fn geluGrad(x: f32) -> f32 { return 0.5 * (1.0 + erfApprox(x * ${f(Math.SQRT1_2)})) + x * exp(-0.5 * x * x) * ${f(1 / Math.sqrt(2 * Math.PI))}; }`;

/** One encoder layer's sizes: tokens, hidden, attention width (heads · headDim), heads, FFN width. */
export interface BertLayerDims extends BertStepDims {
  heads: number;
  headDim: number;
  intermediate: number;
}
const widthOf = (l: BertLayerDims) => l.heads * l.headDim;

/** Q, K, V in one GEMM: qkv[t, part·A + j] = x·W_part + b_part. Bindings x (r), Wq, Wk, Wv, bq, bk, bv (r), qkv (rw) [T, 3A]. */
export function qkvForward(l: BertLayerDims): Kernel {
  const A = widthOf(l);
  return gemm({
    name: 'qkv-fwd', M: tokensOf(l), N: 3 * A, K: l.hidden, splits: 1,
    decls: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> WQ: array<f32>;
@group(0) @binding(2) var<storage, read> WK: array<f32>;
@group(0) @binding(3) var<storage, read> WV: array<f32>;
@group(0) @binding(4) var<storage, read> BQ: array<f32>;
@group(0) @binding(5) var<storage, read> BK: array<f32>;
@group(0) @binding(6) var<storage, read> BV: array<f32>;
@group(0) @binding(7) var<storage, read_write> OUT: array<f32>;
const A: u32 = ${u(A)};
const HID: u32 = ${u(l.hidden)};`,
    bindings: ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'rw'],
    loadA: 'return X[m * HID + k];',
    loadB: `let part = n / A; let j = n % A;
  if (part == 0u) { return WQ[k * A + j]; }
  if (part == 1u) { return WK[k * A + j]; }
  return WV[k * A + j];`,
    aContiguous: 'k', bContiguous: 'n',
    store: `let part = n / A; let j = n % A;
  var b = BV[j];
  if (part == 0u) { b = BQ[j]; } else if (part == 1u) { b = BK[j]; }
  OUT[m * 3u * A + n] = v + b;`,
  });
}

/** What a dense forward does after the bias: nothing, adds a residual, or applies GELU (keeping its input). */
export type DenseEpilogue = 'bias' | 'bias+residual' | 'bias+gelu';

/**
 * y = x·W + b [+ residual | GELU] for x [rows, in], W [in, out]. Bindings x (r), W (r), b (r), then: y (rw); or
 * residual (r), y (rw); or u (rw: x·W + b), y (rw: GELU(u)).
 */
export function denseForward(rows: number, inF: number, outF: number, epilogue: DenseEpilogue): Kernel {
  const out = epilogue === 'bias' ? ['@group(0) @binding(3) var<storage, read_write> Y: array<f32>;']
    : epilogue === 'bias+residual' ? ['@group(0) @binding(3) var<storage, read> R: array<f32>;', '@group(0) @binding(4) var<storage, read_write> Y: array<f32>;']
      : ['@group(0) @binding(3) var<storage, read_write> U: array<f32>;', '@group(0) @binding(4) var<storage, read_write> Y: array<f32>;'];
  const store = epilogue === 'bias' ? 'Y[m * OUTF + n] = v + B[n];'
    : epilogue === 'bias+residual' ? 'Y[m * OUTF + n] = (v + B[n]) + R[m * OUTF + n];'
      : 'let pre = v + B[n]; U[m * OUTF + n] = pre; Y[m * OUTF + n] = gelu(pre);';
  return gemm({
    name: `dense-fwd(${epilogue})`, M: rows, N: outF, K: inF, splits: 1,
    decls: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
${out.join('\n')}
const INF: u32 = ${u(inF)};
const OUTF: u32 = ${u(outF)};
${epilogue === 'bias+gelu' ? GELU : ''}`,
    bindings: epilogue === 'bias' ? ['r', 'r', 'r', 'rw'] : epilogue === 'bias+residual' ? ['r', 'r', 'r', 'r', 'rw'] : ['r', 'r', 'r', 'rw', 'rw'],
    loadA: 'return X[m * INF + k];',
    loadB: 'return W[k * OUTF + n];',
    aContiguous: 'k', bContiguous: 'n',
    store,
  });
}

/** What an input-gradient GEMM does with dy·Wᵀ: nothing, adds a residual's gradient, or multiplies by GELU′(u). */
export type DenseGradEpilogue = 'plain' | 'residual' | 'gelu';

/**
 * dx = dy·Wᵀ [+ residual gradient | · GELU′(u)] for dy [rows, out], W [in, out]. Bindings dy (r), W (r), then:
 * dx (rw); or r (r), dx (rw) (residual: the gradient reaching x around the layer; gelu: u, the GELU's input).
 */
export function denseInputGrad(rows: number, inF: number, outF: number, epilogue: DenseGradEpilogue): Kernel {
  const extra = epilogue !== 'plain';
  const store = epilogue === 'plain' ? 'DX[m * INF + n] = v;'
    : epilogue === 'residual' ? 'DX[m * INF + n] = v + R[m * INF + n];'
      : 'DX[m * INF + n] = v * geluGrad(R[m * INF + n]);';
  return gemm({
    name: `dense-dgrad(${epilogue})`, M: rows, N: inF, K: outF, splits: 1,
    decls: `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
${extra ? '@group(0) @binding(2) var<storage, read> R: array<f32>;' : ''}
@group(0) @binding(${extra ? 3 : 2}) var<storage, read_write> DX: array<f32>;
const INF: u32 = ${u(inF)};
const OUTF: u32 = ${u(outF)};
${epilogue === 'gelu' ? GELU : ''}`,
    bindings: extra ? ['r', 'r', 'r', 'rw'] : ['r', 'r', 'rw'],
    loadA: 'return DY[m * OUTF + k];',
    loadB: 'return W[n * OUTF + k];',
    aContiguous: 'k', bContiguous: 'k',
    store,
  });
}

/**
 * The gradient at a layer's input through Q, K and V, plus the residual's: dx = dqkv·[Wq|Wk|Wv]ᵀ + r.
 * Bindings dqkv (r) [T, 3A], Wq, Wk, Wv (r), r (r), dx (rw).
 */
export function qkvInputGrad(l: BertLayerDims): Kernel {
  const A = widthOf(l);
  return gemm({
    name: 'qkv-dgrad+residual', M: tokensOf(l), N: l.hidden, K: 3 * A, splits: 1,
    decls: `@group(0) @binding(0) var<storage, read> DQKV: array<f32>;
@group(0) @binding(1) var<storage, read> WQ: array<f32>;
@group(0) @binding(2) var<storage, read> WK: array<f32>;
@group(0) @binding(3) var<storage, read> WV: array<f32>;
@group(0) @binding(4) var<storage, read> R: array<f32>;
@group(0) @binding(5) var<storage, read_write> DX: array<f32>;
const A: u32 = ${u(A)};
const HID: u32 = ${u(l.hidden)};`,
    bindings: ['r', 'r', 'r', 'r', 'r', 'rw'],
    loadA: 'return DQKV[m * 3u * A + k];',
    loadB: `let part = k / A; let j = k % A;
  if (part == 0u) { return WQ[n * A + j]; }
  if (part == 1u) { return WK[n * A + j]; }
  return WV[n * A + j];`,
    aContiguous: 'k', bContiguous: 'k',
    store: 'DX[m * HID + n] = v + R[m * HID + n];',
  });
}

/** Where a weight gradient's output gradient lives: columns [offset, offset + out) of a [rows, stride] buffer. */
export interface GradColumns {
  stride: number;
  offset: number;
}

/**
 * A dense layer's weight and bias gradients in one GEMM — dW = xᵀ·dy, and db = Σ_t dy as the extra row of ones
 * appended to xᵀ — with the optimizer's update of both in the store (weights decayed, the bias not). Bindings x (r)
 * [rows, in], dy (r), W (rw), b (rw), state (rw: W's, then b's at `biasOffset`), mask (r: likewise), hyper (u).
 */
export function denseWeightGrad(rows: number, inF: number, outF: number, dy: GradColumns, biasOffset: number, optimizer: CompiledOptimizer): Kernel {
  return gemm({
    name: `dense-wgrad+${optimizer}`, M: inF + 1, N: outF, K: rows, splits: 1,
    decls: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read_write> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> B: array<f32>;
${optimizerBindings(4, optimizer)}
const INF: u32 = ${u(inF)};
const OUTF: u32 = ${u(outF)};`,
    bindings: ['r', 'r', 'rw', 'rw', 'rw', 'r', 'u'],
    loadA: 'if (m == INF) { return 1.0; }\n  return X[k * INF + m];',
    loadB: `return DY[k * ${u(dy.stride)} + ${u(dy.offset)} + n];`,
    aContiguous: 'm', bContiguous: 'n',
    store: `if (m < INF) {
    let i = m * OUTF + n;
    W[i] = update(v, W[i], i, MASK[i], true);
  } else {
    B[n] = update(v, B[n], ${u(biasOffset)} + n, MASK[${u(biasOffset)} + n], false);
  }`,
  });
}

// ------------------------------------------------------------------------------------------ attention

/** BertModel's additive penalty at padded keys. */
export const ATTENTION_MASK_PENALTY = -10_000;

const headIndex = (l: BertLayerDims) => `let b = zb / ${u(l.heads)}; let h = zb % ${u(l.heads)};`;

/**
 * Scores per (example, head): s[z, i, j] = (q_i · k_j)·(1/√headDim) + (1 − mask[b, j])·penalty.
 * Bindings qkv (r), index (r, u32: the attention mask, bertIndexLayout), scores (rw) [batch·heads, seq, seq].
 */
export function attentionScores(l: BertLayerDims, vocab: number): Kernel {
  const A = widthOf(l), S = l.seq;
  const I = bertIndexLayout(l, vocab);
  return gemm({
    name: 'attn-scores', M: S, N: S, K: l.headDim, splits: 1, batches: l.batch * l.heads,
    decls: `@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> IDX: array<u32>;
@group(0) @binding(2) var<storage, read_write> SC: array<f32>;
fn maskAt(t: u32) -> f32 {
  let w = IDX[${u(I.mask)} + t];
  return select(f32(bitcast<i32>(w)), bitcast<f32>(w), IDX[${u(I.maskIsFloat)}] != 0u);
}`,
    bindings: ['r', 'r', 'rw'],
    loadA: `${headIndex(l)}\n  return QKV[(b * ${u(S)} + m) * ${u(3 * A)} + h * ${u(l.headDim)} + k];`,
    loadB: `${headIndex(l)}\n  return QKV[(b * ${u(S)} + n) * ${u(3 * A)} + ${u(A)} + h * ${u(l.headDim)} + k];`,
    aContiguous: 'k', bContiguous: 'k',
    store: `let b = zb / ${u(l.heads)};
  SC[(zb * ${u(S)} + m) * ${u(S)} + n] = v * ${f(1 / Math.sqrt(l.headDim))} + (1.0 - maskAt(b * ${u(S)} + n)) * ${f(ATTENTION_MASK_PENALTY)};`,
  });
}

/** Softmax of each row (length `width`) in place. Bindings x (rw) [rows, width]. */
export function softmaxRows(rows: number, width: number): Kernel {
  const g = rowGrid(rows);
  return {
    name: 'softmax',
    bindings: ['rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
${reductions(ROW_THREADS)}
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = ${g.row};
  if (r >= ${u(rows)}) { return; }
  let base = r * ${u(width)};
  var mx = -3.4e38;
  for (var j = lid.x; j < ${u(width)}; j += ${u(ROW_THREADS)}) { mx = max(mx, X[base + j]); }
  let m = reduceMax(lid.x, mx);
  var s = 0.0;
  for (var j = lid.x; j < ${u(width)}; j += ${u(ROW_THREADS)}) { s += exp(X[base + j] - m); }
  let total = reduceSum(lid.x, s);
  for (var j = lid.x; j < ${u(width)}; j += ${u(ROW_THREADS)}) { X[base + j] = exp(X[base + j] - m) / total; }
}`,
  };
}

/** Context per head into the merged layout: ctx[b·seq + i, h·d + c] = Σ_j p[z, i, j]·v_j. Bindings p (r), qkv (r), ctx (rw) [T, A]. */
export function attentionContext(l: BertLayerDims): Kernel {
  const A = widthOf(l), S = l.seq, D = l.headDim;
  return gemm({
    name: 'attn-context', M: S, N: D, K: S, splits: 1, batches: l.batch * l.heads,
    decls: `@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read> QKV: array<f32>;
@group(0) @binding(2) var<storage, read_write> CTX: array<f32>;`,
    bindings: ['r', 'r', 'rw'],
    loadA: `return P[(zb * ${u(S)} + m) * ${u(S)} + k];`,
    loadB: `${headIndex(l)}\n  return QKV[(b * ${u(S)} + k) * ${u(3 * A)} + ${u(2 * A)} + h * ${u(D)} + n];`,
    aContiguous: 'k', bContiguous: 'n',
    store: `${headIndex(l)}\n  CTX[(b * ${u(S)} + m) * ${u(A)} + h * ${u(D)} + n] = v;`,
  });
}

/** dP[z, i, j] = dctx_i · v_j per head. Bindings dctx (r) [T, A], qkv (r), dP (rw). */
export function attentionProbGrad(l: BertLayerDims): Kernel {
  const A = widthOf(l), S = l.seq, D = l.headDim;
  return gemm({
    name: 'attn-dprobs', M: S, N: S, K: D, splits: 1, batches: l.batch * l.heads,
    decls: `@group(0) @binding(0) var<storage, read> DCTX: array<f32>;
@group(0) @binding(1) var<storage, read> QKV: array<f32>;
@group(0) @binding(2) var<storage, read_write> DP: array<f32>;`,
    bindings: ['r', 'r', 'rw'],
    loadA: `${headIndex(l)}\n  return DCTX[(b * ${u(S)} + m) * ${u(A)} + h * ${u(D)} + k];`,
    loadB: `${headIndex(l)}\n  return QKV[(b * ${u(S)} + n) * ${u(3 * A)} + ${u(2 * A)} + h * ${u(D)} + k];`,
    aContiguous: 'k', bContiguous: 'k',
    store: `DP[(zb * ${u(S)} + m) * ${u(S)} + n] = v;`,
  });
}

/**
 * Softmax backward per row, in place, times the scores' scale: ds = p·(dp − Σ_j dp·p)·scale (the gradient at
 * q·kᵀ). Bindings p (r), dp (rw → ds).
 */
export function softmaxBackwardRows(rows: number, width: number, scale: number): Kernel {
  const g = rowGrid(rows);
  return {
    name: 'softmax-bwd',
    bindings: ['r', 'rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read_write> DP: array<f32>;
${reductions(ROW_THREADS)}
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = ${g.row};
  if (r >= ${u(rows)}) { return; }
  let base = r * ${u(width)};
  var s = 0.0;
  for (var j = lid.x; j < ${u(width)}; j += ${u(ROW_THREADS)}) { s += DP[base + j] * P[base + j]; }
  let dot = reduceSum(lid.x, s);
  for (var j = lid.x; j < ${u(width)}; j += ${u(ROW_THREADS)}) {
    let p = P[base + j];
    DP[base + j] = (DP[base + j] * p - p * dot) * ${f(scale)};
  }
}`,
  };
}

/**
 * dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dctx, every head of every example in one dispatch (z = part·batch·heads + b·heads
 * + h), into the [T, 3A] layout of qkv. Bindings dS (r), p (r), qkv (r), dctx (r), dqkv (rw).
 */
export function attentionQkvGrad(l: BertLayerDims): Kernel {
  const A = widthOf(l), S = l.seq, D = l.headDim, Z = l.batch * l.heads;
  const index = `let part = zb / ${u(Z)}; let zh = zb % ${u(Z)}; let b = zh / ${u(l.heads)}; let h = zh % ${u(l.heads)};`;
  return gemm({
    name: 'attn-dqkv', M: S, N: D, K: S, splits: 1, batches: 3 * Z,
    decls: `@group(0) @binding(0) var<storage, read> DS: array<f32>;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> QKV: array<f32>;
@group(0) @binding(3) var<storage, read> DCTX: array<f32>;
@group(0) @binding(4) var<storage, read_write> DQKV: array<f32>;`,
    bindings: ['r', 'r', 'r', 'r', 'rw'],
    loadA: `${index}
  if (part == 0u) { return DS[(zh * ${u(S)} + m) * ${u(S)} + k]; }
  if (part == 1u) { return DS[(zh * ${u(S)} + k) * ${u(S)} + m]; }
  return P[(zh * ${u(S)} + k) * ${u(S)} + m];`,
    loadB: `${index}
  if (part == 0u) { return QKV[(b * ${u(S)} + k) * ${u(3 * A)} + ${u(A)} + h * ${u(D)} + n]; }
  if (part == 1u) { return QKV[(b * ${u(S)} + k) * ${u(3 * A)} + h * ${u(D)} + n]; }
  return DCTX[(b * ${u(S)} + k) * ${u(A)} + h * ${u(D)} + n];`,
    aContiguous: 'k', bContiguous: 'n',
    store: `${index}\n  DQKV[(b * ${u(S)} + m) * ${u(3 * A)} + part * ${u(A)} + h * ${u(D)} + n] = v;`,
  });
}

// ------------------------------------------------------------------------------------------ embedding gradient

/**
 * Per token: first[id] = max(T − t) over the tokens with that id (atomicMax: the earliest token, whatever the
 * order threads run in) and next[t] = the next token with the same id (a scan, O(T²) compares). With them the
 * update kernel sums each vocabulary row's gradient over its tokens in token order: deterministic, no float
 * atomics. `first` must be zero before (the step clears it). Bindings index (rw, atomic u32).
 */
export function embeddingTokenLists(d: BertStepDims, vocab: number): Kernel {
  const T = tokensOf(d);
  const L = bertIndexLayout(d, vocab);
  const g = grid1d(T, 64);
  return {
    name: 'embed-token-lists',
    bindings: ['rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read_write> IDX: array<atomic<u32>>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = ${g.index};
  if (t >= ${u(T)}) { return; }
  let id = min(atomicLoad(&IDX[${u(L.ids)} + t]), ${u(vocab - 1)});
  atomicMax(&IDX[${u(L.first)} + id], ${u(T)} - t);
  var nxt = ${u(NONE)};
  for (var s = t + 1u; s < ${u(T)}; s++) {
    if (min(atomicLoad(&IDX[${u(L.ids)} + s]), ${u(vocab - 1)}) == id) { nxt = s; break; }
  }
  atomicStore(&IDX[${u(L.next)} + t], nxt);
}`,
  };
}

/** Where each table's optimizer state starts within the embeddings' state group (word at 0). */
export interface EmbeddingStateOffsets {
  position: number;
  type: number;
}

/**
 * The three embedding tables' gradients and updates (every entry: AdamW moves rows without gradient too, as
 * MaskedAdamW on tfjs's dense gather gradient), decayed. word[v]: Σ over v's tokens in token order; position[p]:
 * Σ over examples (0 for p ≥ seq); type[k]: Σ over tokens of type k. de is the gradient at the embeddings' sum
 * (after the LayerNorm's backward). Bindings de (r), index (r), word (rw), position (rw), type (rw), state (rw),
 * mask (r), hyper (u).
 */
export function embeddingUpdate(d: BertStepDims, e: EmbeddingShape, offsets: EmbeddingStateOffsets, optimizer: CompiledOptimizer): Kernel {
  const T = tokensOf(d), H = d.hidden;
  const L = bertIndexLayout(d, e.vocab);
  const nw = e.vocab * H, np = e.maxPosition * H, nt = e.typeVocab * H;
  const g = grid1d(nw + np + nt, 256);
  return {
    name: `embed-update+${optimizer}`,
    bindings: ['r', 'r', 'rw', 'rw', 'rw', 'rw', 'r', 'u'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> DE: array<f32>;
@group(0) @binding(1) var<storage, read> IDX: array<u32>;
@group(0) @binding(2) var<storage, read_write> WW: array<f32>;
@group(0) @binding(3) var<storage, read_write> WP: array<f32>;
@group(0) @binding(4) var<storage, read_write> WT: array<f32>;
${optimizerBindings(5, optimizer)}
const H: u32 = ${u(H)};
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = ${g.index};
  if (i < ${u(nw)}) {
    let row = i / H; let c = i % H;
    var grad = 0.0;
    let first = IDX[${u(L.first)} + row];
    if (first > 0u) {
      var t = ${u(T)} - first;
      loop {
        grad += DE[t * H + c];
        t = IDX[${u(L.next)} + t];
        if (t == ${u(NONE)}) { break; }
      }
    }
    WW[i] = update(grad, WW[i], i, MASK[i], true);
  } else if (i < ${u(nw + np)}) {
    let j = i - ${u(nw)};
    let p = j / H; let c = j % H;
    var grad = 0.0;
    if (p < ${u(d.seq)}) {
      for (var b = 0u; b < ${u(d.batch)}; b++) { grad += DE[(b * ${u(d.seq)} + p) * H + c]; }
    }
    WP[j] = update(grad, WP[j], ${u(offsets.position)} + j, MASK[${u(offsets.position)} + j], true);
  } else if (i < ${u(nw + np + nt)}) {
    let j = i - ${u(nw + np)};
    let k = j / H; let c = j % H;
    var grad = 0.0;
    for (var t = 0u; t < ${u(T)}; t++) {
      if (min(IDX[${u(L.types)} + t], ${u(e.typeVocab - 1)}) == k) { grad += DE[t * H + c]; }
    }
    WT[j] = update(grad, WT[j], ${u(offsets.type)} + j, MASK[${u(offsets.type)} + j], true);
  }
}`,
  };
}

// ------------------------------------------------------------------------------------------ pooler, classifier, loss

/** The head's sizes: pooler width and labels. */
export interface BertHeadShape {
  pooler: number;
  labels: number;
}

/** Head scratch layout (floats): pooled [batch, pooler], dpre [batch, pooler], dlogits [batch, labels], losses [batch], mean loss. */
export function bertHeadLayout(d: BertStepDims, h: BertHeadShape) {
  const dpre = d.batch * h.pooler;
  const dlogits = dpre + d.batch * h.pooler;
  const losses = dlogits + d.batch * h.labels;
  const meanLoss = losses + d.batch;
  return { pooled: 0, dpre, dlogits, losses, meanLoss, size: meanLoss + 1 };
}

/**
 * Per example (one workgroup): pooled = tanh([CLS]·Wp + bp), logits = pooled·Wc + bc, softmax cross-entropy
 * and its gradients back to the last layer's output, dx (every row of the example: the [CLS] row's gradient, zero
 * elsewhere). Runs before the head's update. Bindings x (r) [T, hidden], Wp, bp, Wc, bc (r), index (r, the
 * labels), scratch (rw, bertHeadLayout), dx (rw).
 */
export function bertHeadForward(d: BertStepDims, h: BertHeadShape, vocab: number): Kernel {
  const H = d.hidden, P = h.pooler, C = h.labels, S = d.seq;
  const L = bertHeadLayout(d, h);
  const I = bertIndexLayout(d, vocab);
  return {
    name: 'bert-head-fwd',
    bindings: ['r', 'r', 'r', 'r', 'r', 'r', 'rw', 'rw'],
    workgroups: [d.batch, 1, 1],
    code: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> WP: array<f32>;
@group(0) @binding(2) var<storage, read> BP: array<f32>;
@group(0) @binding(3) var<storage, read> WC: array<f32>;
@group(0) @binding(4) var<storage, read> BC: array<f32>;
@group(0) @binding(5) var<storage, read> IDX: array<u32>;
@group(0) @binding(6) var<storage, read_write> SCR: array<f32>;
@group(0) @binding(7) var<storage, read_write> DX: array<f32>;
var<workgroup> cls: array<f32, ${H}>;
var<workgroup> pooled: array<f32, ${P}>;
var<workgroup> dpre: array<f32, ${P}>;
var<workgroup> logits: array<f32, ${C}>;
var<workgroup> dl: array<f32, ${C}>;
fn tanhStable(x: f32) -> f32 { let e = exp(-2.0 * abs(x)); return sign(x) * (1.0 - e) / (1.0 + e); }
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wg.x;
  for (var c = lid.x; c < ${u(H)}; c += 64u) { cls[c] = X[n * ${u(S * H)} + c]; }
  workgroupBarrier();
  for (var j = lid.x; j < ${u(P)}; j += 64u) {
    var s = 0.0;
    for (var c = 0u; c < ${u(H)}; c++) { s += cls[c] * WP[c * ${u(P)} + j]; }
    let p = tanhStable(s + BP[j]);
    pooled[j] = p;
    SCR[${u(L.pooled)} + n * ${u(P)} + j] = p;
  }
  workgroupBarrier();
  for (var k = lid.x; k < ${u(C)}; k += 64u) {
    var s = 0.0;
    for (var j = 0u; j < ${u(P)}; j++) { s += pooled[j] * WC[j * ${u(C)} + k]; }
    logits[k] = s + BC[k];
  }
  workgroupBarrier();
  if (lid.x == 0u) {
    var mx = logits[0];
    for (var k = 1u; k < ${u(C)}; k++) { mx = max(mx, logits[k]); }
    var sum = 0.0;
    for (var k = 0u; k < ${u(C)}; k++) { sum += exp(logits[k] - mx); }
    let lse = mx + log(sum);
    let label = min(IDX[${u(I.labels)} + n], ${u(C - 1)});
    SCR[${u(L.losses)} + n] = lse - logits[label];
    for (var k = 0u; k < ${u(C)}; k++) {
      let g = (exp(logits[k] - lse) - select(0.0, 1.0, k == label)) / ${f(d.batch)};
      dl[k] = g;
      SCR[${u(L.dlogits)} + n * ${u(C)} + k] = g;
    }
  }
  workgroupBarrier();
  for (var j = lid.x; j < ${u(P)}; j += 64u) {
    var s = 0.0;
    for (var k = 0u; k < ${u(C)}; k++) { s += dl[k] * WC[j * ${u(C)} + k]; }
    let g = s * (1.0 - pooled[j] * pooled[j]);
    dpre[j] = g;
    SCR[${u(L.dpre)} + n * ${u(P)} + j] = g;
  }
  workgroupBarrier();
  for (var i = lid.x; i < ${u(S * H)}; i += 64u) {
    var g = 0.0;
    if (i < ${u(H)}) {
      for (var j = 0u; j < ${u(P)}; j++) { g += dpre[j] * WP[i * ${u(P)} + j]; }
    }
    DX[n * ${u(S * H)} + i] = g;
  }
}`,
  };
}

/** Where the head's parameters' optimizer state lies within its group (the pooler weight at 0). */
export interface BertHeadStateOffsets {
  poolerBias: number;
  classifierWeight: number;
  classifierBias: number;
}

/**
 * The head's gradients (pooler: [CLS]ᵀ·dpre, Σ dpre; classifier: pooledᵀ·dlogits, Σ dlogits) with their updates
 * (weights decayed), and the batch's mean loss into the scratch. Bindings scratch (rw), x (r), Wp, bp, Wc, bc (rw),
 * state (rw), mask (r), hyper (u).
 */
export function bertHeadBackward(d: BertStepDims, h: BertHeadShape, offsets: BertHeadStateOffsets, optimizer: CompiledOptimizer): Kernel {
  const H = d.hidden, P = h.pooler, C = h.labels, S = d.seq, B = d.batch;
  const L = bertHeadLayout(d, h);
  const nwp = H * P, nbp = P, nwc = P * C, nbc = C;
  const g = grid1d(nwp + nbp + nwc + nbc, 256);
  return {
    name: `bert-head-bwd+${optimizer}`,
    bindings: ['rw', 'r', 'rw', 'rw', 'rw', 'rw', 'rw', 'r', 'u'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read_write> SCR: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> WP: array<f32>;
@group(0) @binding(3) var<storage, read_write> BP: array<f32>;
@group(0) @binding(4) var<storage, read_write> WC: array<f32>;
@group(0) @binding(5) var<storage, read_write> BC: array<f32>;
${optimizerBindings(6, optimizer)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = ${g.index};
  if (i == 0u) {
    var s = 0.0;
    for (var n = 0u; n < ${u(B)}; n++) { s += SCR[${u(L.losses)} + n]; }
    SCR[${u(L.meanLoss)}] = s / ${f(B)};
  }
  if (i < ${u(nwp)}) {
    let c = i / ${u(P)}; let j = i % ${u(P)};
    var s = 0.0;
    for (var n = 0u; n < ${u(B)}; n++) { s += X[n * ${u(S * H)} + c] * SCR[${u(L.dpre)} + n * ${u(P)} + j]; }
    WP[i] = update(s, WP[i], i, MASK[i], true);
  } else if (i < ${u(nwp + nbp)}) {
    let j = i - ${u(nwp)};
    var s = 0.0;
    for (var n = 0u; n < ${u(B)}; n++) { s += SCR[${u(L.dpre)} + n * ${u(P)} + j]; }
    BP[j] = update(s, BP[j], ${u(offsets.poolerBias)} + j, MASK[${u(offsets.poolerBias)} + j], false);
  } else if (i < ${u(nwp + nbp + nwc)}) {
    let l = i - ${u(nwp + nbp)};
    let j = l / ${u(C)}; let k = l % ${u(C)};
    var s = 0.0;
    for (var n = 0u; n < ${u(B)}; n++) { s += SCR[${u(L.pooled)} + n * ${u(P)} + j] * SCR[${u(L.dlogits)} + n * ${u(C)} + k]; }
    WC[l] = update(s, WC[l], ${u(offsets.classifierWeight)} + l, MASK[${u(offsets.classifierWeight)} + l], true);
  } else if (i < ${u(nwp + nbp + nwc + nbc)}) {
    let k = i - ${u(nwp + nbp + nwc)};
    var s = 0.0;
    for (var n = 0u; n < ${u(B)}; n++) { s += SCR[${u(L.dlogits)} + n * ${u(C)} + k]; }
    BC[k] = update(s, BC[k], ${u(offsets.classifierBias)} + k, MASK[${u(offsets.classifierBias)} + k], false);
  }
}`,
  };
}
