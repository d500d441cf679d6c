import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@prunebench/engine';
import { DTYPE_BYTES, bytesToFloat32, isRawDType, type RawDType } from './dtype.js';
import { elementCount, type HostTensor, type TensorMap } from './tensor-map.js';

/**
 * safetensors: 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {string: string} }`,
 * then the data; offsets are relative to the first byte after the header.
 */
export interface SafetensorsEntry {
  dtype: RawDType;
  shape: number[];
  /** Raw little-endian bytes (a view into the file buffer). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** Largest header accepted (the reference implementation's limit), so a corrupt length fails fast. */
const MAX_HEADER_BYTES = 100_000_000;

export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail = (why: string): never => {
    throw new Error(`safetensors ${source}: ${why}`);
  };
  if (bytes.byteLength < 8) fail(`truncated: ${bytes.byteLength} bytes, need at least 8 for the header length`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} is implausible (corrupt file?)`);
  if (8 + headerLength > bytes.byteLength) {
    fail(`truncated: header says ${headerLength} bytes of JSON but the file has ${bytes.byteLength - 8} after the length`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header must be a JSON object');
  const data = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('__metadata__ must be an object');
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== 'object' || entry === null) fail(`tensor "${name}": entry must be an object`);
    if (!isRawDType(entry.dtype)) fail(`tensor "${name}": unsupported dtype ${JSON.stringify(entry.dtype)}`);
    const dtype = entry.dtype as RawDType;
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor "${name}": shape must be an array of non-negative integers`);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      fail(`tensor "${name}": data_offsets must be [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = elementCount(shape as number[]) * DTYPE_BYTES[dtype];
    if (end < begin || end - begin !== expected) {
      fail(`tensor "${name}": data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape [${shape}] ${dtype} needs ${expected}`);
    }
    if (end > data.byteLength) fail(`truncated: tensor "${name}" ends at byte ${end} of the data, which has ${data.byteLength}`);
    tensors.set(name, { dtype, shape: [...(shape as number[])], bytes: data.subarray(begin, end) });
  }
  return { tensors, metadata };
}

/** Every tensor converted to float32 (integer tensors by value). */
export function safetensorsToFloat32(file: SafetensorsFile): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, entry] of file.tensors) {
    out.set(name, { shape: entry.shape, data: bytesToFloat32(entry.bytes, entry.dtype, elementCount(entry.shape)) });
  }
  return out;
}

export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(new Uint8Array(await readFile(path)), path);
}

/** Read a .safetensors file as float32 tensors by name. */
export async function readSafetensors(path: string): Promise<TensorMap> {
  return safetensorsToFloat32(await readSafetensorsFile(path));
}

function isEntry(t: HostTensor | SafetensorsEntry): t is SafetensorsEntry {
  return (t as SafetensorsEntry).bytes !== undefined;
}

/** Serialise tensors (float32 host tensors, or raw entries of any dtype); names are written sorted. */
export function serializeSafetensors(
  tensors: Map<string, HostTensor | SafetensorsEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    let bytes: Uint8Array;
    let dtype: RawDType;
    if (isEntry(t)) {
      bytes = t.bytes;
      dtype = t.dtype;
    } else {
      if (t.data.length !== elementCount(t.shape)) {
        throw new Error(`tensor "${name}": ${t.data.length} values do not fill shape [${t.shape}]`);
      }
      bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      dtype = 'F32';
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (what the reference writer does).
  const jsonBytesLength = new TextEncoder().encode(json).byteLength;
  json += ' '.repeat((8 - ((8 + jsonBytesLength) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Write a .safetensors file atomically (temporary file + rename). */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, HostTensor | SafetensorsEntry>,
  metadata?: Record<string, string>,
): Promise<void> {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

