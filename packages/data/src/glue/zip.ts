/**
 * A minimal zip reader for the GLUE archives: the central directory, stored (0) and deflated (8) entries,
 * CRC-32 checked. No zip64, encryption or multi-disk archives (the GLUE zips need none).
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { DatasetError } from '../errors.js';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
  isDirectory: boolean;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** Lists the entries of a zip archive held in memory. `file` names the archive in errors. */
export function listZipEntries(zip: Uint8Array, file = 'zip archive'): ZipEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  // The end-of-central-directory record is 22 bytes plus a comment of up to 65,535 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new DatasetError(`${file} is not a zip archive (no end-of-central-directory record)`, file);
  const count = view.getUint16(eocd + 10, true);
  const dirSize = view.getUint32(eocd + 12, true);
  const dirOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || dirOffset === 0xffffffff) throw new DatasetError(`${file}: zip64 archives are not supported`, file);
  if (dirOffset + dirSize > eocd) throw new DatasetError(`${file}: truncated or corrupt zip (central directory out of range)`, file);

  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  let p = dirOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > zip.length || view.getUint32(p, true) !== CENTRAL_SIGNATURE) {
      throw new DatasetError(`${file}: corrupt zip central directory at entry ${n}`, file);
    }
    const flags = view.getUint16(p + 8, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const name = decoder.decode(zip.subarray(p + 46, p + 46 + nameLength));
    if (flags & 1) throw new DatasetError(`${file}: entry ${name} is encrypted`, file);
    entries.push({
      name,
      method: view.getUint16(p + 10, true),
      crc32: view.getUint32(p + 16, true),
      compressedSize: view.getUint32(p + 20, true),
      size: view.getUint32(p + 24, true),
      localHeaderOffset: view.getUint32(p + 42, true),
      isDirectory: name.endsWith('/'),
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The uncompressed bytes of one entry, CRC-checked. */
export function readZipEntry(zip: Uint8Array, entry: ZipEntry, file = 'zip archive'): Uint8Array {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const at = entry.localHeaderOffset;
  if (at + 30 > zip.length || view.getUint32(at, true) !== LOCAL_SIGNATURE) {
    throw new DatasetError(`${file}: corrupt local header for ${entry.name}`, file);
  }
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  const end = start + entry.compressedSize;
  if (end > zip.length) throw new DatasetError(`${file}: truncated zip (${entry.name} runs past the end)`, file);
  const raw = zip.subarray(start, end);
  let data: Uint8Array;
  if (entry.method === 0) data = raw;
  else if (entry.method === 8) {
    try {
      data = inflateRawSync(raw);
    } catch (err) {
      throw new DatasetError(`${file}: cannot inflate ${entry.name}: ${(err as Error).message}`, file);
    }
  } else throw new DatasetError(`${file}: ${entry.name} uses unsupported compression method ${entry.method}`, file);
  if (data.length !== entry.size) throw new DatasetError(`${file}: ${entry.name} inflated to ${data.length} bytes, expected ${entry.size}`, file);
  if (crc32(data) !== entry.crc32) throw new DatasetError(`${file}: CRC-32 mismatch for ${entry.name}`, file);
  return data;
}
