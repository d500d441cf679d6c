import { inflateRawSync } from 'node:zlib';

/**
 * A minimal zip reader (central directory, stored and deflated entries, zip64 sizes/offsets), enough for
 * PyTorch's zip checkpoints, which store entries uncompressed and 64-byte aligned.
 */
export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflated
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_EOCD_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly source = '<buffer>') {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  private fail(why: string): never {
    throw new Error(`zip ${this.source}: ${why}`);
  }

  private readCentralDirectory(): void {
    const v = this.view;
    const minEocd = 22;
    if (this.bytes.byteLength < minEocd) this.fail('truncated: too short for an end-of-central-directory record');
    let eocd = -1;
    const stop = Math.max(0, this.bytes.byteLength - minEocd - 0xffff);
    for (let i = this.bytes.byteLength - minEocd; i >= stop; i--) {
      if (v.getUint32(i, true) === EOCD_SIGNATURE) { eocd = i; break; }
    }
    if (eocd < 0) this.fail('no end-of-central-directory record (truncated or not a zip file)');
    let count = v.getUint16(eocd + 10, true);
    let dirSize = v.getUint32(eocd + 12, true);
    let dirOffset = v.getUint32(eocd + 16, true);
    const locator = eocd - 20;
    if (locator >= 0 && v.getUint32(locator, true) === ZIP64_EOCD_LOCATOR_SIGNATURE) {
      const zip64 = Number(v.getBigUint64(locator + 8, true));
      if (zip64 + 56 > this.bytes.byteLength || v.getUint32(zip64, true) !== ZIP64_EOCD_SIGNATURE) {
        this.fail('zip64 locator points at no zip64 end-of-central-directory record');
      }
      count = Number(v.getBigUint64(zip64 + 32, true));
      dirSize = Number(v.getBigUint64(zip64 + 40, true));
      dirOffset = Number(v.getBigUint64(zip64 + 48, true));
    }
    if (dirOffset + dirSize > this.bytes.byteLength) this.fail('truncated: central directory extends past the end of the file');
    let p = dirOffset;
    for (let k = 0; k < count; k++) {
      if (p + 46 > this.bytes.byteLength || v.getUint32(p, true) !== CENTRAL_SIGNATURE) {
        this.fail(`central directory entry ${k} is damaged`);
      }
      const method = v.getUint16(p + 10, true);
      let compressedSize = v.getUint32(p + 20, true);
      let size = v.getUint32(p + 24, true);
      const nameLength = v.getUint16(p + 28, true);
      const extraLength = v.getUint16(p + 30, true);
      const commentLength = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      const name = new TextDecoder().decode(this.bytes.subarray(p + 46, p + 46 + nameLength));
      // zip64 extended information: 64-bit values for the fields saturated at 0xffffffff, in this order.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = v.getUint16(e, true);
        const len = v.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          const next = () => { const x = Number(v.getBigUint64(q, true)); q += 8; return x; };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = extraEnd + commentLength;
    }
  }

  /** The bytes of one entry (a view for stored entries, inflated for deflated ones). */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) this.fail(`no entry named "${name}"`);
    const v = this.view;
    const h = entry.localHeaderOffset;
    if (h + 30 > this.bytes.byteLength || v.getUint32(h, true) !== LOCAL_SIGNATURE) this.fail(`local header of "${name}" is damaged`);
    const start = h + 30 + v.getUint16(h + 26, true) + v.getUint16(h + 28, true);
    const end = start + entry.compressedSize;
    if (end > this.bytes.byteLength) this.fail(`truncated: entry "${name}" extends past the end of the file`);
    const raw = this.bytes.subarray(start, end);
    if (entry.method === 0) return raw;
    if (entry.method === 8) {
      const out = new Uint8Array(inflateRawSync(raw));
      if (out.byteLength !== entry.size) this.fail(`entry "${name}" inflated to ${out.byteLength} bytes, expected ${entry.size}`);
      return out;
    }
    return this.fail(`entry "${name}" uses unsupported compression method ${entry.method}`);
  }
}
