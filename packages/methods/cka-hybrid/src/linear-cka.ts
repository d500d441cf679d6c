/**
 * Linear CKA (Kornblith, Norouzi, Lee, Hinton: Similarity of Neural Network Representations Revisited, ICML 2019,
 * eq. 5): for column-centred X (n × p) and Y (n × q),
 *   CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F · ‖YᵀY‖_F).
 * 1 for identical representations; invariant to orthogonal transforms and isotropic scaling of either side (not
 * to arbitrary invertible linear maps). Computed in float64. Both inputs are row-major, one row per example.
 */
export function linearCka(x: ArrayLike<number>, y: ArrayLike<number>, examples: number): number {
  if (!Number.isInteger(examples) || examples < 2) throw new Error(`linearCka: need at least 2 examples, got ${examples}`);
  if (x.length % examples !== 0 || y.length % examples !== 0) {
    throw new Error(`linearCka: ${x.length} and ${y.length} values do not split into ${examples} rows`);
  }
  const p = x.length / examples;
  const q = y.length / examples;
  const xc = centreColumns(x, examples, p);
  const yc = centreColumns(y, examples, q);
  const cross = frobeniusSquaredOfProduct(yc, q, xc, p, examples);
  const xx = Math.sqrt(frobeniusSquaredOfProduct(xc, p, xc, p, examples));
  const yy = Math.sqrt(frobeniusSquaredOfProduct(yc, q, yc, q, examples));
  if (xx === 0 || yy === 0) return 0; // a constant representation carries no similarity structure
  return cross / (xx * yy);
}

function centreColumns(values: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += values[r * cols + c];
    mean /= rows;
    for (let r = 0; r < rows; r++) out[r * cols + c] = values[r * cols + c] - mean;
  }
  return out;
}

/** ‖AᵀB‖²_F for row-major A (n × a) and B (n × b). */
function frobeniusSquaredOfProduct(a: Float64Array, aCols: number, b: Float64Array, bCols: number, rows: number): number {
  let total = 0;
  const column = new Float64Array(bCols);
  for (let i = 0; i < aCols; i++) {
    column.fill(0);
    for (let r = 0; r < rows; r++) {
      const av = a[r * aCols + i];
      if (av === 0) continue;
      const base = r * bCols;
      for (let j = 0; j < bCols; j++) column[j] += av * b[base + j];
    }
    for (let j = 0; j < bCols; j++) total += column[j] * column[j];
  }
  return total;
}
