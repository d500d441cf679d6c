/**
 * Post-training int8 quantization of an exported ONNX graph into the QDQ format (QuantizeLinear /
 * DequantizeLinear pairs around the quantized operators), which ONNX Runtime's graph optimiser fuses into its
 * integer kernels (QLinearConv, QGemm, MatMulIntegerToFloat, QLinearAdd, ...).
 *
 * Scheme (docs/metrics.md, *Quantization*):
 * - weights of Conv, Gemm and MatMul-with-a-constant-B: int8, symmetric, per output channel,
 *   scale = max|w| / 127 over the channel, zero point 0, values in [-127, 127] — a zero weight stays exactly 0,
 *   so pruned weights stay pruned (a few tiny nonzero weights may round to 0 as well).
 * - Conv / Gemm biases: int32 with scale = input scale × weight scale of the channel (what the integer kernels add).
 * - activations: uint8, asymmetric, per tensor, from a range calibrated on example inputs (min-max, or the
 *   p-th and (100 − p)-th percentiles), always widened to hold 0. u8 activations × s8 weights is the combination
 *   ONNX Runtime's x86 MLAS kernels are written for (AVX2 vpmaddubsw, AVX-512 VNNI vpdpbusd); ReLU outputs use the
 *   whole 0..255 range with zero point 0.
 * Quantized activations: the data input of every quantized operator, the output of every Conv (so the Conv fuses
 * into QLinearConv), and a ReLU whose input has no other consumer is absorbed (removed, its input quantized with the
 * ReLU output's range and zero point 0, which clips at 0 as the ReLU did). Only the quantized operators read the
 * dequantized copy of a tensor (the residual stream of BERT stays float); an absorbed ReLU's consumers all do.
 * MatMul outputs stay float (ORT: MatMulIntegerToFloat), so BERT's bias, GELU, LayerNorm and attention run in float.
 * Embedding tables (a Gather or Slice of a 2-D constant): per-tensor symmetric 8-bit (stored uint8, zero point 128),
 * the looked-up rows re-quantized with the same constants so ORT gathers 8-bit rows and dequantizes only those.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { intAttr } from './graph-builder.js';
import { decodeModel } from './onnx-decode.js';
import { OnnxDataType, encodeModel, floatTensor, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './onnx-proto.js';

export type CalibrationMethod = 'minmax' | 'percentile';

export interface QuantizeOnnxOptions {
  /** 'minmax' (default): the smallest and largest value seen; 'percentile': the p-th / (100 − p)-th percentiles. */
  calibration?: CalibrationMethod;
  /** Percentile for 'percentile' calibration, in (50, 100]. Default 99.99. */
  percentile?: number;
  /** Intra-op threads of the calibration session. Default 2. */
  threads?: number;
}

/** Calibrated range of one activation tensor (before widening to hold 0). */
export interface ActivationRange {
  min: number;
  max: number;
}

/** One quantized weight tensor of the QDQ graph. */
export interface QuantizedWeight {
  /** Initializer name in the float graph (the parameter name, e.g. `layer1.0.conv1.weight`). */
  name: string;
  op: string;
  elements: number;
  /** Scales: output channels (Conv, Gemm, MatMul); 1 for an embedding table (Gather / Slice, per-tensor). */
  channels: number;
  /** Nonzero float weights before quantization. */
  nonzero: number;
  /** Nonzero int8 values (at most `nonzero`: tiny weights may round to 0). */
  nonzeroInt8: number;
}

export interface QuantizedActivation {
  tensor: string;
  scale: number;
  zeroPoint: number;
  range: ActivationRange;
}

export interface QuantizedOnnx {
  bytes: Uint8Array;
  model: ModelProto;
  weights: QuantizedWeight[];
  activations: QuantizedActivation[];
  /** ReLU nodes absorbed into the preceding operator's output quantization. */
  absorbedRelus: number;
  calibration: { method: CalibrationMethod; percentile?: number; examples: number };
}

const WEIGHTED_OPS = new Set(['Conv', 'Gemm', 'MatMul']);
const HISTOGRAM_BINS = 4096;

/** A tensor that will carry a Q/DQ pair: where its range comes from and who reads the dequantized copy. */
interface ActivationSite {
  /** Tensor the Q node reads (a ReLU's input when the ReLU is absorbed). */
  tensor: string;
  /** Tensor whose calibrated range is used (the ReLU's output when absorbed). */
  rangeOf: string;
  /** Whether every consumer reads the dequantized copy (absorbed ReLU, or graph output) or only the quantized operators. */
  allConsumers: boolean;
}

interface QdqPlan {
  sites: ActivationSite[];
  /** ReLU nodes to remove, by node index; their outputs are renamed to the dequantized input. */
  absorbed: Map<number, string>;
}

function initializerMap(graph: GraphProto): Map<string, TensorProto> {
  return new Map(graph.initializers.map((t) => [t.name, t]));
}

function isQuantizedOp(node: NodeProto, inits: Map<string, TensorProto>): boolean {
  if (!WEIGHTED_OPS.has(node.opType)) return false;
  const w = inits.get(node.inputs[1]);
  if (!w || w.dataType !== OnnxDataType.FLOAT) return false;
  if (node.opType === 'MatMul') return w.dims.length === 2 && !inits.has(node.inputs[0]);
  if (node.opType === 'Gemm') {
    const transA = node.attributes?.find((a) => a.name === 'transA');
    return !(transA && transA.type === 'int' && Number(transA.value) !== 0);
  }
  return true;
}

/** Which activations get Q/DQ pairs (see the module comment). */
function planQdq(graph: GraphProto): QdqPlan {
  const inits = initializerMap(graph);
  const consumers = new Map<string, number[]>();
  graph.nodes.forEach((n, i) => n.inputs.forEach((t) => consumers.set(t, [...(consumers.get(t) ?? []), i])));
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((t) => producer.set(t, i)));
  const outputs = new Set(graph.outputs.map((o) => o.name));

  const wanted: string[] = [];
  // graph outputs keep their float values (a Q/DQ pair there would need the output renamed)
  const want = (t: string) => {
    if (!inits.has(t) && !outputs.has(t) && !wanted.includes(t)) wanted.push(t);
  };
  for (const node of graph.nodes) {
    if (!isQuantizedOp(node, inits)) continue;
    want(node.inputs[0]);
    if (node.opType === 'Conv') want(node.outputs[0]);
  }
  const absorbed = new Map<number, string>();
  const sites: ActivationSite[] = [];
  for (const t of wanted) {
    // an absorbed ReLU's input is covered by its output's site
    const users = consumers.get(t) ?? [];
    if (users.length === 1 && graph.nodes[users[0]].opType === 'Relu' && wanted.includes(graph.nodes[users[0]].outputs[0]) && !outputs.has(t)) continue;
    const p = producer.get(t);
    const source = p === undefined ? undefined : graph.nodes[p];
    if (source && source.opType === 'Relu' && (consumers.get(source.inputs[0]) ?? []).length === 1 && !outputs.has(source.inputs[0]) && !outputs.has(t)) {
      absorbed.set(p!, t);
      sites.push({ tensor: source.inputs[0], rangeOf: t, allConsumers: true });
    } else {
      // a Conv's output is quantized for every consumer (its int8 value is the point); other inputs only for the quantized ops
      sites.push({ tensor: t, rangeOf: t, allConsumers: outputs.has(t) || source?.opType === 'Conv' });
    }
  }
  return { sites, absorbed };
}

/** uint8 asymmetric parameters of a range, widened to hold 0 (ONNX Runtime's rule). */
export function uint8Params(range: ActivationRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(range.min, 0);
  const hi = Math.max(range.max, 0);
  const scale = hi > lo ? Math.fround((hi - lo) / 255) : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

function bytesOf(t: TensorProto): Float32Array {
  if (t.dataType !== OnnxDataType.FLOAT) throw new Error(`quantizeOnnx: ${t.name} is not float32`);
  const copy = t.rawData.slice();
  return new Float32Array(copy.buffer, 0, copy.length / 4);
}

function rawTensor(name: string, dims: number[], dataType: number, bytes: Uint8Array): TensorProto {
  return { name, dims, dataType: dataType as TensorProto['dataType'], rawData: bytes };
}

function int32Tensor(name: string, dims: number[], values: Int32Array): TensorProto {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setInt32(i * 4, v, true));
  return rawTensor(name, dims, OnnxDataType.INT32, raw);
}

function scalesOf(name: string, inits: TensorProto[]): number {
  const t = inits.find((i) => i.name === `${name}_scale`)!;
  return new DataView(t.rawData.buffer, t.rawData.byteOffset, 4).getFloat32(0, true);
}

/** Round half to even (ONNX QuantizeLinear's rounding, and the x86 float → int32 conversion ONNX Runtime requantizes with). */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Per-output-channel symmetric int8 quantization of a weight whose channels lie along `axis`
 * (Conv OIHW: axis 0; MatMul / Gemm [K, N]: axis 1). Returns int8 values and float32 scales.
 */
export function quantizeWeightPerChannel(values: Float32Array, dims: number[], axis: number): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    maxAbs[c] = Math.max(maxAbs[c], Math.abs(values[i]));
  }
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? Math.fround(m / 127) : 1));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.max(-127, Math.min(127, roundEven(values[i] / scales[channelOf(i)])));
  return { q, scales };
}

/** Runs the float graph with `tensors` as extra outputs over `feeds`, calling `visit` with every batch's values. */
async function forEachActivation(
  model: ModelProto, tensors: string[], feeds: ReadonlyArray<Record<string, ort.Tensor>>, threads: number,
  visit: (tensor: string, values: Float32Array) => void,
): Promise<void> {
  const graph = { ...model.graph, outputs: [...model.graph.outputs, ...tensors.filter((t) => !model.graph.outputs.some((o) => o.name === t)).map((name) => ({ name, elemType: OnnxDataType.FLOAT }))] };
  const session = await ort.InferenceSession.create(encodeModel({ ...model, graph }), {
    executionProviders: ['cpu'], graphOptimizationLevel: 'basic', intraOpNumThreads: threads, interOpNumThreads: 1,
  });
  try {
    for (const feed of feeds) {
      const results = await session.run(feed, tensors);
      for (const t of tensors) visit(t, results[t].data as Float32Array);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await session.release();
  }
}

/**
 * Calibrates the ranges of `tensors` of a float graph on example feeds: min-max, or percentiles from a
 * 4096-bin histogram over [min, max] (a second pass).
 */
export async function calibrateActivations(
  model: ModelProto, tensors: string[], feeds: ReadonlyArray<Record<string, ort.Tensor>>, opts: QuantizeOnnxOptions = {},
): Promise<Map<string, ActivationRange>> {
  if (feeds.length === 0) throw new Error('quantizeOnnx: calibration needs at least one batch of example inputs');
  const threads = opts.threads ?? 2;
  const ranges = new Map<string, ActivationRange>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  await forEachActivation(model, tensors, feeds, threads, (t, values) => {
    const r = ranges.get(t)!;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < r.min) r.min = v;
      if (v > r.max) r.max = v;
    }
  });
  for (const [t, r] of ranges) if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new Error(`quantizeOnnx: activation ${t} has non-finite values`);
  if ((opts.calibration ?? 'minmax') === 'minmax') return ranges;
  const p = opts.percentile ?? 99.99;
  if (!(p > 50 && p <= 100)) throw new Error(`quantizeOnnx: percentile must be in (50, 100], got ${p}`);
  const histograms = new Map(tensors.map((t) => [t, new Float64Array(HISTOGRAM_BINS)]));
  await forEachActivation(model, tensors, feeds, threads, (t, values) => {
    const { min, max } = ranges.get(t)!;
    const h = histograms.get(t)!;
    const width = (max - min) / HISTOGRAM_BINS || 1;
    for (let i = 0; i < values.length; i++) h[Math.min(HISTOGRAM_BINS - 1, Math.floor((values[i] - min) / width))]++;
  });
  const out = new Map<string, ActivationRange>();
  for (const t of tensors) {
    const { min, max } = ranges.get(t)!;
    const h = histograms.get(t)!;
    const total = h.reduce((a, b) => a + b, 0);
    const width = (max - min) / HISTOGRAM_BINS;
    // value below which a fraction q of the samples lie (linear inside the bin)
    const quantile = (q: number): number => {
      const wantCount = q * total;
      let seen = 0;
      for (let b = 0; b < HISTOGRAM_BINS; b++) {
        if (seen + h[b] >= wantCount) return min + width * (b + (h[b] > 0 ? (wantCount - seen) / h[b] : 0));
        seen += h[b];
      }
      return max;
    };
    out.set(t, { min: Math.max(min, quantile(1 - p / 100)), max: Math.min(max, quantile(p / 100)) });
  }
  return out;
}

/** The activations a QDQ rewrite of `model` would calibrate (range tensors, in graph order). */
export function qdqCalibrationTensors(model: ModelProto): string[] {
  return planQdq(model.graph).sites.map((s) => s.rangeOf);
}

/** Rewrites a float graph into QDQ form with the given activation ranges (see the module comment). */
export function buildQdqModel(model: ModelProto, ranges: ReadonlyMap<string, ActivationRange>): Omit<QuantizedOnnx, 'bytes' | 'calibration'> {
  const graph = model.graph;
  const inits = initializerMap(graph);
  const plan = planQdq(graph);
  const newInits: TensorProto[] = [];
  const weightNodes: NodeProto[] = [];
  const weights: QuantizedWeight[] = [];
  const activations: QuantizedActivation[] = [];
  const replacedInits = new Set<string>();
  const dequantized = new Map<string, { name: string; all: boolean; scale: number }>();
  const qdqAfter = new Map<string, NodeProto[]>(); // tensor → its Q/DQ nodes, placed right after its producer

  for (const site of plan.sites) {
    const range = ranges.get(site.rangeOf);
    if (!range) throw new Error(`quantizeOnnx: no calibrated range for ${site.rangeOf}`);
    const { scale, zeroPoint } = uint8Params(site.rangeOf !== site.tensor ? { min: 0, max: range.max } : range);
    const base = site.rangeOf;
    newInits.push(floatTensor(`${base}_scale`, [], Float32Array.of(scale)), rawTensor(`${base}_zero_point`, [], OnnxDataType.UINT8, Uint8Array.of(zeroPoint)));
    const q = `${base}_quantized`;
    const dq = `${base}_dequantized`;
    qdqAfter.set(site.tensor, [
      { name: `${base}_QuantizeLinear`, opType: 'QuantizeLinear', inputs: [site.tensor, `${base}_scale`, `${base}_zero_point`], outputs: [q] },
      { name: `${base}_DequantizeLinear`, opType: 'DequantizeLinear', inputs: [q, `${base}_scale`, `${base}_zero_point`], outputs: [dq] },
    ]);
    dequantized.set(site.tensor, { name: dq, all: site.allConsumers, scale });
    activations.push({ tensor: base, scale, zeroPoint, range });
  }

  // an absorbed ReLU's output is its input's dequantized copy
  const renamed = new Map<string, string>();
  for (const [index, output] of plan.absorbed) renamed.set(output, dequantized.get(graph.nodes[index].inputs[0])!.name);

  const nodes: NodeProto[] = [];
  const graphInputs = new Set(graph.inputs.map((i) => i.name));
  for (const input of graphInputs) nodes.push(...(qdqAfter.get(input) ?? []));
  graph.nodes.forEach((node, index) => {
    if (plan.absorbed.has(index)) return;
    const quantizedOp = isQuantizedOp(node, inits);
    const inputs = node.inputs.map((t) => {
      const r = renamed.get(t) ?? t;
      const d = dequantized.get(r);
      return d && (d.all || quantizedOp) ? d.name : r;
    });
    if (quantizedOp) {
      const wName = node.inputs[1];
      const w = inits.get(wName)!;
      const transB = node.opType === 'Gemm' && node.attributes?.some((a) => a.name === 'transB' && a.type === 'int' && Number(a.value) !== 0);
      const axis = node.opType === 'Conv' || transB ? 0 : 1;
      const values = bytesOf(w);
      const { q, scales } = quantizeWeightPerChannel(values, w.dims, axis);
      const channels = w.dims[axis];
      newInits.push(
        rawTensor(`${wName}_quantized`, w.dims, OnnxDataType.INT8, new Uint8Array(q.buffer)),
        floatTensor(`${wName}_scale`, [channels], scales),
        rawTensor(`${wName}_zero_point`, [channels], OnnxDataType.INT8, new Uint8Array(channels)),
      );
      weightNodes.push({
        name: `${wName}_DequantizeLinear`, opType: 'DequantizeLinear', inputs: [`${wName}_quantized`, `${wName}_scale`, `${wName}_zero_point`],
        outputs: [`${wName}_dequantized`], attributes: [intAttr('axis', axis)],
      });
      replacedInits.add(wName);
      inputs[1] = `${wName}_dequantized`;
      let nonzero = 0;
      let nonzeroInt8 = 0;
      for (let i = 0; i < values.length; i++) {
        if (values[i] !== 0) nonzero++;
        if (q[i] !== 0) nonzeroInt8++;
      }
      weights.push({ name: wName, op: node.opType, elements: values.length, channels, nonzero, nonzeroInt8 });
      const bName = node.inputs[2];
      const b = bName ? inits.get(bName) : undefined;
      const xScale = [...dequantized.values()].find((d) => d.name === inputs[0])?.scale;
      if (b && xScale !== undefined && b.dims.length === 1 && b.dims[0] === channels) {
        const bias = bytesOf(b);
        const bScales = Float32Array.from(scales, (s) => Math.fround(xScale * s));
        const qb = Int32Array.from(bias, (v, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundEven(v / bScales[c]))));
        newInits.push(int32Tensor(`${bName}_quantized`, [channels], qb), floatTensor(`${bName}_scale`, [channels], bScales), int32Tensor(`${bName}_zero_point`, [channels], new Int32Array(channels)));
        weightNodes.push({
          name: `${bName}_DequantizeLinear`, opType: 'DequantizeLinear', inputs: [`${bName}_quantized`, `${bName}_scale`, `${bName}_zero_point`],
          outputs: [`${bName}_dequantized`], attributes: [intAttr('axis', 0)],
        });
        replacedInits.add(bName);
        inputs[2] = `${bName}_dequantized`;
      }
    }
    const table = inits.get(node.inputs[0]);
    const tableOp = (node.opType === 'Gather' || node.opType === 'Slice') && table?.dataType === OnnxDataType.FLOAT && table.dims.length === 2;
    if (tableOp && !qdqAfter.has(node.outputs[0])) {
      // an embedding table: per-tensor symmetric int8; the looked-up rows are re-quantized with the same constants, so
      // ORT drops the pair and gathers int8 rows (the Q after the lookup is exact: the rows are on the table's grid)
      const name = table!.name;
      if (!replacedInits.has(name)) {
        const values = bytesOf(table!);
        const { q, scales } = quantizeWeightPerChannel(values, [1, values.length], 0);
        // stored as uint8 with zero point 128 (the same symmetric grid: value = (u − 128) · scale, 0 ↔ 128): ORT rewrites
        // int8 QDQ pairs to uint8 ones, after which an int8 table's DQ no longer matched the lookup's Q and stayed fp32
        newInits.push(
          rawTensor(`${name}_quantized`, table!.dims, OnnxDataType.UINT8, Uint8Array.from(q, (v) => v + 128)),
          floatTensor(`${name}_scale`, [], scales),
          rawTensor(`${name}_zero_point`, [], OnnxDataType.UINT8, Uint8Array.of(128)),
        );
        weightNodes.push({ name: `${name}_DequantizeLinear`, opType: 'DequantizeLinear', inputs: [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`], outputs: [`${name}_dequantized`] });
        replacedInits.add(name);
        let nonzero = 0;
        let nonzeroInt8 = 0;
        for (let i = 0; i < values.length; i++) {
          if (values[i] !== 0) nonzero++;
          if (q[i] !== 0) nonzeroInt8++;
        }
        weights.push({ name, op: node.opType, elements: values.length, channels: 1, nonzero, nonzeroInt8 });
      }
      inputs[0] = `${name}_dequantized`;
      const out = node.outputs[0];
      nodes.push({ ...node, inputs });
      nodes.push(
        { name: `${out}_QuantizeLinear`, opType: 'QuantizeLinear', inputs: [out, `${name}_scale`, `${name}_zero_point`], outputs: [`${out}_quantized`] },
        { name: `${out}_DequantizeLinear`, opType: 'DequantizeLinear', inputs: [`${out}_quantized`, `${name}_scale`, `${name}_zero_point`], outputs: [`${out}_dequantized`] },
      );
      dequantized.set(out, { name: `${out}_dequantized`, all: true, scale: scalesOf(name, newInits) });
      return;
    }
    nodes.push({ ...node, inputs });
    for (const t of node.outputs) nodes.push(...(qdqAfter.get(t) ?? []));
  });
  const outputs = graph.outputs.map((o) => ({ ...o, name: renamed.get(o.name) ?? o.name }));
  if (outputs.some((o, i) => o.name !== graph.outputs[i].name)) throw new Error('quantizeOnnx: a graph output would be absorbed');
  const quantized: GraphProto = {
    ...graph,
    name: `${graph.name}-qdq`,
    nodes: [...weightNodes, ...nodes],
    initializers: [...graph.initializers.filter((t) => !replacedInits.has(t.name)), ...newInits],
    outputs,
  };
  return {
    model: { ...model, graph: quantized, docString: `${model.docString ?? ''} Post-training int8 QDQ (per-channel symmetric int8 weights, per-tensor uint8 activations).`.trim() },
    weights,
    activations,
    absorbedRelus: plan.absorbed.size,
  };
}

/**
 * Post-training int8 quantization of a float ONNX model (prunebench's exporters' output): calibrates the
 * activations on `feeds` (batches of the graph's inputs), then writes the QDQ model.
 */
export async function quantizeOnnx(floatBytes: Uint8Array, feeds: ReadonlyArray<Record<string, ort.Tensor>>, opts: QuantizeOnnxOptions = {}): Promise<QuantizedOnnx> {
  const model = decodeModel(floatBytes);
  const method = opts.calibration ?? 'minmax';
  const ranges = await calibrateActivations(model, qdqCalibrationTensors(model), feeds, opts);
  const built = buildQdqModel(model, ranges);
  const examples = feeds.reduce((n, f) => n + (Object.values(f)[0]?.dims[0] ?? 0), 0);
  return {
    ...built,
    bytes: encodeModel(built.model),
    calibration: { method, ...(method === 'percentile' ? { percentile: opts.percentile ?? 99.99 } : {}), examples },
  };
}

/**
 * The operators ONNX Runtime's cpu provider runs after its graph optimisations ('all'), counted by type:
 * the optimised model it writes (`optimizedModelFilePath`) read back. Shows whether the QDQ groups were fused
 * into integer kernels (QLinearConv, QGemm, MatMulIntegerToFloat, ...) or left as float ops between Q/DQ pairs.
 */
export async function ortOptimizedOperators(bytes: Uint8Array, threads = 2): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'prunebench-ort-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, optimizedModelFilePath: path,
    });
    await session.release();
    const counts: Record<string, number> = {};
    for (const node of decodeModel(new Uint8Array(readFileSync(path))).graph.nodes) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
    return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
