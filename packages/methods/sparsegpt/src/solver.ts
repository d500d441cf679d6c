/**
 * SparseGPT's layer solver (Frantar & Alistarh 2023, Algorithm 1; the reference `fasterprune`), in float64 on the
 * host. W is [rows = outputs, cols = inputs], H = XᵀX over the calibration inputs (cols × cols). Columns are
 * visited left to right in blocks; each pruned weight's error is spread over the columns not yet visited by the
 * optimal-brain-surgeon update w ← w − (w_q / [H⁻¹]_qq) · [H⁻¹]_q,·, using the upper Cholesky factor of H⁻¹.
 */

export interface SolverSettings {
  /** Dampening λ = dampening · mean(diag H), added to the diagonal (the reference's percdamp, 0.01). */
  dampening: number;
  /** Columns per block (the reference's 128). */
  blockSize: number;
}

/** What to prune: an exact count per layer (unstructured), or N of every M columns kept in each row. */
export type SolverPattern = { kind: 'count'; prune: number } | { kind: 'n-of-m'; n: number; m: number };

export interface SolverResult {
  /** The pruned and updated weights, [rows, cols] row-major. */
  weights: Float64Array;
  /** 1 = kept, [rows, cols]. Inputs never active in calibration (diag H = 0) have their weights zeroed but kept in the mask, as in the reference. */
  mask: Uint8Array;
  /** Σ (w − q)² / [H⁻¹]_qq²: the solver's own estimate of the added squared error (the reference's Losses). */
  estimatedError: number;
  /** The dampening actually used (raised tenfold until H + λI is positive definite). */
  dampening: number;
}

/** Lower Cholesky factor of a symmetric n × n matrix (row-major), or null when it is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) return null;
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  return l;
}

/** H⁻¹ from the lower Cholesky factor L of H: (L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹. */
function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  // L⁻¹ by forward substitution, column by column.
  const li = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * n + k] * li[k * n + c];
      li[i * n + c] = s / l[i * n + i];
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i] * li[k * n + j];
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  return inv;
}

/**
 * The upper Cholesky factor U of (H + λI)⁻¹ (so that (H + λI)⁻¹ = UᵀU), after the reference's handling of dead
 * inputs (diag H = 0: H_ii = 1, the column's weights zeroed by the caller). λ grows tenfold until the factorisation
 * succeeds.
 */
export function inverseHessianFactor(gram: Float64Array, n: number, dampening: number): { upper: Float64Array; dead: boolean[]; dampening: number } {
  const h = Float64Array.from(gram);
  const dead = Array.from({ length: n }, (_, i) => h[i * n + i] === 0);
  dead.forEach((isDead, i) => {
    if (isDead) h[i * n + i] = 1;
  });
  let meanDiagonal = 0;
  for (let i = 0; i < n; i++) meanDiagonal += h[i * n + i] / n;
  for (let attempt = 0, damp = dampening; attempt < 8; attempt++, damp *= 10) {
    const damped = Float64Array.from(h);
    for (let i = 0; i < n; i++) damped[i * n + i] += damp * meanDiagonal;
    const l = cholesky(damped, n);
    if (!l) continue;
    const lowerOfInverse = cholesky(inverseFromCholesky(l, n), n);
    if (!lowerOfInverse) continue;
    const upper = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) upper[i * n + j] = lowerOfInverse[j * n + i];
    return { upper, dead, dampening: damp };
  }
  throw new Error(`the calibration Hessian stays singular even with dampening ${dampening * 1e7} · mean(diag H)`);
}

/** Exact prune counts per block: `total` spread over blocks in proportion to their width (largest remainder). */
function blockPruneCounts(total: number, widths: number[], rows: number): number[] {
  const cols = widths.reduce((a, b) => a + b, 0);
  const exact = widths.map((w) => (total * w) / cols);
  const counts = exact.map(Math.floor);
  let missing = total - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((_, i) => i).sort((a, b) => exact[b] - Math.floor(exact[b]) - (exact[a] - Math.floor(exact[a])) || a - b);
  for (const i of order) {
    if (missing === 0) break;
    if (counts[i] < widths[i] * rows) {
      counts[i]++;
      missing--;
    }
  }
  return counts;
}

export function sparsegptSolve(
  weights: Float64Array,
  rows: number,
  cols: number,
  gram: Float64Array,
  pattern: SolverPattern,
  settings: SolverSettings,
): SolverResult {
  if (pattern.kind === 'count' && !(Number.isInteger(pattern.prune) && pattern.prune >= 0 && pattern.prune <= rows * cols)) {
    throw new Error(`prune count must be an integer in [0, ${rows * cols}], got ${pattern.prune}`);
  }
  if (pattern.kind === 'n-of-m' && cols % pattern.m !== 0) throw new Error(`${cols} columns are not a multiple of M = ${pattern.m}`);
  const { upper: hinv, dead, dampening } = inverseHessianFactor(gram, cols, settings.dampening);
  const w = Float64Array.from(weights);
  for (let c = 0; c < cols; c++) if (dead[c]) for (let r = 0; r < rows; r++) w[r * cols + c] = 0;
  const pruned = new Uint8Array(rows * cols); // 1 = pruned
  const blockSize = pattern.kind === 'n-of-m' ? Math.max(pattern.m, Math.floor(settings.blockSize / pattern.m) * pattern.m) : settings.blockSize;
  const widths: number[] = [];
  for (let i1 = 0; i1 < cols; i1 += blockSize) widths.push(Math.min(blockSize, cols - i1));
  const perBlock = pattern.kind === 'count' ? blockPruneCounts(pattern.prune, widths, rows) : [];
  let estimatedError = 0;
  // (w² / [H⁻¹]_cc²): the saliency of pruning w at column c (lower = pruned first).
  const saliency = (r: number, c: number) => (w[r * cols + c] * w[r * cols + c]) / (hinv[c * cols + c] * hinv[c * cols + c]);

  widths.forEach((count, b) => {
    const i1 = b * blockSize;
    const i2 = i1 + count;
    if (pattern.kind === 'count') {
      // The block's lowest saliencies over all its rows and columns; ties to the earliest (row, column).
      const entries: number[] = [];
      for (let r = 0; r < rows; r++) for (let c = i1; c < i2; c++) entries.push(r * cols + c);
      const s = entries.map((e) => saliency(Math.floor(e / cols), e % cols));
      const order = entries.map((_, k) => k).sort((x, y) => s[x] - s[y] || entries[x] - entries[y]);
      for (let k = 0; k < perBlock[b]; k++) pruned[entries[order[k]]] = 1;
    }
    const err = new Float64Array(rows * count);
    for (let c = i1; c < i2; c++) {
      if (pattern.kind === 'n-of-m' && (c - i1) % pattern.m === 0) {
        for (let r = 0; r < rows; r++) {
          const group = Array.from({ length: pattern.m }, (_, k) => c + k);
          group.sort((x, y) => saliency(r, x) - saliency(r, y) || x - y);
          for (let k = 0; k < pattern.m - pattern.n; k++) pruned[r * cols + group[k]] = 1;
        }
      }
      const d = hinv[c * cols + c];
      for (let r = 0; r < rows; r++) {
        const value = w[r * cols + c];
        const q = pruned[r * cols + c] ? 0 : value;
        const e = (value - q) / d;
        estimatedError += e * e;
        err[r * count + (c - i1)] = e;
        if (e !== 0) for (let j = c; j < i2; j++) w[r * cols + j] -= e * hinv[c * cols + j];
        w[r * cols + c] = q;
      }
    }
    // The block's errors reach the columns after it in one product: W[:, i2:] −= Err · H⁻¹[i1:i2, i2:].
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < count; k++) {
        const e = err[r * count + k];
        if (e === 0) continue;
        const hrow = (i1 + k) * cols;
        for (let j = i2; j < cols; j++) w[r * cols + j] -= e * hinv[hrow + j];
      }
    }
  });
  const mask = new Uint8Array(rows * cols);
  for (let i = 0; i < mask.length; i++) {
    if (pruned[i]) w[i] = 0;
    mask[i] = pruned[i] ? 0 : 1;
  }
  return { weights: w, mask, estimatedError, dampening };
}
