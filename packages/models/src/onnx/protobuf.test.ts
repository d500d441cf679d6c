import { describe, expect, it } from 'vitest';
import { ProtoWriter } from './protobuf.js';
import { encodeAttribute, encodeModel, encodeTensor, encodeValueInfo, int64Tensor, irVersionForOpset } from './onnx-proto.js';

const bytes = (w: ProtoWriter) => [...w.finish()];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe('ProtoWriter varints', () => {
  it.each([
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [2 ** 31, [0x80, 0x80, 0x80, 0x80, 0x08]], // first value past the 31-bit fast path
    [2 ** 53 - 1, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    [(1n << 63n) - 1n, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    [(1n << 64n) - 1n, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    // negative int64: two's complement over 64 bits, always 10 bytes
    [-1, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    [-2, [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    [-(1n << 63n), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
  ] as const)('encodes %s', (value, expected) => {
    expect(bytes(new ProtoWriter().rawVarint(value))).toEqual(expected);
  });

  it('rejects non-integers and values beyond 64 bits', () => {
    expect(() => new ProtoWriter().rawVarint(1.5)).toThrow(/safe integer/);
    expect(() => new ProtoWriter().rawVarint(2 ** 60)).toThrow(/safe integer/);
    expect(() => new ProtoWriter().rawVarint(1n << 64n)).toThrow(/64-bit/);
    expect(() => new ProtoWriter().varint(0, 1)).toThrow(/field number/);
  });
});

describe('ProtoWriter fields', () => {
  it('writes keys and values for each wire type', () => {
    expect(bytes(new ProtoWriter().varint(1, 150))).toEqual([0x08, 0x96, 0x01]);
    expect(bytes(new ProtoWriter().varint(20, true))).toEqual([0xa0, 0x01, 0x01]);
    expect(bytes(new ProtoWriter().string(2, 'testing'))).toEqual([0x12, 0x07, ...ascii('testing')]);
    expect(bytes(new ProtoWriter().float32(2, 1))).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
    expect(bytes(new ProtoWriter().float32(2, -2.5))).toEqual([0x15, 0x00, 0x00, 0x20, 0xc0]);
  });

  it('packs repeated scalars into one length-delimited field', () => {
    expect(bytes(new ProtoWriter().packedVarints(4, [3, 270, 86942]))).toEqual([0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
    expect(bytes(new ProtoWriter().packedFloat32(7, [1, -2]))).toEqual([0x3a, 0x08, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    expect(bytes(new ProtoWriter().packedVarints(1, []))).toEqual([]);
  });

  it('grows past its initial buffer', () => {
    const long = new Uint8Array(1000).map((_, i) => i & 0xff);
    const out = new ProtoWriter().bytes(9, long).finish();
    expect([...out.subarray(0, 3)]).toEqual([0x4a, 0xe8, 0x07]);
    expect(out.subarray(3)).toEqual(long);
  });
});

describe('ONNX messages', () => {
  it('encodes an int attribute with its type discriminator', () => {
    const out = encodeAttribute({ name: 'axis', type: 'int', value: -1 });
    expect([...out]).toEqual([0x0a, 0x04, ...ascii('axis'), 0xa0, 0x01, 0x02, 0x18, ...Array(9).fill(0xff), 0x01]);
  });

  it('encodes an ints attribute packed', () => {
    const out = encodeAttribute({ name: 'pads', type: 'ints', value: [1, 1] });
    expect([...out]).toEqual([0x0a, 0x04, ...ascii('pads'), 0xa0, 0x01, 0x07, 0x42, 0x02, 0x01, 0x01]);
  });

  it('encodes a value info with a symbolic batch dimension', () => {
    const out = encodeValueInfo({ name: 'x', elemType: 1, shape: ['N', 3] });
    const shape = [0x0a, 0x03, 0x12, 0x01, 0x4e, 0x0a, 0x02, 0x08, 0x03];
    const tensorType = [0x08, 0x01, 0x12, shape.length, ...shape];
    const type = [0x0a, tensorType.length, ...tensorType];
    expect([...out]).toEqual([0x0a, 0x01, 0x78, 0x12, type.length, ...type]);
  });

  it('encodes tensors with little-endian raw data', () => {
    const t = int64Tensor('e', [2], [(1n << 63n) - 1n, -1]);
    expect([...encodeTensor(t)]).toEqual([
      0x0a, 0x01, 0x02, // dims [2], packed
      0x10, 0x07, // data_type INT64
      0x42, 0x01, 0x65, // name "e"
      0x4a, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, ...Array(8).fill(0xff), // raw_data
    ]);
    expect(() => int64Tensor('bad', [3], [1, 2])).toThrow(/bad: 2 values do not fill shape \[3\]/);
  });

  it('encodes a model header: ir_version, producer, graph, opset', () => {
    const graph = { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [] };
    const out = encodeModel({ irVersion: 8, opsetVersion: 17, producerName: 'p', graph });
    expect([...out]).toEqual([0x08, 0x08, 0x12, 0x01, 0x70, 0x3a, 0x03, 0x12, 0x01, 0x67, 0x42, 0x02, 0x10, 0x11]);
  });

  it('maps opsets to IR versions', () => {
    expect(irVersionForOpset(13)).toBe(7);
    expect(irVersionForOpset(17)).toBe(8);
    expect(irVersionForOpset(19)).toBe(9);
    expect(irVersionForOpset(21)).toBe(10);
    expect(() => irVersionForOpset(9)).toThrow(/opset/);
  });
});
