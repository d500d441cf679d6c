/**
 * A minimal protocol-buffers *encoder* (no decoder): just what writing ONNX files needs.
 *
 * Wire format recap: every field is a key varint `(fieldNumber << 3) | wireType` followed by the value.
 *   wire type 0 (varint): int32/int64/uint64/bool/enum; negative int32/int64 take 10 bytes (two's complement,
 *                         sign-extended to 64 bits).
 *   wire type 2 (length-delimited): bytes, strings, sub-messages, packed repeated scalars.
 *   wire type 5 (fixed32): float, little-endian.
 */

export const WIRE_VARINT = 0;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

const TWO_POW_64 = 1n << 64n;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = TWO_POW_64 - 1n;

/** A varint-encodable integer: a safe JS integer or a bigint in [-2^63, 2^64). */
export type ProtoInt = number | bigint;

function toUint64(value: ProtoInt): bigint {
  let v: bigint;
  if (typeof value === 'bigint') {
    v = value;
  } else {
    if (!Number.isSafeInteger(value)) throw new RangeError(`protobuf varint needs a safe integer, got ${value}`);
    v = BigInt(value);
  }
  if (v < INT64_MIN || v > UINT64_MAX) throw new RangeError(`protobuf varint out of 64-bit range: ${v}`);
  return v < 0n ? v + TWO_POW_64 : v;
}

const textEncoder = new TextEncoder();

/** Growable byte buffer with protobuf field writers. Messages are built bottom-up: encode a child, then `message()` it. */
export class ProtoWriter {
  private buffer = new Uint8Array(256);
  private length = 0;
  private readonly scratch = new DataView(new ArrayBuffer(4));

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  /** Raw varint (no key). Numbers below 2^31 take the fast path; others go through bigint. */
  rawVarint(value: ProtoInt): this {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 0x80000000) {
      this.ensure(5);
      let v = value;
      while (v >= 0x80) {
        this.buffer[this.length++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buffer[this.length++] = v;
      return this;
    }
    let v = toUint64(value);
    this.ensure(10);
    while (v >= 0x80n) {
      this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.length++] = Number(v);
    return this;
  }

  rawBytes(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  rawFloat32(value: number): this {
    this.scratch.setFloat32(0, value, true);
    this.ensure(4);
    for (let i = 0; i < 4; i++) this.buffer[this.length++] = this.scratch.getUint8(i);
    return this;
  }

  key(field: number, wireType: number): this {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`bad protobuf field number ${field}`);
    return this.rawVarint(field * 8 + wireType);
  }

  /** int32 / int64 / uint64 / enum / bool field. */
  varint(field: number, value: ProtoInt | boolean): this {
    return this.key(field, WIRE_VARINT).rawVarint(typeof value === 'boolean' ? (value ? 1 : 0) : value);
  }

  float32(field: number, value: number): this {
    return this.key(field, WIRE_FIXED32).rawFloat32(value);
  }

  bytes(field: number, value: Uint8Array): this {
    return this.key(field, WIRE_LENGTH_DELIMITED).rawVarint(value.length).rawBytes(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** An embedded message, already encoded. */
  message(field: number, encoded: Uint8Array): this {
    return this.bytes(field, encoded);
  }

  /** Packed repeated int32/int64 (one length-delimited field holding the varints). Empty lists write nothing. */
  packedVarints(field: number, values: ReadonlyArray<ProtoInt>): this {
    if (values.length === 0) return this;
    const inner = new ProtoWriter();
    for (const v of values) inner.rawVarint(v);
    return this.bytes(field, inner.finish());
  }

  /** Packed repeated float (one length-delimited field of little-endian float32s). Empty lists write nothing. */
  packedFloat32(field: number, values: ReadonlyArray<number> | Float32Array): this {
    if (values.length === 0) return this;
    const inner = new ProtoWriter();
    for (const v of values) inner.rawFloat32(v);
    return this.bytes(field, inner.finish());
  }

  /** The bytes written so far (a copy trimmed to length). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}
