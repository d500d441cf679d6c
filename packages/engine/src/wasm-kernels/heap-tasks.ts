/**
 * The loops of prunebench's JavaScript wasm kernels, cut into parts that can run on several threads
 * (heap-pool.ts). Every task works on `parts` fixed, contiguous parts of its range; the caller fixes the
 * number of parts (not the number of threads), and partial sums are combined in part order by the caller,
 * so the result is bitwise the same however many threads run the parts.
 *
 * These functions are also sent to worker threads as source text (Function.prototype.toString), so each
 * must be self-contained: no imports, no helpers, no variables from outside its own body.
 *
 * Arguments: `arrays` are the float32 tensors the task reads and writes (views of the wasm heap), `scratch`
 * a float64 array for per-channel vectors and partial sums, `p` the task's numeric parameters.
 */
export type HeapTask = (arrays: Float32Array[], scratch: Float64Array, p: Float64Array, part: number, parts: number) => void;

/**
 * Batch norm pass 1 (forward and backward): per-channel Σ (a − ca) and Σ (a − ca)·(b − cb) over this part's
 * rows. Forward: a = b = x, ca = cb = a shift (sums of x and x²); backward: a = dy, ca = 0, b = x, cb = mean.
 * arrays [a, b]; p [channels, caAt, cbAt, sumsAt]: centres in scratch[caAt..], scratch[cbAt..]; part k's
 * sums written to scratch[sumsAt + 2·k·C ..] (C first sums, then C second sums).
 */
export function centredChannelSums(arrays: Float32Array[], scratch: Float64Array, p: Float64Array, part: number, parts: number): void {
  const a = arrays[0]!, b = arrays[1]!;
  const channels = p[0]!, caAt = p[1]!, cbAt = p[2]!;
  const firstAt = p[3]! + 2 * part * channels, secondAt = firstAt + channels;
  const rows = a.length / channels, per = Math.ceil(rows / parts);
  const start = Math.min(rows, part * per) * channels, end = Math.min(rows, (part + 1) * per) * channels;
  // Blocks of ~4096 elements: one channel at a time walks a block kept in L1, its running sums in registers.
  const block = Math.max(1, Math.floor(4096 / channels)) * channels;
  for (let c = 0; c < channels; c++) {
    scratch[firstAt + c] = 0;
    scratch[secondAt + c] = 0;
  }
  for (let s = start; s < end; s += block) {
    const e = Math.min(end, s + block);
    for (let c = 0; c < channels; c++) {
      const ca = scratch[caAt + c]!, cb = scratch[cbAt + c]!;
      let first = 0, second = 0;
      for (let i = s + c; i < e; i += channels) {
        const d = a[i]! - ca;
        first += d;
        second += d * (b[i]! - cb);
      }
      scratch[firstAt + c]! += first;
      scratch[secondAt + c]! += second;
    }
  }
}

/**
 * Batch norm pass 2 (forward and backward): out = α·u + β·v + κ per channel over this part's rows.
 * Forward: u = v = x, α = scale, β = 0, κ = offset (y); backward: u = dy, v = x (dx).
 * arrays [u, v, out]; p [channels, coefficientsAt]: α, β, κ at scratch[coefficientsAt ..] (C each).
 */
export function channelAffine(arrays: Float32Array[], scratch: Float64Array, p: Float64Array, part: number, parts: number): void {
  const u = arrays[0]!, v = arrays[1]!, out = arrays[2]!;
  const channels = p[0]!, alphaAt = p[1]!, betaAt = alphaAt + channels, kappaAt = betaAt + channels;
  const rows = u.length / channels, per = Math.ceil(rows / parts);
  const start = Math.min(rows, part * per) * channels, end = Math.min(rows, (part + 1) * per) * channels;
  const block = Math.max(1, Math.floor(4096 / channels)) * channels;
  for (let s = start; s < end; s += block) {
    const e = Math.min(end, s + block);
    for (let c = 0; c < channels; c++) {
      const alpha = scratch[alphaAt + c]!, beta = scratch[betaAt + c]!, kappa = scratch[kappaAt + c]!;
      for (let i = s + c; i < e; i += channels) out[i] = alpha * u[i]! + beta * v[i]! + kappa;
    }
  }
}

/**
 * [A, B, C] -> [C, B, A], this part's range of the middle axis. arrays [src, dst]; p [A, B, C]. Per middle
 * index an [A, C] -> [C, A] block: the A source rows stay in L1 while the C output rows are written in order.
 */
export function transposeOuterInnerPart(arrays: Float32Array[], _scratch: Float64Array, p: Float64Array, part: number, parts: number): void {
  const src = arrays[0]!, dst = arrays[1]!;
  const a = p[0]!, b = p[1]!, c = p[2]!;
  const per = Math.ceil(b / parts);
  const first = Math.min(b, part * per), last = Math.min(b, (part + 1) * per);
  const bc = b * c, ba = b * a;
  for (let j = first; j < last; j++) {
    const srcMiddle = j * c, dstMiddle = j * a;
    for (let k = 0; k < c; k++) {
      const d = k * ba + dstMiddle;
      let s = srcMiddle + k;
      for (let i = 0; i < a; i++, s += bc) dst[d + i] = src[s]!;
    }
  }
}

/** The tasks by name, in the order workers index them. */
export const HEAP_TASKS = { centredChannelSums, channelAffine, transposeOuterInnerPart } as const;
export type HeapTaskName = keyof typeof HEAP_TASKS;
