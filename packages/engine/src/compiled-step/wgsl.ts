/**
 * WGSL for the compiled training step (issue 16, design b): every kernel is generated for one layer shape, with
 * the sizes baked in as constants, so a step records only `setPipeline` / `setBindGroup` / `dispatchWorkgroups`.
 * Layouts are tfjs's: activations NHWC, 3×3 filters [kh, kw, cin, cout], the linear weight [features, classes].
 *
 * Each generator returns the WGSL and the workgroup counts to dispatch; the bindings are listed in the order the
 * kernel declares them (@group(0) @binding(0…)), every one of them used (pipelines use layout 'auto').
 */

export interface Kernel {
  /** A short name for counts and error messages (e.g. 'conv-fwd'). */
  name: string;
  code: string;
  workgroups: [number, number, number];
  /** Binding kinds in order: 'r' read-only storage, 'rw' read-write storage, 'u' uniform (the optimizer settings). */
  bindings: ('r' | 'rw' | 'u')[];
}

/** WGSL literals: an unsigned integer, a float. */
export const u = (n: number) => `${n >>> 0}u`;
export const f = (x: number) => {
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
};

/** Most workgroups along x; larger 1-D grids fold into y. */
export const MAX_X = 65535;

/** 1-D grid of `total` threads in workgroups of `size`: counts, and the WGSL expression of the flat index. */
export function grid1d(total: number, size: number): { workgroups: [number, number, number]; index: string } {
  const groups = Math.max(1, Math.ceil(total / size));
  if (groups <= MAX_X) return { workgroups: [groups, 1, 1], index: `wg.x * ${u(size)} + lid.x` };
  const x = MAX_X;
  return { workgroups: [x, Math.ceil(groups / x), 1], index: `(wg.y * ${u(x)} + wg.x) * ${u(size)} + lid.x` };
}

/**
 * What a compiled step's update kernels do with each finished gradient: an optimizer's update ('sgd', 'adamw'),
 * or 'gradient': no update — the gradient is written to the parameter's state range and the parameter left as it
 * is (a gradient read: SNIP's scores, SAFE's two SAM gradients, RigL's regrowth).
 */
export type CompiledOptimizer = 'sgd' | 'adamw' | 'gradient';

/** The names a step's state goes by, per parameter (`<prefix>/<param>`): prunebench's OptimizerState names. */
export function statePrefixes(optimizer: CompiledOptimizer): string[] {
  return optimizer === 'sgd' ? ['momentum'] : optimizer === 'adamw' ? ['adam-m', 'adam-v'] : ['gradient'];
}

/**
 * The optimizer settings every update kernel reads, written once per step (the learning rate may change; AdamW's
 * bias corrections change every step): [lr, momentum, weightDecay, beta1, beta2, eps, 1 − β1ᵗ, 1 − β2ᵗ,
 * gradientOnly] — gradientOnly ≠ 0: a gradient read (below).
 */
export const HYPER = `struct Hyper { lr: f32, momentum: f32, weightDecay: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, gradientOnly: f32 }`;
export const HYPER_FLOATS = 9;

/** Optimizer-state floats per parameter value: SGD's velocity; AdamW's two moments, interleaved (m, v). */
export function stateStride(optimizer: CompiledOptimizer): number {
  return statePrefixes(optimizer).length;
}

/**
 * `fn update(grad, p, s, mask, decayed) -> f32`: the new value of a parameter entry, its optimizer state at index
 * s (of the bound state range V, in parameter entries) updated in place. Both as prunebench's masked optimizers:
 * - SGD (maskedSgdStep, PyTorch's form): g = (grad + wd·p)·mask; v = μ·v + g; p − lr·v (every parameter decayed).
 * - AdamW (PyTorch's): g = grad·mask; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p·(1 − lr·wd) where `decayed`
 *   (weights: convolutions, the linear weight), then − lr·(m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
 * Pruned entries (mask 0) become +0.
 * - 'gradient' (SGD's function, with gradientOnly set in the settings, so a gradient read runs the very pipelines
 *   of the SGD step: no shader of its own to compile): V[s] = grad, the dense gradient (no mask, no decay), and p
 *   unchanged.
 * `adamState`: where AdamW's moments of entry s are (default: interleaved in V; the fused update keeps them apart).
 */
export function updateFn(optimizer: CompiledOptimizer, adamState: { m: string; v: string } = { m: 'V[2u * s]', v: 'V[2u * s + 1u]' }): string {
  if (optimizer === 'sgd' || optimizer === 'gradient') {
    return `fn update(grad: f32, p: f32, s: u32, mask: f32, decayed: bool) -> f32 {
  if (hyper.gradientOnly != 0.0) {
    V[s] = grad;
    return p;
  }
  let g = (grad + hyper.weightDecay * p) * mask;
  let nv = hyper.momentum * V[s] + g;
  V[s] = nv;
  return select(0.0, p - hyper.lr * nv, mask != 0.0);
}`;
  }
  return `fn update(grad: f32, p: f32, s: u32, mask: f32, decayed: bool) -> f32 {
  let g = grad * mask;
  let m = hyper.beta1 * ${adamState.m} + (1.0 - hyper.beta1) * g;
  let v = hyper.beta2 * ${adamState.v} + (1.0 - hyper.beta2) * g * g;
  ${adamState.m} = m;
  ${adamState.v} = v;
  let base = select(p, p * (1.0 - hyper.lr * hyper.weightDecay), decayed);
  let np = base - hyper.lr * ((m / hyper.bc1) / (sqrt(v / hyper.bc2) + hyper.eps));
  return select(0.0, np, mask != 0.0);
}`;
}

/** The bindings every fused update ends with — state V, MASK, the settings — from binding `first` on, and `update`. */
export function optimizerBindings(first: number, optimizer: CompiledOptimizer, adamState?: { m: string; v: string }): string {
  return `@group(0) @binding(${first}) var<storage, read_write> V: array<f32>;
@group(0) @binding(${first + 1}) var<storage, read> MASK: array<f32>;
${HYPER}
@group(0) @binding(${first + 2}) var<uniform> hyper: Hyper;
${updateFn(optimizer, adamState)}`;
}

// ------------------------------------------------------------------------------------------ tiled GEMM

/** Tile of the GEMM kernels: 32 × 32 outputs per workgroup of 8 × 8 threads (4 × 4 each), K in steps of 16. */
const TM = 32;
const TN = 32;
const TK = 16;

export interface GemmParts {
  name: string;
  M: number;
  N: number;
  K: number;
  /** Split of K over workgroups along z (the filter gradient's split reduction); 1 = no split. */
  splits: number;
  /**
   * Independent GEMMs along z instead (attention's per-head products): wg.z is the private `zb` the loads and the
   * store may read; needs splits = 1.
   */
  batches?: number;
  /** WGSL declarations (bindings, constants). */
  decls: string;
  bindings: Kernel['bindings'];
  /** Body of `fn loadA(m: u32, k: u32) -> f32` and `fn loadB(k: u32, n: u32) -> f32` (called in range only). */
  loadA: string;
  loadB: string;
  /** Which index is contiguous in memory for each operand: consecutive threads load along it. */
  aContiguous: 'm' | 'k';
  bContiguous: 'k' | 'n';
  /** Body of `fn store(m: u32, n: u32, z: u32, v: f32)` (called in range only). */
  store: string;
}

/** Chunk of K each split handles (a multiple of the K tile). */
export function gemmChunk(K: number, splits: number): number {
  return Math.ceil(Math.ceil(K / splits) / TK) * TK;
}

export function gemm(p: GemmParts): Kernel {
  const batched = p.batches !== undefined;
  if (batched && p.splits !== 1) throw new Error(`gemm ${p.name}: batches need splits = 1`);
  const chunk = gemmChunk(p.K, p.splits);
  const splits = batched ? p.batches! : Math.ceil(p.K / chunk);
  const tileLoad = (tile: 'As' | 'Bs', rows: number, contiguousFirst: boolean, inner: 'm' | 'n', call: string, limit: string) => {
    // tile[kk][x], TK × rows; 512 elements over 64 threads
    const [kkExpr, xExpr] = contiguousFirst ? [`e % ${u(TK)}`, `e / ${u(TK)}`] : [`e / ${u(rows)}`, `e % ${u(rows)}`];
    return `for (var i = 0u; i < ${u((TK * rows) / 64)}; i++) {
      let e = li + i * 64u;
      let kk = ${kkExpr};
      let x = ${xExpr};
      let k = k0 + kk;
      let ${inner} = ${inner === 'm' ? 'row0' : 'col0'} + x;
      var v = 0.0;
      if (k < kEnd && ${inner} < ${limit}) { v = ${call}; }
      ${tile}[kk][x] = v;
    }`;
  };
  const code = `${p.decls}
const M: u32 = ${u(p.M)};
const N: u32 = ${u(p.N)};
const K: u32 = ${u(p.K)};
const KCHUNK: u32 = ${u(chunk)};
fn loadA(m: u32, k: u32) -> f32 { ${p.loadA} }
fn loadB(k: u32, n: u32) -> f32 { ${p.loadB} }
fn store(m: u32, n: u32, z: u32, v: f32) { ${p.store} }
${batched ? 'var<private> zb: u32;\n' : ''}var<workgroup> As: array<array<f32, ${TM}>, ${TK}>;
var<workgroup> Bs: array<array<f32, ${TN}>, ${TK}>;
@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${batched ? 'zb = wg.z;\n  ' : ''}let row0 = wg.y * ${u(TM)};
  let col0 = wg.x * ${u(TN)};
  let kBegin = ${batched ? '0u' : 'wg.z * KCHUNK'};
  let kEnd = min(K, kBegin + KCHUNK);
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = kBegin; k0 < kEnd; k0 += ${u(TK)}) {
    ${tileLoad('As', TM, p.aContiguous === 'k', 'm', 'loadA(m, k)', 'M')}
    ${tileLoad('Bs', TN, p.bContiguous === 'k', 'n', 'loadB(k, n)', 'N')}
    workgroupBarrier();
    for (var kk = 0u; kk < ${u(TK)}; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[kk][lid.y + 8u * i]; b[i] = Bs[kk][lid.x + 8u * i]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let m = row0 + lid.y + 8u * i;
      let n = col0 + lid.x + 8u * j;
      if (m < M && n < N) { store(m, n, wg.z, acc[i][j]); }
    }
  }
}`;
  return { name: p.name, code, workgroups: [Math.ceil(p.N / TN), Math.ceil(p.M / TM), splits], bindings: p.bindings };
}

/** A 3×3 convolution, padding 1 (PyTorch's and prunebench's), stride 1 or 2, NHWC. */
export interface ConvShape {
  batch: number;
  height: number;
  width: number;
  cin: number;
  cout: number;
  stride: number;
}

export function convOut(size: number, stride: number): number {
  return Math.floor((size + 2 - 3) / stride) + 1;
}

const convConsts = (s: ConvShape) => `const NB: u32 = ${u(s.batch)};
const H: u32 = ${u(s.height)};
const W: u32 = ${u(s.width)};
const CIN: u32 = ${u(s.cin)};
const COUT: u32 = ${u(s.cout)};
const S: u32 = ${u(s.stride)};
const OH: u32 = ${u(convOut(s.height, s.stride))};
const OW: u32 = ${u(convOut(s.width, s.stride))};`;

/** y = conv(x, w): bindings x (r), w (r), y (rw). Implicit GEMM: [positions, 9·cin] × [9·cin, cout]. */
export function convForward(s: ConvShape): Kernel {
  const oh = convOut(s.height, s.stride), ow = convOut(s.width, s.stride);
  return gemm({
    name: 'conv-fwd', M: s.batch * oh * ow, N: s.cout, K: 9 * s.cin, splits: 1,
    decls: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
${convConsts(s)}`,
    bindings: ['r', 'r', 'rw'],
    loadA: `let ox = m % OW; let t = m / OW; let oy = t % OH; let n = t / OH;
  let ci = k % CIN; let t2 = k / CIN; let kx = t2 % 3u; let ky = t2 / 3u;
  let iy = i32(oy * S + ky) - 1; let ix = i32(ox * S + kx) - 1;
  if (iy < 0 || ix < 0 || iy >= i32(H) || ix >= i32(W)) { return 0.0; }
  return X[((n * H + u32(iy)) * W + u32(ix)) * CIN + ci];`,
    loadB: `return Wt[k * COUT + n];`,
    aContiguous: 'k', bContiguous: 'n',
    store: `Y[m * COUT + n] = v;`,
  });
}

/** The gradient of a block's option-A (or identity) shortcut, added in the input-gradient kernel's epilogue. */
export interface ShortcutGrad {
  /** Channels of the shortcut's output (the block's width); for an identity shortcut = cin and stride 1. */
  outChannels: number;
  /** Zero channels before the identity ones (⌊(out − in)/2⌋). */
  padBefore: number;
}

/**
 * Input gradient of a convolution whose input x is a ReLU output: gx = (convᵀ(dy, w) [+ shortcutᵀ(gShortcut)]) ·
 * [x > 0], i.e. the gradient at the ReLU's input. Bindings dy (r), w (r), x (r), [gShortcut (r)], gx (rw).
 */
export function convInputGrad(s: ConvShape, shortcut: ShortcutGrad | null): Kernel {
  const bindings: Kernel['bindings'] = shortcut ? ['r', 'r', 'r', 'r', 'rw'] : ['r', 'r', 'r', 'rw'];
  const out = shortcut ? 4 : 3;
  const shortcutAdd = !shortcut ? '' : s.stride === 1 && shortcut.outChannels === s.cin && shortcut.padBefore === 0
    ? `g = g + GS[m * CIN + n];`
    : `let ix = m % W; let t = m / W; let iy = t % H; let nb = t / H;
  if (iy % S == 0u && ix % S == 0u) {
    g = g + GS[((nb * OH + iy / S) * OW + ix / S) * SCC + n + ${u(shortcut.padBefore)}];
  }`;
  return gemm({
    name: shortcut ? 'conv-dgrad+shortcut' : 'conv-dgrad', M: s.batch * s.height * s.width, N: s.cin, K: 9 * s.cout, splits: 1,
    decls: `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read> XA: array<f32>;
${shortcut ? '@group(0) @binding(3) var<storage, read> GS: array<f32>;' : ''}
@group(0) @binding(${out}) var<storage, read_write> GX: array<f32>;
${convConsts(s)}
const SCC: u32 = ${u(shortcut?.outChannels ?? 0)};`,
    bindings,
    loadA: `let ix = m % W; let t = m / W; let iy = t % H; let nb = t / H;
  let co = k % COUT; let t2 = k / COUT; let kx = t2 % 3u; let ky = t2 / 3u;
  let ty = i32(iy) + 1 - i32(ky); let tx = i32(ix) + 1 - i32(kx);
  if (ty < 0 || tx < 0) { return 0.0; }
  if (u32(ty) % S != 0u || u32(tx) % S != 0u) { return 0.0; }
  let oy = u32(ty) / S; let ox = u32(tx) / S;
  if (oy >= OH || ox >= OW) { return 0.0; }
  return DY[((nb * OH + oy) * OW + ox) * COUT + co];`,
    loadB: `let co = k % COUT; let t2 = k / COUT;
  return Wt[(t2 * CIN + n) * COUT + co];`,
    aContiguous: 'k', bContiguous: 'k',
    store: `var g = v;
  ${shortcutAdd}
  GX[m * CIN + n] = select(0.0, g, XA[m * CIN + n] > 0.0);`,
  });
}

/** Splits of the filter gradient's reduction over batch × positions: enough workgroups to fill a GPU, chunks of ≥ 256. */
export function filterGradSplits(s: ConvShape): number {
  const positions = s.batch * convOut(s.height, s.stride) * convOut(s.width, s.stride);
  const tiles = Math.ceil((9 * s.cin) / TM) * Math.ceil(s.cout / TN);
  const wanted = Math.max(1, Math.ceil(512 / tiles));
  const most = Math.max(1, Math.floor(positions / 256));
  const splits = Math.min(wanted, most);
  return Math.ceil(positions / gemmChunk(positions, splits));
}

/**
 * Filter gradient, first half of a split reduction: partial[z] = Σ over the z-th chunk of positions of
 * im2col(x)ᵀ · dy, a [9·cin, cout] matrix per split. Bindings x (r), dy (r), partial (rw).
 */
export function convFilterGradPartial(s: ConvShape): Kernel {
  const oh = convOut(s.height, s.stride), ow = convOut(s.width, s.stride);
  const positions = s.batch * oh * ow;
  const splits = filterGradSplits(s);
  return gemm({
    name: 'conv-wgrad-partial', M: 9 * s.cin, N: s.cout, K: positions, splits,
    decls: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read_write> PART: array<f32>;
${convConsts(s)}`,
    bindings: ['r', 'r', 'rw'],
    loadA: `let ci = m % CIN; let t = m / CIN; let kx = t % 3u; let ky = t / 3u;
  let ox = k % OW; let t2 = k / OW; let oy = t2 % OH; let nb = t2 / OH;
  let iy = i32(oy * S + ky) - 1; let ix = i32(ox * S + kx) - 1;
  if (iy < 0 || ix < 0 || iy >= i32(H) || ix >= i32(W)) { return 0.0; }
  return X[((nb * H + u32(iy)) * W + u32(ix)) * CIN + ci];`,
    loadB: `return DY[k * COUT + n];`,
    aContiguous: 'm', bContiguous: 'n',
    store: `PART[(z * M + m) * N + n] = v;`,
  });
}

/**
 * Filter gradient, second half, fused with the optimizer: g = Σ_z partial[z] and the masked SGD update of the
 * filter in place. Bindings partial (r), w (rw), velocity (rw), mask (r), hyper (u).
 */
export function filterGradReduceSgd(s: ConvShape, optimizer: CompiledOptimizer = 'sgd'): Kernel {
  const size = 9 * s.cin * s.cout;
  const splits = filterGradSplits(s);
  const g = grid1d(size, 256);
  return {
    name: `conv-wgrad-reduce+${optimizer}`,
    bindings: ['r', 'rw', 'rw', 'r', 'u'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<storage, read_write> V: array<f32>;
@group(0) @binding(3) var<storage, read> MASK: array<f32>;
${HYPER}
@group(0) @binding(4) var<uniform> hyper: Hyper;
${updateFn(optimizer)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = ${g.index};
  if (i >= ${u(size)}) { return; }
  var grad = 0.0;
  for (var z = 0u; z < ${u(splits)}; z++) { grad += PART[z * ${u(size)} + i]; }
  P[i] = update(grad, P[i], i, MASK[i], true);
}`,
  };
}

// ------------------------------------------------------------------------------------------ batch norm

/** PyTorch BatchNorm2d's (and prunebench's) epsilon and running-statistics momentum. */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/**
 * Per-channel statistics buffer of one batch-norm layer, 5·C floats: mean, 1/√(var + eps), then the backward's
 * coefficients a = γ/σ, b = Σdy / n, c = Σ(dy·x̂) / n.
 */
export const STATS_FLOATS = 5;

/**
 * Batch statistics (two passes: mean, then the mean squared deviation) of x [positions, C], one workgroup per
 * channel, and the running statistics' update (unbiased variance). Bindings x (r), stats (rw), runningMean (rw),
 * runningVar (rw).
 */
export function bnStats(positions: number, channels: number): Kernel {
  const C = u(channels);
  return {
    name: 'bn-stats',
    bindings: ['r', 'rw', 'rw', 'rw'],
    workgroups: [channels, 1, 1],
    code: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> STATS: array<f32>;
@group(0) @binding(2) var<storage, read_write> RM: array<f32>;
@group(0) @binding(3) var<storage, read_write> RV: array<f32>;
const P: u32 = ${u(positions)};
var<workgroup> red: array<f32, 256>;
fn reduce(lid: u32, value: f32) -> f32 {
  red[lid] = value;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) { red[lid] = red[lid] + red[lid + w]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wg.x;
  var s = 0.0;
  for (var p = lid.x; p < P; p += 256u) { s += X[p * ${C} + c]; }
  let mean = reduce(lid.x, s) / f32(P);
  var q = 0.0;
  for (var p = lid.x; p < P; p += 256u) { let d = X[p * ${C} + c] - mean; q += d * d; }
  let variance = reduce(lid.x, q) / f32(P);
  if (lid.x == 0u) {
    STATS[c] = mean;
    STATS[${C} + c] = inverseSqrt(variance + ${f(BN_EPS)});
    let unbiased = select(variance, variance * f32(P) / f32(P - 1u), P > 1u);
    RM[c] = ${f(1 - BN_MOMENTUM)} * RM[c] + ${f(BN_MOMENTUM)} * mean;
    RV[c] = ${f(1 - BN_MOMENTUM)} * RV[c] + ${f(BN_MOMENTUM)} * unbiased;
  }
}`,
  };
}

/** A residual added before the ReLU in the batch-norm apply kernel: the block's input through its shortcut. */
export interface ResidualSource {
  /** Shortcut input [batch, height, width, channels]; option A when stride > 1 or channels < the output's. */
  height: number;
  width: number;
  channels: number;
  stride: number;
  padBefore: number;
}

/** Index (into the shortcut's input) of output element (nb, oy, ox, c), or a guarded expression for option A. */
function shortcutRead(src: ResidualSource, outH: number, outW: number, outC: number, array: string): { prelude: string; value: string } {
  if (src.stride === 1 && src.channels === outC && src.padBefore === 0 && src.height === outH && src.width === outW) {
    return { prelude: '', value: `${array}[idx]` };
  }
  return {
    prelude: `let pos = idx / ${u(outC)}; let ox = pos % ${u(outW)}; let t = pos / ${u(outW)}; let oy = t % ${u(outH)}; let nb = t / ${u(outH)};
  let cc = i32(c) - ${src.padBefore};
  var sc = 0.0;
  if (cc >= 0 && cc < ${src.channels}) {
    sc = ${array}[((nb * ${u(src.height)} + oy * ${u(src.stride)}) * ${u(src.width)} + ox * ${u(src.stride)}) * ${u(src.channels)} + u32(cc)];
  }`,
    value: 'sc',
  };
}

/**
 * y = γ·(x − mean)/σ + β [+ shortcut(residual)] [then ReLU]. Bindings x (r), stats (r), γ (r), β (r),
 * [residual (r)], y (rw). `outH/outW`: the spatial size of x (for the shortcut's indexing).
 */
export function bnApply(batch: number, outH: number, outW: number, channels: number, relu: boolean, residual: ResidualSource | null): Kernel {
  const total = batch * outH * outW * channels;
  const g = grid1d(total, 256);
  const sc = residual ? shortcutRead(residual, outH, outW, channels, 'RES') : null;
  const out = residual ? 5 : 4;
  return {
    name: residual ? 'bn-apply+residual' : 'bn-apply',
    bindings: residual ? ['r', 'r', 'r', 'r', 'r', 'rw'] : ['r', 'r', 'r', 'r', 'rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> STATS: array<f32>;
@group(0) @binding(2) var<storage, read> GAMMA: array<f32>;
@group(0) @binding(3) var<storage, read> BETA: array<f32>;
${residual ? '@group(0) @binding(4) var<storage, read> RES: array<f32>;' : ''}
@group(0) @binding(${out}) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = ${g.index};
  if (idx >= ${u(total)}) { return; }
  let c = idx % ${u(channels)};
  var y = (X[idx] - STATS[c]) * STATS[${u(channels)} + c] * GAMMA[c] + BETA[c];
  ${sc ? `${sc.prelude}\n  y = y + ${sc.value};` : ''}
  ${relu ? 'y = max(y, 0.0);' : ''}
  Y[idx] = y;
}`,
  };
}

/**
 * Batch-norm backward, reductions and optimizer: Σdz and Σdz·x̂ per channel (one workgroup each), the dx
 * coefficients into stats (with γ before its update), then the masked SGD update of γ and β. `dz` is the
 * gradient at the batch norm's output (already through the ReLU). Bindings dz (r), x (r), stats (rw), γ (rw),
 * β (rw), velocity (rw: γ's, then β's at `betaOffset`), mask (r: likewise), hyper (u).
 */
export function bnBackwardReduceSgd(positions: number, channels: number, betaOffset: number, optimizer: CompiledOptimizer = 'sgd'): Kernel {
  const C = u(channels);
  return {
    name: `bn-bwd-reduce+${optimizer}`,
    bindings: ['r', 'r', 'rw', 'rw', 'rw', 'rw', 'r', 'u'],
    workgroups: [channels, 1, 1],
    code: `@group(0) @binding(0) var<storage, read> DZ: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> STATS: array<f32>;
@group(0) @binding(3) var<storage, read_write> GAMMA: array<f32>;
@group(0) @binding(4) var<storage, read_write> BETA: array<f32>;
@group(0) @binding(5) var<storage, read_write> V: array<f32>;
@group(0) @binding(6) var<storage, read> MASK: array<f32>;
${HYPER}
@group(0) @binding(7) var<uniform> hyper: Hyper;
${updateFn(optimizer)}
const P: u32 = ${u(positions)};
var<workgroup> red1: array<f32, 256>;
var<workgroup> red2: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wg.x;
  let mean = STATS[c];
  let invStd = STATS[${C} + c];
  var s1 = 0.0;
  var s2 = 0.0;
  for (var p = lid.x; p < P; p += 256u) {
    let dz = DZ[p * ${C} + c];
    s1 += dz;
    s2 += dz * (X[p * ${C} + c] - mean) * invStd;
  }
  red1[lid.x] = s1;
  red2[lid.x] = s2;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid.x < w) {
      red1[lid.x] = red1[lid.x] + red1[lid.x + w];
      red2[lid.x] = red2[lid.x] + red2[lid.x + w];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let dBeta = red1[0];
    let dGamma = red2[0];
    let gamma = GAMMA[c];
    STATS[${u(2 * channels)} + c] = gamma * invStd;
    STATS[${u(3 * channels)} + c] = dBeta / f32(P);
    STATS[${u(4 * channels)} + c] = dGamma / f32(P);
    GAMMA[c] = update(dGamma, gamma, c, MASK[c], false);
    BETA[c] = update(dBeta, BETA[c], ${u(betaOffset)} + c, MASK[${u(betaOffset)} + c], false);
  }
}`,
  };
}

/** dx = a·(dz − b − x̂·c) with the coefficients bnBackwardReduceSgd stored. Bindings dz (r), x (r), stats (r), dx (rw). */
export function bnBackwardDx(positions: number, channels: number): Kernel {
  const total = positions * channels;
  const g = grid1d(total, 256);
  const C = u(channels);
  return {
    name: 'bn-bwd-dx',
    bindings: ['r', 'r', 'r', 'rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> DZ: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> STATS: array<f32>;
@group(0) @binding(3) var<storage, read_write> DX: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = ${g.index};
  if (idx >= ${u(total)}) { return; }
  let c = idx % ${C};
  let xHat = (X[idx] - STATS[c]) * STATS[${C} + c];
  DX[idx] = STATS[${u(2 * channels)} + c] * (DZ[idx] - STATS[${u(3 * channels)} + c] - xHat * STATS[${u(4 * channels)} + c]);
}`,
  };
}

// ------------------------------------------------------------------------------------------ shortcut of a removed block

/** Option-A shortcut alone (a block removed by surgery): y = pad_c(x[:, ::s, ::s, :]). Bindings x (r), y (rw). */
export function shortcutForward(batch: number, src: ResidualSource, outH: number, outW: number, outC: number): Kernel {
  const total = batch * outH * outW * outC;
  const g = grid1d(total, 256);
  const sc = shortcutRead(src, outH, outW, outC, 'X');
  return {
    name: 'shortcut-fwd',
    bindings: ['r', 'rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = ${g.index};
  if (idx >= ${u(total)}) { return; }
  let c = idx % ${u(outC)};
  ${sc.prelude}
  Y[idx] = ${sc.value};
}`,
  };
}

/** Its gradient at the input ReLU's input: gx = shortcutᵀ(gy)·[x > 0]. Bindings gy (r), x (r), gx (rw). */
export function shortcutBackward(batch: number, src: ResidualSource, outH: number, outW: number, outC: number): Kernel {
  const total = batch * src.height * src.width * src.channels;
  const g = grid1d(total, 256);
  return {
    name: 'shortcut-bwd',
    bindings: ['r', 'r', 'rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> GY: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> GX: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = ${g.index};
  if (idx >= ${u(total)}) { return; }
  let ci = idx % ${u(src.channels)}; let pos = idx / ${u(src.channels)};
  let ix = pos % ${u(src.width)}; let t = pos / ${u(src.width)}; let iy = t % ${u(src.height)}; let nb = t / ${u(src.height)};
  var g = 0.0;
  if (iy % ${u(src.stride)} == 0u && ix % ${u(src.stride)} == 0u) {
    g = GY[((nb * ${u(outH)} + iy / ${u(src.stride)}) * ${u(outW)} + ix / ${u(src.stride)}) * ${u(outC)} + ci + ${u(src.padBefore)}];
  }
  GX[idx] = select(0.0, g, X[idx] > 0.0);
}`,
  };
}

// ------------------------------------------------------------------------------------------ head: pool, linear, loss

/** Head scratch layout (floats): pooled [batch, features], dlogits [batch, classes], loss per example [batch], mean loss. */
export function headLayout(batch: number, features: number, classes: number) {
  const dlogits = batch * features;
  const losses = dlogits + batch * classes;
  const meanLoss = losses + batch;
  return { pooled: 0, dlogits, losses, meanLoss, size: meanLoss + 1 };
}

/**
 * Global average pool, linear, softmax cross-entropy (mean over the batch) and its gradient at the logits, one
 * workgroup per example. Bindings x (r) [batch, hw, features], w (r) [features, classes], b (r), labels (r, i32),
 * scratch (rw, headLayout).
 */
export function headForward(batch: number, hw: number, features: number, classes: number): Kernel {
  const L = headLayout(batch, features, classes);
  return {
    name: 'head-fwd',
    bindings: ['r', 'r', 'r', 'r', 'rw'],
    workgroups: [batch, 1, 1],
    code: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> LW: array<f32>;
@group(0) @binding(2) var<storage, read> LB: array<f32>;
@group(0) @binding(3) var<storage, read> LABELS: array<i32>;
@group(0) @binding(4) var<storage, read_write> SCR: array<f32>;
var<workgroup> pooled: array<f32, ${features}>;
var<workgroup> logits: array<f32, ${classes}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wg.x;
  for (var c = lid.x; c < ${u(features)}; c += 64u) {
    var s = 0.0;
    for (var p = 0u; p < ${u(hw)}; p++) { s += X[(n * ${u(hw)} + p) * ${u(features)} + c]; }
    let m = s / ${f(hw)};
    pooled[c] = m;
    SCR[${u(L.pooled)} + n * ${u(features)} + c] = m;
  }
  workgroupBarrier();
  for (var k = lid.x; k < ${u(classes)}; k += 64u) {
    var s = LB[k];
    for (var c = 0u; c < ${u(features)}; c++) { s += pooled[c] * LW[c * ${u(classes)} + k]; }
    logits[k] = s;
  }
  workgroupBarrier();
  if (lid.x == 0u) {
    var mx = logits[0];
    for (var k = 1u; k < ${u(classes)}; k++) { mx = max(mx, logits[k]); }
    var sum = 0.0;
    for (var k = 0u; k < ${u(classes)}; k++) { sum += exp(logits[k] - mx); }
    let lse = mx + log(sum);
    let label = u32(LABELS[n]);
    SCR[${u(L.losses)} + n] = lse - logits[label];
    for (var k = 0u; k < ${u(classes)}; k++) {
      let p = exp(logits[k] - lse);
      SCR[${u(L.dlogits)} + n * ${u(classes)} + k] = (p - select(0.0, 1.0, k == label)) / ${f(batch)};
    }
  }
}`,
  };
}

/**
 * Gradient at the last ReLU's input: g[n, p, c] = (Σ_k dlogits[n, k]·w[c, k]) / hw · [x > 0]. Runs before the
 * linear layer's update. Bindings x (r), scratch (r), w (r), g (rw).
 */
export function headFeatureGrad(batch: number, hw: number, features: number, classes: number): Kernel {
  const L = headLayout(batch, features, classes);
  const total = batch * hw * features;
  const g = grid1d(total, 256);
  return {
    name: 'head-feature-grad',
    bindings: ['r', 'r', 'r', 'rw'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> SCR: array<f32>;
@group(0) @binding(2) var<storage, read> LW: array<f32>;
@group(0) @binding(3) var<storage, read_write> G: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let idx = ${g.index};
  if (idx >= ${u(total)}) { return; }
  let c = idx % ${u(features)};
  let n = idx / ${u(hw * features)};
  var s = 0.0;
  for (var k = 0u; k < ${u(classes)}; k++) { s += SCR[${u(L.dlogits)} + n * ${u(classes)} + k] * LW[c * ${u(classes)} + k]; }
  G[idx] = select(0.0, s / ${f(hw)}, X[idx] > 0.0);
}`,
  };
}

/**
 * The linear layer's gradients (dW = pooledᵀ·dlogits, db = Σ dlogits) with their masked SGD updates, and the mean
 * loss into the scratch. Bindings scratch (rw), w (rw), b (rw), velocity (rw: w's, then b's at `biasOffset`),
 * mask (r: likewise), hyper (u).
 */
export function headBackwardSgd(batch: number, features: number, classes: number, biasOffset: number, optimizer: CompiledOptimizer = 'sgd'): Kernel {
  const L = headLayout(batch, features, classes);
  const total = features * classes + classes;
  const g = grid1d(total, 256);
  return {
    name: `head-bwd+${optimizer}`,
    bindings: ['rw', 'rw', 'rw', 'rw', 'r', 'u'],
    workgroups: g.workgroups,
    code: `@group(0) @binding(0) var<storage, read_write> SCR: array<f32>;
@group(0) @binding(1) var<storage, read_write> LW: array<f32>;
@group(0) @binding(2) var<storage, read_write> LB: array<f32>;
@group(0) @binding(3) var<storage, read_write> V: array<f32>;
@group(0) @binding(4) var<storage, read> MASK: array<f32>;
${HYPER}
@group(0) @binding(5) var<uniform> hyper: Hyper;
${updateFn(optimizer)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = ${g.index};
  if (i == 0u) {
    var s = 0.0;
    for (var n = 0u; n < ${u(batch)}; n++) { s += SCR[${u(L.losses)} + n]; }
    SCR[${u(L.meanLoss)}] = s / ${f(batch)};
  }
  if (i >= ${u(total)}) { return; }
  if (i < ${u(features * classes)}) {
    let c = i / ${u(classes)};
    let k = i % ${u(classes)};
    var s = 0.0;
    for (var n = 0u; n < ${u(batch)}; n++) {
      s += SCR[${u(L.pooled)} + n * ${u(features)} + c] * SCR[${u(L.dlogits)} + n * ${u(classes)} + k];
    }
    LW[i] = update(s, LW[i], i, MASK[i], true);
  } else {
    let k = i - ${u(features * classes)};
    var s = 0.0;
    for (var n = 0u; n < ${u(batch)}; n++) { s += SCR[${u(L.dlogits)} + n * ${u(classes)} + k]; }
    LB[k] = update(s, LB[k], ${u(biasOffset)} + k, MASK[${u(biasOffset)} + k], false);
  }
}`,
  };
}
