/**
 * The integer reference of a QDQ graph: what ONNX Runtime's cpu provider computes once its graph optimiser has
 * fused the QDQ groups into integer kernels, in the same arithmetic, so that its outputs can be compared with ORT's
 * exactly (docs/metrics.md, *Quantization*). `runOnnxInTfjs` on the same graph is the float fake-quantized model
 * (dequantize, float conv, round once); this differs from it where ORT does:
 *
 * - **QLinearConv** (DQ(x), DQ(w), DQ(b) → Conv → Q): acc = Σ (x − x_zp) · w + b exactly in integers (padding is
 *   x_zp, so it adds 0), the bias the int32 tensor itself; then y = sat(roundEven(f32(f32(acc) · m)) + y_zp) with the
 *   float32 multiplier m = f32(f32(x_scale · w_scale[c]) / y_scale) (QLinearConv::ComputeOutputScale; MLAS's
 *   requantization multiplies, clamps to the output range and converts with cvtps2dq, round half to even).
 * - **QLinearAdd** (DQ(a), DQ(b) → Add → Q): MLAS's AVX2 kernel in float32: ratios r_a = f32(a_scale / c_scale),
 *   r_b = f32(b_scale / c_scale), fixed part f = f32(c_zp − f32(f32(r_a · a_zp) + f32(r_b · b_zp))), then
 *   c = sat(roundEven(fma(a, r_a, fma(b, r_b, f)))) with fused multiply-adds (one rounding each).
 * - **QGemm** with a float output (DQ(x), DQ(w), DQ(b) → Gemm, no Q after): y = f32(f32(acc) · f32(x_scale · w_scale[c])).
 * - **MatMulIntegerToFloat** (DQ(x), DQ(w) → MatMul, data input of rank > 2): y = f32(f32(acc) · f32(x_scale ·
 *   w_scale[c])); a bias Add after it stays a separate float Add. A 2-D MatMul followed by a bias Add is fused by ORT
 *   into a float Gemm first and so runs in float on the dequantized operands, as in `runOnnxInTfjs`.
 *
 * Every other node (QuantizeLinear: divide, round half to even, saturate; DequantizeLinear; the float operators) runs
 * as in `runOnnxInTfjs`. What is left that this reference does not reproduce bit for bit is ORT's own float kernels
 * between the integer ones (the summation order of GlobalAveragePool; BERT's LayerNormalization, Erf, Softmax and
 * attention MatMuls, which MLAS computes with its own vectorised approximations), so a value that lands within a
 * float rounding of a quantization boundary there may round the other way.
 *
 * Integers are accumulated in float64 (exact below 2^53; int32 accumulators overflow far later than any real
 * activation reaches). MLAS's AVX2 u8 × s8 kernels without VNNI (vpmaddubsw) can saturate 16-bit pair sums with
 * full-range int8 weights; this reference models the AVX-512 VNNI / AVX-VNNI kernels (vpdpbusd, exact int32 sums).
 */
import * as tf from '@tensorflow/tfjs';
import { OnnxDataType, type ModelProto, type NodeProto } from './onnx-proto.js';
import { roundEven } from './qdq.js';
import { floatAttrOf, initializerValue, intAttrOf, intsAttrOf, runNode, type Value } from './tfjs-executor.js';

const f32 = Math.fround;

/** A DequantizeLinear feeding a fused kernel: the names of its quantized input, scale and zero point. */
interface DqInput {
  q: string;
  scale: string;
  zeroPoint?: string;
}

/** The QuantizeLinear a fused kernel writes: its scale and zero point. */
type QOutput = Omit<DqInput, 'q'>;

type Fused =
  | { kind: 'conv'; op: NodeProto; x: DqInput; w: DqInput; b?: DqInput; y: QOutput }
  | { kind: 'add'; a: DqInput; b: DqInput; y: QOutput }
  | { kind: 'gemm' | 'matmul'; op: NodeProto; x: DqInput; w: DqInput; b?: DqInput; biasAdd?: boolean };

/** float32 a · b + c with one rounding (the FMA the AVX2 kernels use): exact product and sum, rounded once. */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b; // float32 × float32 is exact in float64
  const s = p + c;
  const bp = s - p;
  const err = (p - (s - bp)) + (c - bp); // s + err = p + c exactly (TwoSum)
  const r = f32(s);
  if (err === 0 || r === s || r === 0) return r;
  // s rounded to a float32 correctly unless it sits exactly halfway between two float32 values: then err decides
  const bits = new Float32Array(1);
  const ints = new Int32Array(bits.buffer);
  bits[0] = r;
  ints[0] += (s > r) === (r > 0) ? 1 : -1; // the float32 neighbour of r on s's side
  const other = bits[0];
  if (s !== (r + other) / 2) return r;
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
}

/** Finds the QDQ groups ONNX Runtime fuses, keyed by the node whose output the fused kernel produces. */
function planFusion(model: ModelProto): { fused: Map<number, Fused>; inner: Set<number> } {
  const nodes = model.graph.nodes;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((t) => producer.set(t, i)));
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => n.inputs.forEach((t) => consumers.set(t, [...(consumers.get(t) ?? []), i])));
  const outputs = new Set(model.graph.outputs.map((o) => o.name));
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const dq = (t: string | undefined): DqInput | undefined => {
    if (!t) return undefined;
    const p = producer.get(t);
    const n = p === undefined ? undefined : nodes[p];
    return n?.opType === 'DequantizeLinear' ? { q: n.inputs[0], scale: n.inputs[1], zeroPoint: n.inputs[2] || undefined } : undefined;
  };
  const onlyConsumer = (t: string, i: number) => !outputs.has(t) && (consumers.get(t) ?? []).length === 1 && consumers.get(t)![0] === i;
  const fused = new Map<number, Fused>();
  const inner = new Set<number>();
  nodes.forEach((node, i) => {
    if (node.opType === 'QuantizeLinear') {
      const p = producer.get(node.inputs[0]);
      if (p === undefined || !onlyConsumer(node.inputs[0], i)) return;
      const op = nodes[p];
      const y: QOutput = { scale: node.inputs[1], zeroPoint: node.inputs[2] || undefined };
      if (op.opType === 'Conv') {
        const [x, w, b] = [dq(op.inputs[0]), dq(op.inputs[1]), dq(op.inputs[2])];
        if (x && w && (!op.inputs[2] || b)) {
          fused.set(i, { kind: 'conv', op, x, w, b, y });
          inner.add(p);
        }
      } else if (op.opType === 'Add') {
        const [a, b] = [dq(op.inputs[0]), dq(op.inputs[1])];
        if (a && b) {
          fused.set(i, { kind: 'add', a, b, y });
          inner.add(p);
        }
      }
    } else if (node.opType === 'Gemm' || node.opType === 'MatMul') {
      const consumersOf = consumers.get(node.outputs[0]) ?? [];
      if (consumersOf.some((c) => nodes[c].opType === 'QuantizeLinear')) return; // a QGemm with a quantized output: not written by quantizeOnnx
      const [x, w, b] = [dq(node.inputs[0]), dq(node.inputs[1]), dq(node.inputs[2])];
      // a MatMul followed by an Add of a constant (its bias): ORT fuses a 2-D one into a float Gemm (below)
      const biasAdd = consumersOf.length === 1 && nodes[consumersOf[0]].opType === 'Add' && nodes[consumersOf[0]].inputs.some((t) => initializers.has(t));
      if (x && w && (node.opType === 'MatMul' || !node.inputs[2] || b)) fused.set(i, { kind: node.opType === 'Gemm' ? 'gemm' : 'matmul', op: node, x, w, b, biasAdd });
    }
  });
  return { fused, inner };
}

/** The integer values and element type of a quantized tensor, and its scale(s) and zero point. */
interface Quantized {
  values: Int32Array;
  shape: number[];
  scales: Float32Array;
  zeroPoint: number;
}

function quantized(input: DqInput, get: (name: string) => Value): Quantized {
  const v = get(input.q);
  const zp = input.zeroPoint ? (get(input.zeroPoint).t.dataSync() as Int32Array) : new Int32Array(1);
  if (zp.some((z) => z !== zp[0])) throw new Error(`qdqReference: ${input.q} has per-channel zero points (ORT's kernels take one)`);
  return { values: v.t.dataSync() as Int32Array, shape: v.t.shape, scales: get(input.scale).t.dataSync() as Float32Array, zeroPoint: zp[0] };
}

function outputRange(input: QOutput, get: (name: string) => Value): { type: number; lo: number; hi: number } {
  const type = input.zeroPoint ? get(input.zeroPoint).type : OnnxDataType.UINT8;
  if (type === OnnxDataType.UINT8) return { type, lo: 0, hi: 255 };
  if (type === OnnxDataType.INT8) return { type, lo: -128, hi: 127 };
  throw new Error(`qdqReference: quantized output of type ${type} is not supported`);
}

function qlinearConv(f: Extract<Fused, { kind: 'conv' }>, get: (name: string) => Value): Value {
  const x = quantized(f.x, get);
  const w = quantized(f.w, get);
  const bias = f.b ? (get(f.b.q).t.dataSync() as Int32Array) : undefined;
  const yScale = get(f.y.scale).t.dataSync()[0];
  const yZero = f.y.zeroPoint ? get(f.y.zeroPoint).t.dataSync()[0] : 0;
  const { type, lo, hi } = outputRange(f.y, get);
  if (w.zeroPoint !== 0) throw new Error('qdqReference: Conv weights with a nonzero zero point are not supported');
  if (intAttrOf(f.op, 'group', 1) !== 1) throw new Error('qdqReference: grouped Conv is not supported');
  if ((intsAttrOf(f.op, 'dilations') ?? [1, 1]).some((d) => d !== 1)) throw new Error('qdqReference: dilated Conv is not supported');
  const [n, c, h, wd] = x.shape;
  const [m, wc, kh, kw] = w.shape;
  if (wc !== c) throw new Error(`qdqReference: Conv ${f.op.name} has ${c} input channels, its weight ${wc}`);
  const [pt, pl, pb, pr] = intsAttrOf(f.op, 'pads') ?? [0, 0, 0, 0];
  const [sh, sw] = intsAttrOf(f.op, 'strides') ?? [1, 1];
  const oh = Math.floor((h + pt + pb - kh) / sh) + 1;
  const ow = Math.floor((wd + pl + pr - kw) / sw) + 1;
  const xs = Float64Array.from(x.values, (v) => v - x.zeroPoint); // padding is x's zero point: 0 here
  const out = new Int32Array(n * m * oh * ow);
  const acc = new Float64Array(oh * ow);
  const scales = Float32Array.from({ length: m }, (_, k) => f32(f32(x.scales[0] * w.scales[w.scales.length === 1 ? 0 : k]) / yScale));
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < m; k++) {
      acc.fill(bias ? bias[k] : 0);
      for (let ci = 0; ci < c; ci++) {
        const xBase = (b * c + ci) * h * wd;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const wv = w.values[((k * c + ci) * kh + i) * kw + j];
            if (wv === 0) continue;
            // the output columns whose input column xo·sw − pl + j lies inside the image (outside: padding, adds 0)
            const xoFrom = Math.max(0, Math.ceil((pl - j) / sw));
            const xoTo = Math.min(ow, Math.floor((wd - 1 + pl - j) / sw) + 1);
            for (let y = 0; y < oh; y++) {
              const iy = y * sh - pt + i;
              if (iy < 0 || iy >= h) continue;
              const row = xBase + iy * wd - pl + j;
              const accRow = y * ow;
              for (let xo = xoFrom; xo < xoTo; xo++) acc[accRow + xo] += wv * xs[row + xo * sw];
            }
          }
        }
      }
      const base = (b * m + k) * oh * ow;
      for (let p = 0; p < oh * ow; p++) out[base + p] = Math.min(hi, Math.max(lo, roundEven(f32(f32(acc[p]) * scales[k])) + yZero));
    }
  }
  return { t: tf.tensor(out, [n, m, oh, ow], 'int32'), type };
}

function qlinearAdd(f: Extract<Fused, { kind: 'add' }>, get: (name: string) => Value): Value {
  const a = quantized(f.a, get);
  const b = quantized(f.b, get);
  if (a.values.length !== b.values.length) throw new Error('qdqReference: a broadcasting QLinearAdd is not supported');
  const cScale = get(f.y.scale).t.dataSync()[0];
  const cZero = f.y.zeroPoint ? get(f.y.zeroPoint).t.dataSync()[0] : 0;
  const { type, lo, hi } = outputRange(f.y, get);
  const ra = f32(a.scales[0] / cScale);
  const rb = f32(b.scales[0] / cScale);
  const fixed = f32(cZero - f32(f32(ra * a.zeroPoint) + f32(rb * b.zeroPoint)));
  const out = Int32Array.from(a.values, (av, i) => Math.min(hi, Math.max(lo, roundEven(fmaF32(av, ra, fmaF32(b.values[i], rb, fixed))))));
  return { t: tf.tensor(out, a.shape, 'int32'), type };
}

/** QGemm with a float output (`gemm`) and MatMulIntegerToFloat (`matmul`): int32 accumulation, one float scale. */
function integerMatMul(f: Extract<Fused, { kind: 'gemm' | 'matmul' }>, get: (name: string) => Value): Value {
  const x = quantized(f.x, get);
  const w = quantized(f.w, get);
  if (w.zeroPoint !== 0) throw new Error(`qdqReference: ${f.op.opType} weights with a nonzero zero point are not supported`);
  const transB = f.kind === 'gemm' && intAttrOf(f.op, 'transB', 0) !== 0;
  if (f.kind === 'gemm' && (intAttrOf(f.op, 'transA', 0) !== 0 || floatAttrOf(f.op, 'alpha', 1) !== 1 || floatAttrOf(f.op, 'beta', 1) !== 1)) {
    throw new Error(`qdqReference: Gemm ${f.op.name} with transA, alpha or beta is not supported`);
  }
  if (w.shape.length !== 2) throw new Error(`qdqReference: ${f.op.opType} ${f.op.name} needs a 2-D weight`);
  const [kDim, nDim] = transB ? [w.shape[1], w.shape[0]] : w.shape;
  const rows = x.values.length / kDim;
  const bias = f.b ? (get(f.b.q).t.dataSync() as Int32Array) : undefined;
  const scales = Float32Array.from({ length: nDim }, (_, c) => f32(x.scales[0] * w.scales[w.scales.length === 1 ? 0 : c]));
  const out = new Float32Array(rows * nDim);
  const xs = Float64Array.from(x.values, (v) => v - x.zeroPoint);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < nDim; c++) {
      let acc = bias ? bias[c] : 0;
      for (let k = 0; k < kDim; k++) acc += xs[r * kDim + k] * w.values[transB ? c * kDim + k : k * nDim + c];
      out[r * nDim + c] = f32(f32(acc) * scales[c]);
    }
  }
  return { t: tf.tensor(out, [...x.shape.slice(0, -1), nDim], 'float32'), type: OnnxDataType.FLOAT };
}

/**
 * Evaluates a QDQ model (quantizeOnnx's output) as ONNX Runtime's integer kernels do (see the module comment), on
 * `feeds` as `runOnnxInTfjs` takes them, and returns its graph outputs by name (the caller owns them).
 */
export function runQdqReference(model: ModelProto, feeds: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const graph = model.graph;
  const { fused, inner } = planFusion(model);
  return tf.tidy(() => {
    const values = new Map<string, Value>();
    for (const init of graph.initializers) values.set(init.name, initializerValue(init));
    for (const input of graph.inputs) {
      const feed = feeds[input.name];
      if (!feed) throw new Error(`qdqReference: no feed for input ${input.name}`);
      values.set(input.name, { t: feed, type: input.elemType });
    }
    const get = (name: string): Value => {
      const v = values.get(name);
      if (!v) throw new Error(`qdqReference: tensor ${name} was not computed`);
      return v;
    };
    graph.nodes.forEach((node, i) => {
      if (inner.has(i)) return; // computed by its fused kernel
      const f = fused.get(i);
      // ORT first fuses a 2-D MatMul and its bias Add into a Gemm with a float bias, which no integer kernel takes:
      // it runs in float on the dequantized operands (BERT's pooler and classifier)
      const asFloat = f?.kind === 'matmul' && f.biasAdd === true && get(f.x.q).t.rank === 2;
      const out = !f || asFloat ? runNode(node, node.inputs.map((name) => (name === '' ? undefined : values.get(name))))
        : f.kind === 'conv' ? qlinearConv(f, get)
          : f.kind === 'add' ? qlinearAdd(f, get)
            : integerMatMul(f, get);
      values.set(node.outputs[0], out);
    });
    const outputs: Record<string, tf.Tensor> = {};
    for (const o of graph.outputs) outputs[o.name] = get(o.name).t;
    return outputs;
  });
}
