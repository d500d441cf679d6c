/**
 * The subset of ONNX's protobuf schema prunebench writes, as plain objects plus encoders.
 * Field numbers are those of onnx/onnx.proto (proto2, package `onnx`).
 */
import { ProtoWriter, type ProtoInt } from './protobuf.js';

/** TensorProto.DataType values used here. */
export const OnnxDataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type OnnxDataTypeValue = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** AttributeProto.AttributeType values. */
export const OnnxAttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: OnnxDataTypeValue;
  /** Fixed-width little-endian element bytes (ONNX `raw_data`). */
  rawData: Uint8Array;
}

export type AttributeProto =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: ProtoInt }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'tensor'; value: TensorProto }
  | { name: string; type: 'floats'; value: number[] }
  | { name: string; type: 'ints'; value: ProtoInt[] };

export interface NodeProto {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes?: AttributeProto[];
}

/** A dimension: a fixed size or a symbolic name (dim_param) such as `N` for a dynamic batch. */
export type OnnxDim = number | string;

export interface ValueInfoProto {
  name: string;
  elemType: OnnxDataTypeValue;
  /** Absent: shape unknown (no shape field is written; e.g. intermediate outputs added for calibration). */
  shape?: OnnxDim[];
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  /** Default-domain (ai.onnx) opset version. */
  opsetVersion: number;
  producerName: string;
  producerVersion?: string;
  docString?: string;
  graph: GraphProto;
}

export function encodeTensor(t: TensorProto): Uint8Array {
  const w = new ProtoWriter();
  w.packedVarints(1, t.dims); // dims
  w.varint(2, t.dataType); // data_type
  w.string(8, t.name); // name
  w.bytes(9, t.rawData); // raw_data
  return w.finish();
}

export function encodeAttribute(a: AttributeProto): Uint8Array {
  const w = new ProtoWriter();
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.varint(20, OnnxAttributeType.FLOAT).float32(2, a.value);
      break;
    case 'int':
      w.varint(20, OnnxAttributeType.INT).varint(3, a.value);
      break;
    case 'string':
      w.varint(20, OnnxAttributeType.STRING).string(4, a.value);
      break;
    case 'tensor':
      w.varint(20, OnnxAttributeType.TENSOR).message(5, encodeTensor(a.value));
      break;
    case 'floats':
      w.varint(20, OnnxAttributeType.FLOATS).packedFloat32(7, a.value);
      break;
    case 'ints':
      w.varint(20, OnnxAttributeType.INTS).packedVarints(8, a.value);
      break;
  }
  return w.finish();
}

export function encodeNode(n: NodeProto): Uint8Array {
  const w = new ProtoWriter();
  for (const input of n.inputs) w.string(1, input);
  for (const output of n.outputs) w.string(2, output);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, encodeAttribute(a));
  return w.finish();
}

export function encodeValueInfo(v: ValueInfoProto): Uint8Array {
  const shape = new ProtoWriter();
  for (const d of v.shape ?? []) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.varint(1, d); // dim_value
    else dim.string(2, d); // dim_param
    shape.message(1, dim.finish());
  }
  const tensorType = new ProtoWriter().varint(1, v.elemType);
  if (v.shape) tensorType.message(2, shape.finish());
  const type = new ProtoWriter().message(1, tensorType.finish()); // TypeProto.tensor_type
  return new ProtoWriter().string(1, v.name).message(2, type.finish()).finish();
}

export function encodeGraph(g: GraphProto): Uint8Array {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const v of g.inputs) w.message(11, encodeValueInfo(v));
  for (const v of g.outputs) w.message(12, encodeValueInfo(v));
  return w.finish();
}

export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, m.irVersion);
  w.string(2, m.producerName);
  if (m.producerVersion !== undefined) w.string(3, m.producerVersion);
  if (m.docString !== undefined) w.string(6, m.docString);
  w.message(7, encodeGraph(m.graph));
  // OperatorSetIdProto: domain "" (ai.onnx) is the default, so only the version is written.
  w.message(8, new ProtoWriter().varint(2, m.opsetVersion).finish());
  return w.finish();
}

/** The IR version matching an ai.onnx opset (onnx/docs/Versioning.md), so older runtimes accept the file. */
export function irVersionForOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < 13) throw new Error(`opset must be an integer >= 13, got ${opset}`);
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

/** float32 values as a raw_data tensor (little-endian, as ONNX requires). */
export function floatTensor(name: string, dims: number[], values: Float32Array): TensorProto {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw new Error(`tensor ${name}: ${values.length} values do not fill shape [${dims.join(', ')}]`);
  }
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return { name, dims, dataType: OnnxDataType.FLOAT, rawData: raw };
}

/** int64 values as a raw_data tensor (little-endian two's complement). */
export function int64Tensor(name: string, dims: number[], values: ReadonlyArray<ProtoInt>): TensorProto {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw new Error(`tensor ${name}: ${values.length} values do not fill shape [${dims.join(', ')}]`);
  }
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims, dataType: OnnxDataType.INT64, rawData: raw };
}
