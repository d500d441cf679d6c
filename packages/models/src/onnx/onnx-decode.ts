/**
 * Reads back the subset of ONNX's protobuf schema that onnx-proto.ts writes (ModelProto → GraphProto → nodes,
 * attributes, raw_data initializers, value infos), so a graph the exporters wrote can be rewritten (QDQ
 * quantization, extra outputs for calibration) and encoded again. Fields outside that subset are skipped.
 */
import type { AttributeProto, GraphProto, ModelProto, NodeProto, OnnxDataTypeValue, OnnxDim, TensorProto, ValueInfoProto } from './onnx-proto.js';

class ProtoReader {
  pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly end = buf.length) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error('decodeModel: truncated varint');
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  }

  int(): number {
    return Number(BigInt.asIntN(64, this.varint()));
  }

  bytes(): Uint8Array {
    const length = Number(this.varint());
    if (this.pos + length > this.end) throw new Error('decodeModel: truncated field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  string(): string {
    return new TextDecoder().decode(this.bytes());
  }

  float32(): number {
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4);
    this.pos += 4;
    return view.getFloat32(0, true);
  }

  /** Reads one key; returns [field, wireType]. */
  key(): [number, number] {
    const k = Number(this.varint());
    return [k >>> 3, k & 7];
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`decodeModel: unsupported wire type ${wire}`);
  }
}

function messages(bytes: Uint8Array, visit: (field: number, wire: number, r: ProtoReader) => boolean): void {
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const [field, wire] = r.key();
    if (!visit(field, wire, r)) r.skip(wire);
  }
}

function packedInts(r: ProtoReader, wire: number, out: number[]): void {
  if (wire === 0) {
    out.push(r.int());
    return;
  }
  const inner = new ProtoReader(r.bytes());
  while (!inner.done) out.push(inner.int());
}

function decodeTensor(bytes: Uint8Array): TensorProto {
  const t: TensorProto = { name: '', dims: [], dataType: 1 as OnnxDataTypeValue, rawData: new Uint8Array(0) };
  messages(bytes, (field, wire, r) => {
    if (field === 1) packedInts(r, wire, t.dims);
    else if (field === 2) t.dataType = r.int() as OnnxDataTypeValue;
    else if (field === 8) t.name = r.string();
    else if (field === 9) t.rawData = r.bytes().slice();
    else return false;
    return true;
  });
  return t;
}

function decodeAttribute(bytes: Uint8Array): AttributeProto {
  let name = '';
  let type = 0;
  let f = 0;
  let i = 0;
  let s = '';
  let t: TensorProto | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  messages(bytes, (field, wire, r) => {
    if (field === 1) name = r.string();
    else if (field === 20) type = r.int();
    else if (field === 2) f = r.float32();
    else if (field === 3) i = r.int();
    else if (field === 4) s = r.string();
    else if (field === 5) t = decodeTensor(r.bytes());
    else if (field === 7) {
      if (wire === 5) floats.push(r.float32());
      else {
        const inner = new ProtoReader(r.bytes());
        while (!inner.done) floats.push(inner.float32());
      }
    } else if (field === 8) packedInts(r, wire, ints);
    else return false;
    return true;
  });
  switch (type) {
    case 1: return { name, type: 'float', value: f };
    case 2: return { name, type: 'int', value: i };
    case 3: return { name, type: 'string', value: s };
    case 4: return { name, type: 'tensor', value: t! };
    case 6: return { name, type: 'floats', value: floats };
    case 7: return { name, type: 'ints', value: ints };
    default: throw new Error(`decodeModel: attribute ${name} has unsupported type ${type}`);
  }
}

function decodeNode(bytes: Uint8Array): NodeProto {
  const n: NodeProto = { name: '', opType: '', inputs: [], outputs: [], attributes: [] };
  messages(bytes, (field, _wire, r) => {
    if (field === 1) n.inputs.push(r.string());
    else if (field === 2) n.outputs.push(r.string());
    else if (field === 3) n.name = r.string();
    else if (field === 4) n.opType = r.string();
    else if (field === 5) n.attributes!.push(decodeAttribute(r.bytes()));
    else return false;
    return true;
  });
  return n;
}

function decodeValueInfo(bytes: Uint8Array): ValueInfoProto {
  const v: ValueInfoProto = { name: '', elemType: 1 as OnnxDataTypeValue };
  messages(bytes, (field, _wire, r) => {
    if (field === 1) v.name = r.string();
    else if (field === 2) {
      messages(r.bytes(), (typeField, _w, tr) => {
        if (typeField !== 1) return false; // tensor_type
        messages(tr.bytes(), (tensorField, _w2, rr) => {
          if (tensorField === 1) v.elemType = rr.int() as OnnxDataTypeValue;
          else if (tensorField === 2) {
            v.shape = [];
            messages(rr.bytes(), (shapeField, _w3, sr) => {
              if (shapeField !== 1) return false;
              let dim: OnnxDim = '';
              messages(sr.bytes(), (dimField, _w4, dr) => {
                if (dimField === 1) dim = dr.int();
                else if (dimField === 2) dim = dr.string();
                else return false;
                return true;
              });
              v.shape!.push(dim);
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return v;
}

function decodeGraph(bytes: Uint8Array): GraphProto {
  const g: GraphProto = { name: '', nodes: [], initializers: [], inputs: [], outputs: [] };
  messages(bytes, (field, _wire, r) => {
    if (field === 1) g.nodes.push(decodeNode(r.bytes()));
    else if (field === 2) g.name = r.string();
    else if (field === 5) g.initializers.push(decodeTensor(r.bytes()));
    else if (field === 11) g.inputs.push(decodeValueInfo(r.bytes()));
    else if (field === 12) g.outputs.push(decodeValueInfo(r.bytes()));
    else return false;
    return true;
  });
  return g;
}

/** Decodes ONNX bytes written by prunebench's exporters (encodeModel) back into a ModelProto. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const m: ModelProto = { irVersion: 0, opsetVersion: 0, producerName: '', graph: { name: '', nodes: [], initializers: [], inputs: [], outputs: [] } };
  messages(bytes, (field, _wire, r) => {
    if (field === 1) m.irVersion = r.int();
    else if (field === 2) m.producerName = r.string();
    else if (field === 3) m.producerVersion = r.string();
    else if (field === 6) m.docString = r.string();
    else if (field === 7) m.graph = decodeGraph(r.bytes());
    else if (field === 8) {
      let domain = '';
      let version = 0;
      messages(r.bytes(), (f, _w, rr) => {
        if (f === 1) domain = rr.string();
        else if (f === 2) version = rr.int();
        else return false;
        return true;
      });
      if (domain === '' || domain === 'ai.onnx') m.opsetVersion = version;
    } else return false;
    return true;
  });
  return m;
}
