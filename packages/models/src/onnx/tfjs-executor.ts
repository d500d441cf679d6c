/**
 * Runs a ModelProto of prunebench's exporters (and its QDQ rewrite) in tfjs, node by node: the float graph
 * reproduces the model's own forward, and the QDQ graph is the fake-quantized tfjs model — the same int8 weights,
 * scales and zero points, each QuantizeLinear / DequantizeLinear done in float32 tfjs ops
 * (round half to even, saturate, subtract the zero point, multiply by the scale). A reference for tests of what
 * ONNX Runtime's integer kernels compute; not fast.
 *
 * Supported operators: those the exporters write (Conv, Gemm, MatMul, Add, Sub, Mul, Relu, Erf, Tanh, Softmax,
 * LayerNormalization, BatchNormalization, GlobalAveragePool, Flatten, Reshape, Transpose, Unsqueeze, Slice, Pad,
 * Gather, Shape, Cast, Identity) plus QuantizeLinear and DequantizeLinear.
 */
import * as tf from '@tensorflow/tfjs';
import { OnnxDataType, type AttributeProto, type ModelProto, type NodeProto, type TensorProto } from './onnx-proto.js';

const INT32_MAX = 2 ** 31 - 1;

/** A value in the executor: a tensor, and for integer tensors their element type (for QuantizeLinear's range). */
export interface Value {
  t: tf.Tensor;
  /** ONNX element type of quantized / integer tensors (UINT8, INT8, INT32, INT64); float tensors: FLOAT. */
  type: number;
}

function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attributes?.find((a) => a.name === name);
}

export function intAttrOf(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a && a.type === 'int' ? Number(a.value) : fallback;
}

export function intsAttrOf(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a && a.type === 'ints' ? a.value.map(Number) : undefined;
}

export function floatAttrOf(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a && a.type === 'float' ? a.value : fallback;
}

export function initializerValue(t: TensorProto): Value {
  const raw = t.rawData;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = t.dims.reduce((a, b) => a * b, 1);
  switch (t.dataType) {
    case OnnxDataType.FLOAT:
      return { t: tf.tensor(Float32Array.from({ length: n }, (_, i) => view.getFloat32(i * 4, true)), t.dims, 'float32'), type: t.dataType };
    case OnnxDataType.INT64:
      return {
        t: tf.tensor(Int32Array.from({ length: n }, (_, i) => {
          const v = view.getBigInt64(i * 8, true);
          return v > BigInt(INT32_MAX) ? INT32_MAX : v < -BigInt(INT32_MAX) ? -INT32_MAX : Number(v);
        }), t.dims, 'int32'),
        type: t.dataType,
      };
    case OnnxDataType.INT32:
      return { t: tf.tensor(Int32Array.from({ length: n }, (_, i) => view.getInt32(i * 4, true)), t.dims, 'int32'), type: t.dataType };
    case OnnxDataType.INT8:
      return { t: tf.tensor(Int32Array.from({ length: n }, (_, i) => view.getInt8(i)), t.dims, 'int32'), type: t.dataType };
    case OnnxDataType.UINT8:
      return { t: tf.tensor(Int32Array.from({ length: n }, (_, i) => view.getUint8(i)), t.dims, 'int32'), type: t.dataType };
    default:
      throw new Error(`runOnnxInTfjs: initializer ${t.name} has unsupported data type ${t.dataType}`);
  }
}

/** Reshapes a per-axis parameter (scale, zero point) of length C to broadcast along `axis` of a rank-`rank` tensor. */
function alongAxis(p: tf.Tensor, axis: number, rank: number): tf.Tensor {
  if (p.rank === 0) return p;
  const shape = Array.from({ length: rank }, (_, i) => (i === axis ? p.size : 1));
  return p.reshape(shape);
}

function quantRange(type: number): [number, number] {
  if (type === OnnxDataType.UINT8) return [0, 255];
  if (type === OnnxDataType.INT8) return [-128, 127];
  throw new Error(`runOnnxInTfjs: QuantizeLinear to type ${type} is not supported`);
}

/** One node's output from its inputs' values (`undefined` for an omitted optional input). */
export function runNode(node: NodeProto, inputs: Array<Value | undefined>): Value {
  const x = (i: number) => {
    const v = inputs[i];
    if (!v) throw new Error(`runOnnxInTfjs: ${node.opType} ${node.name} is missing input ${i}`);
    return v.t;
  };
  const float = (t: tf.Tensor): Value => ({ t, type: OnnxDataType.FLOAT });
  const ints = (i: number) => Array.from(x(i).dataSync());
  switch (node.opType) {
    case 'Identity':
      return inputs[0]!;
    case 'Relu':
      return float(tf.relu(x(0)));
    case 'Erf':
      return float(tf.erf(x(0)));
    case 'Tanh':
      return float(tf.tanh(x(0)));
    case 'Add':
      return float(tf.add(x(0), x(1)));
    case 'Sub':
      return float(tf.sub(x(0), x(1)));
    case 'Mul':
      return float(tf.mul(x(0), x(1)));
    case 'Cast':
      if (intAttrOf(node, 'to', 0) !== OnnxDataType.FLOAT) throw new Error('runOnnxInTfjs: Cast only to float');
      return float(tf.cast(x(0), 'float32'));
    case 'Softmax': {
      const axis = intAttrOf(node, 'axis', -1);
      if (axis !== -1 && axis !== x(0).rank - 1) throw new Error('runOnnxInTfjs: Softmax only over the last axis');
      return float(tf.softmax(x(0)));
    }
    case 'Conv': {
      const [kh, kw] = intsAttrOf(node, 'kernel_shape') ?? [x(1).shape[2], x(1).shape[3]];
      const [pt, pl, pb, pr] = intsAttrOf(node, 'pads') ?? [0, 0, 0, 0];
      const [sh, sw] = intsAttrOf(node, 'strides') ?? [1, 1];
      if ((intAttrOf(node, 'group', 1)) !== 1) throw new Error('runOnnxInTfjs: grouped Conv is not supported');
      const nhwc = tf.transpose(x(0), [0, 2, 3, 1]) as tf.Tensor4D;
      const hwio = tf.transpose(x(1), [2, 3, 1, 0]) as tf.Tensor4D;
      if (hwio.shape[0] !== kh || hwio.shape[1] !== kw) throw new Error('runOnnxInTfjs: kernel_shape does not match the weight');
      let y: tf.Tensor = tf.conv2d(nhwc, hwio, [sh, sw], [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
      if (inputs[2]) y = tf.add(y, x(2));
      return float(tf.transpose(y, [0, 3, 1, 2]));
    }
    case 'BatchNormalization': {
      const eps = floatAttrOf(node, 'epsilon', 1e-5);
      const c = (i: number) => alongAxis(x(i), 1, x(0).rank);
      return float(tf.add(tf.mul(tf.div(tf.sub(x(0), c(3)), tf.sqrt(tf.add(c(4), eps))), c(1)), c(2)));
    }
    case 'Gemm': {
      const transA = intAttrOf(node, 'transA', 0) !== 0;
      const transB = intAttrOf(node, 'transB', 0) !== 0;
      const alpha = floatAttrOf(node, 'alpha', 1);
      const beta = floatAttrOf(node, 'beta', 1);
      let y: tf.Tensor = tf.mul(tf.matMul(x(0), x(1), transA, transB), alpha);
      if (inputs[2]) y = tf.add(y, tf.mul(x(2), beta));
      return float(y);
    }
    case 'MatMul': {
      const a = x(0);
      const b = x(1);
      if (b.rank === 2 && a.rank > 2) {
        const lead = a.shape.slice(0, -1) as number[];
        const y = tf.matMul(a.reshape([-1, a.shape[a.rank - 1]]) as tf.Tensor2D, b as tf.Tensor2D);
        return float(y.reshape([...lead, b.shape[1] as number]));
      }
      return float(tf.matMul(a, b));
    }
    case 'LayerNormalization': {
      const axis = intAttrOf(node, 'axis', -1);
      if (axis !== -1 && axis !== x(0).rank - 1) throw new Error('runOnnxInTfjs: LayerNormalization only over the last axis');
      const eps = floatAttrOf(node, 'epsilon', 1e-5);
      const { mean, variance } = tf.moments(x(0), -1, true);
      const normed = tf.div(tf.sub(x(0), mean), tf.sqrt(tf.add(variance, eps)));
      return float(tf.add(tf.mul(normed, x(1)), x(2)));
    }
    case 'GlobalAveragePool':
      return float(tf.mean(x(0), [2, 3], true));
    case 'Flatten': {
      const axis = intAttrOf(node, 'axis', 1);
      const shape = x(0).shape;
      return float(x(0).reshape([shape.slice(0, axis).reduce((p, d) => p * d, 1), -1]));
    }
    case 'Reshape': {
      const target = ints(1);
      const shape = target.map((d, i) => (d === 0 ? x(0).shape[i] : d));
      return { t: x(0).reshape(shape), type: inputs[0]!.type };
    }
    case 'Transpose':
      return { t: tf.transpose(x(0), intsAttrOf(node, 'perm')), type: inputs[0]!.type };
    case 'Unsqueeze': {
      let t = x(0);
      for (const axis of [...ints(1)].sort((p, q) => p - q)) t = tf.expandDims(t, axis < 0 ? t.rank + 1 + axis : axis);
      return { t, type: inputs[0]!.type };
    }
    case 'Shape': {
      const shape = x(0).shape;
      const start = intAttrOf(node, 'start', 0);
      const end = intAttrOf(node, 'end', shape.length);
      return { t: tf.tensor1d(shape.slice(start, end), 'int32'), type: OnnxDataType.INT64 };
    }
    case 'Slice': {
      const data = x(0);
      const starts = ints(1);
      const ends = ints(2);
      const axes = inputs[3] ? ints(3) : starts.map((_, i) => i);
      const steps = inputs[4] ? ints(4) : starts.map(() => 1);
      const begin = data.shape.map(() => 0);
      const end = [...data.shape];
      const strides = data.shape.map(() => 1);
      axes.forEach((a, i) => {
        const axis = a < 0 ? a + data.rank : a;
        const dim = data.shape[axis];
        const clamp = (v: number) => Math.max(0, Math.min(dim, v < 0 ? v + dim : v));
        if (steps[i] <= 0) throw new Error('runOnnxInTfjs: Slice with non-positive steps is not supported');
        begin[axis] = clamp(starts[i]);
        end[axis] = clamp(ends[i]);
        strides[axis] = steps[i];
      });
      return { t: tf.stridedSlice(data, begin, end, strides), type: inputs[0]!.type };
    }
    case 'Pad': {
      const pads = ints(1);
      const rank = x(0).rank;
      if (inputs[2] || (attr(node, 'mode') && (attr(node, 'mode') as { value: string }).value !== 'constant')) {
        throw new Error('runOnnxInTfjs: only zero constant Pad is supported');
      }
      return { t: tf.pad(x(0), Array.from({ length: rank }, (_, i) => [pads[i], pads[i + rank]] as [number, number])), type: inputs[0]!.type };
    }
    case 'Gather': {
      const axis = intAttrOf(node, 'axis', 0);
      return { t: tf.gather(x(0), tf.cast(x(1), 'int32'), axis), type: inputs[0]!.type };
    }
    case 'QuantizeLinear': {
      const axis = intAttrOf(node, 'axis', 1);
      const type = inputs[2]?.type ?? OnnxDataType.UINT8;
      const [lo, hi] = quantRange(type);
      const scale = alongAxis(x(1), axis, x(0).rank);
      const zp = inputs[2] ? alongAxis(tf.cast(x(2), 'float32'), axis, x(0).rank) : tf.scalar(0);
      return { t: tf.cast(tf.clipByValue(tf.add(tf.round(tf.div(x(0), scale)), zp), lo, hi), 'int32'), type };
    }
    case 'DequantizeLinear': {
      const axis = intAttrOf(node, 'axis', 1);
      const scale = alongAxis(x(1), axis, x(0).rank);
      const zp = inputs[2] ? alongAxis(tf.cast(x(2), 'float32'), axis, x(0).rank) : tf.scalar(0);
      return float(tf.mul(tf.sub(tf.cast(x(0), 'float32'), zp), scale));
    }
    default:
      throw new Error(`runOnnxInTfjs: operator ${node.opType} is not supported`);
  }
}

/**
 * Evaluates `model` on `feeds` (float32 for float inputs, int32 for int64 token inputs) and returns its graph
 * outputs by name. Every intermediate tensor is disposed; the caller owns the outputs.
 */
export function runOnnxInTfjs(model: ModelProto, feeds: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const graph = model.graph;
  return tf.tidy(() => {
    const values = new Map<string, Value>();
    for (const init of graph.initializers) values.set(init.name, initializerValue(init));
    for (const input of graph.inputs) {
      const feed = feeds[input.name];
      if (!feed) throw new Error(`runOnnxInTfjs: no feed for input ${input.name}`);
      values.set(input.name, { t: feed, type: input.elemType });
    }
    for (const node of graph.nodes) {
      const out = runNode(node, node.inputs.map((name) => (name === '' ? undefined : values.get(name))));
      values.set(node.outputs[0], out);
    }
    const outputs: Record<string, tf.Tensor> = {};
    for (const o of graph.outputs) {
      const v = values.get(o.name);
      if (!v) throw new Error(`runOnnxInTfjs: graph output ${o.name} was not computed`);
      outputs[o.name] = v.t;
    }
    return outputs;
  });
}
