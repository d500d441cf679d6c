import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '@prunebench/engine';

/**
 * The harness's checkpoint file: named float32/int32 arrays plus JSON metadata in one file, written
 * atomically, with a sha256 of the payload so a truncated or altered file is reported, never loaded.
 *
 * Layout: 8 bytes magic `PBTENSR1`, 4 bytes little-endian header length, UTF-8 JSON header, payload.
 */
const MAGIC = 'PBTENSR1';

export interface StoredArray {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface TensorFileContents {
  meta: Record<string, unknown>;
  arrays: Map<string, StoredArray>;
}

interface HeaderEntry {
  name: string;
  dtype: 'float32' | 'int32';
  shape: number[];
  offset: number;
  length: number;
}

export function writeTensorFile(path: string, contents: TensorFileContents): void {
  const entries: HeaderEntry[] = [];
  let offset = 0;
  for (const [name, array] of contents.arrays) {
    entries.push({ name, dtype: array.dtype, shape: array.shape, offset, length: array.data.length });
    offset += array.data.byteLength;
  }
  const payload = new Uint8Array(offset);
  for (const entry of entries) {
    const data = contents.arrays.get(entry.name)!.data;
    payload.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), entry.offset);
  }
  const sha256 = createHash('sha256').update(payload).digest('hex');
  const header = Buffer.from(JSON.stringify({ meta: contents.meta, entries, payloadBytes: payload.length, sha256 }), 'utf8');
  const prefix = Buffer.alloc(12);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(header.length, 8);
  writeFileAtomic(path, Buffer.concat([prefix, header, payload]));
}

export function readTensorFile(path: string): TensorFileContents {
  const bytes = readFileSync(path);
  const corrupt = (why: string) => new Error(`checkpoint ${path} is corrupt: ${why}`);
  if (bytes.length < 12 || bytes.toString('latin1', 0, 8) !== MAGIC) throw corrupt('bad magic bytes');
  const headerLength = bytes.readUInt32LE(8);
  if (12 + headerLength > bytes.length) throw corrupt('header runs past the end of the file');
  let header: { meta: Record<string, unknown>; entries: HeaderEntry[]; payloadBytes: number; sha256: string };
  try {
    header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength));
  } catch {
    throw corrupt('header is not valid JSON');
  }
  const payload = bytes.subarray(12 + headerLength);
  if (payload.length !== header.payloadBytes) throw corrupt(`payload is ${payload.length} bytes, header says ${header.payloadBytes}`);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) throw corrupt('payload checksum mismatch');
  const arrays = new Map<string, StoredArray>();
  for (const entry of header.entries) {
    const copy = new Uint8Array(entry.length * 4);
    copy.set(payload.subarray(entry.offset, entry.offset + entry.length * 4));
    const data = entry.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
    arrays.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return { meta: header.meta, arrays };
}
