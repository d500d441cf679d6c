import type { HostTensor } from './tensor-map.js';
import type { ParamKind } from './types.js';

/**
 * Conversion between PyTorch layouts (conv OIHW, linear [out, in]) and prunebench's internal tfjs layouts
 * (conv HWIO, linear [in, out]). Other kinds have the same layout in both.
 */

export function pytorchShape(kind: ParamKind | undefined, internalShape: readonly number[]): number[] {
  if (kind === 'conv2d') {
    const [h, w, i, o] = internalShape;
    return [o, i, h, w];
  }
  if (kind === 'linear') return [internalShape[1], internalShape[0]];
  return [...internalShape];
}

export function internalShape(kind: ParamKind | undefined, torchShape: readonly number[]): number[] {
  if (kind === 'conv2d') {
    const [o, i, h, w] = torchShape;
    return [h, w, i, o];
  }
  if (kind === 'linear') return [torchShape[1], torchShape[0]];
  return [...torchShape];
}

function checkRank(kind: ParamKind, shape: readonly number[], rank: number, name: string): void {
  if (shape.length !== rank) throw new Error(`${name}: a ${kind} weight must have rank ${rank}, got shape [${shape}]`);
}

/** PyTorch layout → internal layout. `name` labels errors. */
export function toInternalLayout(kind: ParamKind | undefined, t: HostTensor, name = 'tensor'): HostTensor {
  if (kind === 'conv2d') {
    checkRank(kind, t.shape, 4, name);
    const [O, I, H, W] = t.shape;
    const out = new Float32Array(t.data.length);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++) out[((h * W + w) * I + i) * O + o] = t.data[((o * I + i) * H + h) * W + w];
    return { shape: [H, W, I, O], data: out };
  }
  if (kind === 'linear') {
    checkRank(kind, t.shape, 2, name);
    return { shape: [t.shape[1], t.shape[0]], data: transpose2d(t.data, t.shape[0], t.shape[1]) };
  }
  return { shape: [...t.shape], data: t.data };
}

/** Internal layout → PyTorch layout. */
export function toPyTorchLayout(kind: ParamKind | undefined, t: HostTensor, name = 'tensor'): HostTensor {
  if (kind === 'conv2d') {
    checkRank(kind, t.shape, 4, name);
    const [H, W, I, O] = t.shape;
    const out = new Float32Array(t.data.length);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++) out[((o * I + i) * H + h) * W + w] = t.data[((h * W + w) * I + i) * O + o];
    return { shape: [O, I, H, W], data: out };
  }
  if (kind === 'linear') {
    checkRank(kind, t.shape, 2, name);
    return { shape: [t.shape[1], t.shape[0]], data: transpose2d(t.data, t.shape[0], t.shape[1]) };
  }
  return { shape: [...t.shape], data: t.data };
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
