/**
 * The bytes of a tiny ONNX model, written by hand: the probe model of `probeExecutionProvider` and the latency
 * tests' fixture, independent of the models package. Graph: x [N, 3, 8, 8] → Conv(W [4, 3, 3, 3], no padding) → Relu → y [N, 4, 6, 6].
 * Minimal protobuf writer: varints, length-delimited fields; field numbers from onnx.proto.
 */
type Field = Uint8Array;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

const concat = (parts: Field[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};
const intField = (field: number, value: number): Field => Uint8Array.from([...varint(field << 3), ...varint(value)]);
const bytesField = (field: number, bytes: Uint8Array): Field => concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(bytes.length)]), bytes]);
const stringField = (field: number, text: string): Field => bytesField(field, new TextEncoder().encode(text));
const message = (field: number, parts: Field[]): Field => bytesField(field, concat(parts));

const FLOAT = 1;

function valueInfo(field: number, name: string, dims: Array<number | string>): Field {
  const dimensions = dims.map((d) => message(1, [typeof d === 'number' ? intField(1, d) : stringField(2, d)]));
  const tensorType = message(1, [intField(1, FLOAT), message(2, dimensions)]);
  return message(field, [stringField(1, name), message(2, [tensorType])]);
}

function initializer(name: string, dims: number[], values: Float32Array): Field {
  return message(5, [...dims.map((d) => intField(1, d)), intField(2, FLOAT), stringField(8, name),bytesField(9, new Uint8Array(values.buffer.slice(0)))]);
}

function node(inputs: string[], outputs: string[], opType: string): Field {
  return message(1, [...inputs.map((i) => stringField(1, i)), ...outputs.map((o) => stringField(2, o)), stringField(3, opType.toLowerCase()), stringField(4, opType)]);
}

/** ONNX bytes of the tiny conv model (fixed, nonzero-and-zero weights). */
export function tinyConvOnnx(): Uint8Array {
  const weights = new Float32Array(4 * 3 * 3 * 3).map((_, i) => ((i % 7) - 3) / 10);
  const graph = [
    node(['x', 'W'], ['h'], 'Conv'),
    node(['h'], ['y'], 'Relu'),
    stringField(2, 'tiny'),
    initializer('W', [4, 3, 3, 3], weights),
    valueInfo(11, 'x', ['N', 3, 8, 8]),
    valueInfo(12, 'y', ['N', 4, 6, 6]),
  ];
  return concat([intField(1, 8), stringField(2, 'prunebench-metrics-test'), message(7, graph), message(8, [stringField(1, ''), intField(2, 13)])]);
}
