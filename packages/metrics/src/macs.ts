import type { LayerSpec } from '@prunebench/models';

type Op = LayerSpec['op'];

/** Ops whose multiply-accumulates make the headline count (the ShrinkBench / HRank convention, plus attention matmuls). */
export const HEADLINE_OPS: ReadonlyArray<Op> = ['conv2d', 'linear', 'matmul'];

/**
 * Arithmetic per element for the optional full count, in operations (one MAC = one operation).
 * `per` says which tensor's elements are counted. Documented in docs/metrics.md.
 */
export const FULL_COUNT_CONVENTIONS: Readonly<Record<Exclude<Op, 'conv2d' | 'linear' | 'matmul'>, { opsPerElement: number; per: 'output' | 'input' }>> = {
  batchnorm: { opsPerElement: 1, per: 'output' }, // inference: y = x·scale + shift with folded statistics, one MAC
  layernorm: { opsPerElement: 5, per: 'output' }, // mean, subtract, square-accumulate, normalise, affine MAC
  relu: { opsPerElement: 1, per: 'output' }, // one compare
  gelu: { opsPerElement: 8, per: 'output' }, // tanh/erf approximation
  tanh: { opsPerElement: 4, per: 'output' },
  softmax: { opsPerElement: 3, per: 'output' }, // exp, sum, divide (max-subtraction not counted)
  add: { opsPerElement: 1, per: 'output' }, // residual addition
  avgpool: { opsPerElement: 1, per: 'input' }, // one accumulate per input element (the divide is folded)
  embedding: { opsPerElement: 0, per: 'output' }, // table lookup, no arithmetic
  shortcut: { opsPerElement: 0, per: 'output' }, // option-A shortcut: subsample + zero-pad, no arithmetic
};

/** Bias addition in conv2d / linear layers (full count only): one add per output element. */
export const BIAS_OPS_PER_OUTPUT_ELEMENT = 1;

export interface LayerMacs {
  name: string;
  op: 'conv2d' | 'linear' | 'matmul';
  weight?: string;
  dense: number;
  /** dense × the weight's density (matmul between activations: always dense). */
  effective: number;
}

export interface MacCounts {
  /** Conv2d + linear + matmul multiply-accumulates per example, all weights counted. */
  dense: number;
  /** The same with each weight layer scaled by its density: zero weights do no work. */
  effective: number;
  /** Full operation count (dense): headline MACs + bias, norm, activation, pooling, add, softmax ops. */
  full?: { dense: number; byOp: Partial<Record<Op | 'bias', number>> };
  /** One entry per headline layer, in trace order. */
  byLayer: LayerMacs[];
}

export interface CountMacsOptions {
  /** Density (nonzero / total, in [0, 1]) by weight name; weights not listed are dense. */
  weightDensity?: Map<string, number>;
  /** Also count the non-MAC operations (see FULL_COUNT_CONVENTIONS). */
  full?: boolean;
}

/**
 * Multiply-accumulates per example of a traced model (LayerSpec shapes exclude the batch dimension).
 * Structural pruning is counted by tracing the smaller arch and calling this on that trace.
 */
export function countMacs(layers: LayerSpec[], options: CountMacsOptions = {}): MacCounts {
  const density = options.weightDensity ?? new Map<string, number>();
  for (const [name, value] of density) {
    if (!(value >= 0 && value <= 1)) throw new Error(`countMacs: weightDensity for "${name}" must be in [0, 1], got ${value}`);
  }
  const result: MacCounts = { dense: 0, effective: 0, byLayer: [] };
  const byOp: Partial<Record<Op | 'bias', number>> = {};
  let fullTotal = 0;
  const addFull = (key: Op | 'bias', ops: number) => {
    byOp[key] = (byOp[key] ?? 0) + ops;
    fullTotal += ops;
  };

  for (const layer of layers) {
    const repeat = layer.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`countMacs: layer "${layer.name}" has repeat ${repeat}; expected a positive integer`);
    if (layer.op === 'conv2d' || layer.op === 'linear' || layer.op === 'matmul') {
      const dense = headlineMacs(layer) * repeat;
      const layerDensity = layer.op !== 'matmul' && layer.weight !== undefined ? (density.get(layer.weight) ?? 1) : 1;
      const effective = dense * layerDensity;
      result.byLayer.push({ name: layer.name, op: layer.op, weight: layer.weight, dense, effective });
      result.dense += dense;
      result.effective += effective;
      if (options.full) {
        addFull(layer.op, dense);
        if (layer.bias !== undefined && layer.op !== 'matmul') addFull('bias', BIAS_OPS_PER_OUTPUT_ELEMENT * elements(layer.outShape, layer, 'outShape') * repeat);
      }
    } else if (options.full) {
      const convention = FULL_COUNT_CONVENTIONS[layer.op];
      if (!convention) throw new Error(`countMacs: layer "${layer.name}" has unknown op "${String(layer.op)}"`);
      const shape = convention.per === 'input' ? layer.inShape : layer.outShape;
      addFull(layer.op, convention.opsPerElement * elements(shape, layer, convention.per === 'input' ? 'inShape' : 'outShape') * repeat);
    }
  }
  if (options.full) result.full = { dense: fullTotal, byOp };
  return result;
}

/** Dense MACs of the starting model / effective MACs of the final one (the same model when baseline is omitted). */
export function theoreticalSpeedup(counts: Pick<MacCounts, 'dense' | 'effective'>, baseline?: Pick<MacCounts, 'dense'>): number {
  if (!(counts.effective > 0)) throw new Error(`theoreticalSpeedup: effective MACs is ${counts.effective}; the speedup is undefined`);
  return (baseline ?? counts).dense / counts.effective;
}

function headlineMacs(layer: LayerSpec): number {
  const where = `countMacs: layer "${layer.name}" (${layer.op})`;
  if (layer.op === 'conv2d') {
    if (layer.inShape.length !== 3 || layer.outShape.length !== 3) {
      throw new Error(`${where}: inShape and outShape must be [h, w, c], got [${layer.inShape}] and [${layer.outShape}]`);
    }
    if (!layer.kernel) throw new Error(`${where}: kernel is missing`);
    const groups = layer.groups ?? 1;
    checkDims([...layer.inShape, ...layer.outShape, ...layer.kernel], layer, 'inShape/outShape/kernel');
    const [outH, outW, outC] = layer.outShape;
    const inC = layer.inShape[2];
    if (!Number.isInteger(groups) || groups < 1 || inC % groups !== 0 || outC % groups !== 0) {
      throw new Error(`${where}: groups ${groups} must divide input channels ${inC} and output channels ${outC}`);
    }
    const [kh, kw] = layer.kernel;
    return outH * outW * outC * kh * kw * (inC / groups);
  }
  if (layer.op === 'linear') {
    if (layer.inShape.length < 1 || layer.outShape.length < 1) throw new Error(`${where}: inShape and outShape must not be empty`);
    const inFeatures = layer.inShape[layer.inShape.length - 1];
    const outFeatures = layer.outShape[layer.outShape.length - 1];
    const tokens = elements(layer.outShape.slice(0, -1), layer, 'outShape');
    return tokens * inFeatures * outFeatures;
  }
  if (!layer.matmulShape || layer.matmulShape.length !== 3) throw new Error(`${where}: matmulShape [m, k, n] is missing`);
  const [m, k, n] = layer.matmulShape;
  checkDims([m, k, n], layer, 'matmulShape');
  return m * k * n;
}

function elements(shape: number[], layer: LayerSpec, field: string): number {
  checkDims(shape, layer, field);
  return shape.reduce((a, b) => a * b, 1);
}

function checkDims(dims: number[], layer: LayerSpec, field: string): void {
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`countMacs: layer "${layer.name}" has ${field} [${dims}]; expected non-negative integers`);
  }
}
