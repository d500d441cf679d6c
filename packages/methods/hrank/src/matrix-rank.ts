/** Machine epsilon of float32: activations are float32, so rank tolerances follow torch's float32 default. */
export const FLOAT32_EPSILON = 1.1920928955078125e-7;

export interface MatrixRankOptions {
  /** Absolute threshold on singular values; default σ_max · max(rows, cols) · ε_float32 (torch.linalg.matrix_rank's default). */
  tolerance?: number;
  /** Where the matrix starts in `data` (row-major, rows × cols). */
  offset?: number;
  /** Row stride in `data` (default cols), e.g. to read one column block of a larger matrix. */
  rowStride?: number;
  /** Element stride within a row (default 1). */
  colStride?: number;
}

/**
 * Numerical rank of a rows × cols matrix: the number of singular values above the tolerance.
 *
 * Computed in float64 by Householder QR with column pivoting (Businger–Golub), which is rank-revealing: the
 * diagonal |R_kk| decreases and tracks the singular values, so the rank is the number of |R_kk| above the
 * tolerance. σ_max, which the default tolerance scales with, comes from power iteration on AᵀA. This matches
 * torch.linalg.matrix_rank (an SVD) on all but near-threshold cases, at a fraction of an SVD's cost — HRank needs
 * hundreds of thousands of small ranks.
 */
export function matrixRank(data: ArrayLike<number>, rows: number, cols: number, options: MatrixRankOptions = {}): number {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) throw new Error(`matrixRank: bad shape ${rows} × ${cols}`);
  if (rows === 0 || cols === 0) return 0;
  const offset = options.offset ?? 0;
  const rowStride = options.rowStride ?? cols;
  const colStride = options.colStride ?? 1;
  // Work on an m × n copy with m ≥ n (the rank of Aᵀ is the rank of A), column-major for cache-friendly columns.
  const transpose = rows < cols;
  const m = transpose ? cols : rows;
  const n = transpose ? rows : cols;
  const a = workArray('a', m * n); // a[j * m + i] = A'(i, j); every entry written below
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[offset + r * rowStride + c * colStride];
      if (transpose) a[r * m + c] = v;
      else a[c * m + r] = v;
    }
  }
  const tolerance = options.tolerance ?? largestSingularValue(a, m, n) * m * FLOAT32_EPSILON;
  if (!(tolerance >= 0)) throw new Error(`matrixRank: tolerance must be >= 0, got ${tolerance}`);

  // Squared norms of the trailing block's columns (rows k..m−1). Recomputed exactly at every step, not downdated
  // (downdating loses accuracy near the threshold); after the first, each is summed in the pass that applies the
  // step's reflector to its column: the same squares of the same values in the same order as a separate pass.
  const norms = workArray('norms', n);
  for (let j = 0; j < n; j++) norms[j] = squaredNorm(a, j * m, 0, m);
  let rank = 0;
  for (let k = 0; k < n; k++) {
    let best = k;
    for (let j = k + 1; j < n; j++) if (norms[j] > norms[best]) best = j;
    const alphaNorm = Math.sqrt(norms[best]);
    if (alphaNorm <= tolerance) break; // |R_kk| = the largest remaining column norm
    rank++;
    if (best !== k) {
      const bk = best * m;
      const kk = k * m;
      for (let i = 0; i < m; i++) {
        const t = a[bk + i];
        a[bk + i] = a[kk + i];
        a[kk + i] = t;
      }
      const nt = norms[best];
      norms[best] = norms[k];
      norms[k] = nt;
    }
    if (k === m - 1) break;
    // Householder reflector v = x − α e1 on column k, rows k..m−1; apply H = I − 2 v vᵀ / vᵀv to the trailing columns
    const kk = k * m;
    const x0 = a[kk + k];
    const alpha = x0 >= 0 ? -alphaNorm : alphaNorm;
    a[kk + k] = x0 - alpha;
    const vtv = squaredNorm(a, kk, k, m);
    if (vtv === 0) {
      for (let j = k + 1; j < n; j++) norms[j] = squaredNorm(a, j * m, k + 1, m);
      continue;
    }
    for (let j = k + 1; j < n; j++) {
      const base = j * m;
      let dot = 0;
      for (let i = k; i < m; i++) dot += a[kk + i] * a[base + i];
      const f = (2 * dot) / vtv;
      a[base + k] -= f * a[kk + k];
      let s = 0;
      for (let i = k + 1; i < m; i++) {
        const value = a[base + i] - f * a[kk + i];
        a[base + i] = value;
        s += value * value;
      }
      norms[j] = s;
    }
  }
  return rank;
}

/** Σ a[base + i]² for i = from..to−1, in that order. */
function squaredNorm(a: Float64Array, base: number, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += a[base + i] * a[base + i];
  return s;
}

/**
 * Work arrays reused across calls (HRank ranks hundreds of thousands of small matrices one after another; allocating
 * each call's arrays cost more than some of its arithmetic). Only the first `size` entries are used, each written
 * before it is read. matrixRank is synchronous, so no two calls share them at once.
 */
const work = { a: new Float64Array(0), norms: new Float64Array(0), gram: new Float64Array(0), v: new Float64Array(0), w: new Float64Array(0) };
function workArray(name: keyof typeof work, size: number): Float64Array {
  if (work[name].length < size) work[name] = new Float64Array(size);
  return work[name];
}

/** σ_max of a column-major m × n matrix by power iteration on AᵀA (from the all-ones start plus a fixed tilt). */
function largestSingularValue(a: Float64Array, m: number, n: number): number {
  const gram = workArray('gram', n * n);
  const put = (p: number, q: number, s: number) => {
    gram[p * n + q] = s;
    gram[q * n + p] = s;
  };
  for (let p = 0; p < n; p++) {
    const ap = p * m;
    let q = p;
    // four entries per pass over column p (each summed over i in order, as one at a time would)
    for (; q + 3 < n; q += 4) {
      const a0 = q * m, a1 = a0 + m, a2 = a1 + m, a3 = a2 + m;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = 0; i < m; i++) {
        const x = a[ap + i];
        s0 += x * a[a0 + i];
        s1 += x * a[a1 + i];
        s2 += x * a[a2 + i];
        s3 += x * a[a3 + i];
      }
      put(p, q, s0);
      put(p, q + 1, s1);
      put(p, q + 2, s2);
      put(p, q + 3, s3);
    }
    for (; q < n; q++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += a[ap + i] * a[q * m + i];
      put(p, q, s);
    }
  }
  let trace = 0;
  for (let p = 0; p < n; p++) trace += gram[p * n + p];
  if (trace === 0) return 0;
  let v = workArray('v', n);
  let w = workArray('w', n);
  for (let i = 0; i < n; i++) v[i] = 1 + i / (7 * n);
  let lambda = 0;
  for (let iter = 0; iter < 100; iter++) {
    for (let p = 0; p < n; p++) {
      let s = 0;
      for (let q = 0; q < n; q++) s += gram[p * n + q] * v[q];
      w[p] = s;
    }
    let norm = 0;
    for (let p = 0; p < n; p++) norm += w[p] * w[p];
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    let vnorm = 0;
    for (let p = 0; p < n; p++) vnorm += v[p] * v[p];
    const next = norm / Math.sqrt(vnorm);
    for (let p = 0; p < n; p++) w[p] /= norm;
    [v, w] = [w, v];
    const converged = Math.abs(next - lambda) <= 1e-10 * next;
    lambda = next;
    if (converged) break;
  }
  // Power iteration approaches σ_max² from below; the tolerance only needs its order of magnitude.
  return Math.sqrt(lambda);
}
