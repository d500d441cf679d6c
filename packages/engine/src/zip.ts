import { crc32, inflateRawSync } from 'node:zlib';

/**
 * A minimal zip reader shared by the GLUE archives and PyTorch's zip checkpoints: the central directory,
 * stored (0) and deflated (8) entries, zip64 sizes and offsets, CRC-32 checked on read. No encryption or
 * multi-disk archives (neither use needs them).
 */
export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflated
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
  isDirectory: boolean;
}

/** A damaged or unsupported archive; `file` names it (the message starts with it too). */
export class ZipFormatError extends Error {
  constructor(readonly file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = 'ZipFormatError';
  }
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_EOCD_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const MIN_EOCD = 22;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export class ZipReader {
  /** Entries by name, in central-directory order. */
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  /** `file` names the archive in errors. */
  constructor(private readonly bytes: Uint8Array, private readonly file = 'zip archive') {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  private fail(why: string): never {
    throw new ZipFormatError(this.file, why);
  }

  private readCentralDirectory(): void {
    const v = this.view;
    const length = this.bytes.byteLength;
    if (length < MIN_EOCD) this.fail('not a zip archive (too short for an end-of-central-directory record)');
    // The end-of-central-directory record is 22 bytes plus a comment of up to 65,535 bytes.
    let eocd = -1;
    for (let i = length - MIN_EOCD, stop = Math.max(0, length - MIN_EOCD - 0xffff); i >= stop; i--) {
      if (v.getUint32(i, true) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.fail('not a zip archive (no end-of-central-directory record; truncated?)');
    let count = v.getUint16(eocd + 10, true);
    let dirSize = v.getUint32(eocd + 12, true);
    let dirOffset = v.getUint32(eocd + 16, true);
    const locator = eocd - 20;
    if (locator >= 0 && v.getUint32(locator, true) === ZIP64_EOCD_LOCATOR_SIGNATURE) {
      const zip64 = Number(v.getBigUint64(locator + 8, true));
      if (zip64 + 56 > length || v.getUint32(zip64, true) !== ZIP64_EOCD_SIGNATURE) {
        this.fail('zip64 locator points at no zip64 end-of-central-directory record');
      }
      count = Number(v.getBigUint64(zip64 + 32, true));
      dirSize = Number(v.getBigUint64(zip64 + 40, true));
      dirOffset = Number(v.getBigUint64(zip64 + 48, true));
    }
    if (dirOffset + dirSize > length) this.fail('truncated or corrupt zip (central directory out of range)');
    const decoder = new TextDecoder();
    let p = dirOffset;
    for (let k = 0; k < count; k++) {
      if (p + 46 > length || v.getUint32(p, true) !== CENTRAL_SIGNATURE) this.fail(`corrupt zip central directory at entry ${k}`);
      const flags = v.getUint16(p + 8, true);
      let compressedSize = v.getUint32(p + 20, true);
      let size = v.getUint32(p + 24, true);
      const nameLength = v.getUint16(p + 28, true);
      const extraLength = v.getUint16(p + 30, true);
      const commentLength = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      const name = decoder.decode(this.bytes.subarray(p + 46, p + 46 + nameLength));
      if (flags & 1) this.fail(`entry ${name} is encrypted`);
      // zip64 extended information: 64-bit values for the fields saturated at 0xffffffff, in this order.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = v.getUint16(e, true);
        const len = v.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          const next = () => {
            const x = Number(v.getBigUint64(q, true));
            q += 8;
            return x;
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
        }
        e += 4 + len;
      }
      this.entries.set(name, {
        name, method: v.getUint16(p + 10, true), compressedSize, size, crc32: v.getUint32(p + 16, true), localHeaderOffset,
        isDirectory: name.endsWith('/'),
      });
      p = extraEnd + commentLength;
    }
  }

  /** The uncompressed, CRC-checked bytes of one entry (a view into the archive for stored entries). */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) this.fail(`no entry named "${name}"`);
    const v = this.view;
    const h = entry.localHeaderOffset;
    if (h + 30 > this.bytes.byteLength || v.getUint32(h, true) !== LOCAL_SIGNATURE) this.fail(`corrupt local header for ${name}`);
    const start = h + 30 + v.getUint16(h + 26, true) + v.getUint16(h + 28, true);
    const end = start + entry.compressedSize;
    if (end > this.bytes.byteLength) this.fail(`truncated zip (${name} runs past the end)`);
    const raw = this.bytes.subarray(start, end);
    let data: Uint8Array;
    if (entry.method === 0) data = raw;
    else if (entry.method === 8) {
      try {
        data = new Uint8Array(inflateRawSync(raw));
      } catch (error) {
        this.fail(`cannot inflate ${name}: ${(error as Error).message}`);
      }
    } else this.fail(`${name} uses unsupported compression method ${entry.method}`);
    if (data.byteLength !== entry.size) this.fail(`${name} inflated to ${data.byteLength} bytes, expected ${entry.size}`);
    if (crc32(data) !== entry.crc32) this.fail(`CRC-32 mismatch for ${name}`);
    return data;
  }
}
