/** A named float32 tensor in host memory, row-major (C order). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Tensors by name, e.g. a PyTorch state dict after conversion to float32. */
export type TensorMap = Map<string, HostTensor>;

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
