import { readFileSync } from 'node:fs';
import { bytesToFloat32, DTYPE_BYTES, isFloatDType, type RawDType } from '../dtype.js';
import { elementCount, type HostTensor, type TensorMap } from '../tensor-map.js';
import { unpickle, type PickleGlobal } from './pickle.js';
import { isZip, ZipReader } from '@prunebench/engine';

/**
 * PyTorch checkpoints without PyTorch: the zip format (torch.save's default since 1.6) and the legacy
 * format (a sequence of pickles followed by raw storages).
 */

const STORAGE_DTYPES: Record<string, RawDType> = {
  FloatStorage: 'F32', DoubleStorage: 'F64', HalfStorage: 'F16', BFloat16Storage: 'BF16',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** A storage as a persistent id describes it; legacy views point into a root storage at an element offset. */
interface StorageRef {
  key: string;
  dtype: RawDType;
  elementOffset: number;
}

/** A tensor as unpickled, before its storage bytes are read. */
export class TorchTensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

export interface TorchCheckpoint {
  /** The whole unpickled object; tensors appear as TorchTensorRef. */
  object: unknown;
  /** Floating-point tensors of the state dict (converted to float32), `module.` prefix stripped. */
  stateDict: TensorMap;
  /** Integer / bool tensors of the state dict (e.g. num_batches_tracked), converted to float32 by value. */
  integerTensors: TensorMap;
  format: 'zip' | 'legacy';
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function storageDType(cls: unknown, source: string): RawDType {
  const g = cls as PickleGlobal;
  const dtype = g && g.kind === 'global' && g.module === 'torch' ? STORAGE_DTYPES[g.name] : undefined;
  if (!dtype) throw new Error(`${source}: unsupported storage type ${g?.module}.${g?.name}`);
  return dtype;
}

function asIntArray(v: unknown, what: string, source: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new Error(`${source}: tensor ${what} must be a tuple of ints`);
  return v as number[];
}

function callTorchGlobal(source: string) {
  return (cls: PickleGlobal, args: unknown[]): unknown => {
    if (cls.module !== 'torch._utils') return undefined;
    if (cls.name === '_rebuild_tensor' || cls.name === '_rebuild_tensor_v2') {
      const [storage, offset, size, stride] = args;
      if (!(typeof storage === 'object' && storage !== null && 'key' in storage)) {
        throw new Error(`${source}: ${cls.name} without a storage`);
      }
      return new TorchTensorRef(storage as StorageRef, Number(offset), asIntArray(size, 'size', source), asIntArray(stride, 'stride', source));
    }
    if (cls.name === '_rebuild_parameter' || cls.name === '_rebuild_parameter_with_state') return args[0];
    return undefined;
  };
}

/** Copy a (possibly strided) tensor out of its storage into a contiguous float32 array. */
function materialize(ref: TorchTensorRef, storageBytes: (key: string) => Uint8Array, source: string): HostTensor {
  const { dtype } = ref.storage;
  const bytes = storageBytes(ref.storage.key);
  const elementSize = DTYPE_BYTES[dtype];
  const storageElements = Math.floor(bytes.byteLength / elementSize);
  const start = ref.storage.elementOffset + ref.offset;
  const count = elementCount(ref.shape);
  let contiguous = true;
  for (let d = ref.shape.length - 1, expect = 1; d >= 0; d--) {
    if (ref.shape[d] !== 1 && ref.stride[d] !== expect) contiguous = false;
    expect *= ref.shape[d];
  }
  if (contiguous) {
    if (start + count > storageElements) throw new Error(`${source}: tensor reads past the end of storage ${ref.storage.key}`);
    return { shape: ref.shape, data: bytesToFloat32(bytes.subarray(start * elementSize, (start + count) * elementSize), dtype, count) };
  }
  const all = bytesToFloat32(bytes, dtype, storageElements);
  const data = new Float32Array(count);
  const index = new Array<number>(ref.shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let at = start;
    for (let d = 0; d < index.length; d++) at += index[d] * ref.stride[d];
    if (at >= storageElements) throw new Error(`${source}: tensor reads past the end of storage ${ref.storage.key}`);
    data[i] = all[at];
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d] < ref.shape[d]) break;
      index[d] = 0;
    }
  }
  return { shape: ref.shape, data };
}

function findStateDict(object: unknown): Map<unknown, unknown> {
  if (object instanceof Map) {
    const inner = object.get('state_dict');
    if (inner instanceof Map) return inner;
    return object;
  }
  throw new Error('checkpoint holds no dict of tensors');
}

function collectTensors(
  object: unknown,
  storageBytes: (key: string) => Uint8Array,
  source: string,
): { stateDict: TensorMap; integerTensors: TensorMap } {
  const stateDict: TensorMap = new Map();
  const integerTensors: TensorMap = new Map();
  let dict: Map<unknown, unknown>;
  try {
    dict = findStateDict(object);
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
  for (const [key, value] of dict) {
    if (!(value instanceof TorchTensorRef) || typeof key !== 'string') continue;
    const name = key.startsWith('module.') ? key.slice('module.'.length) : key;
    const tensor = materialize(value, storageBytes, source);
    (isFloatDType(value.storage.dtype) ? stateDict : integerTensors).set(name, tensor);
  }
  return { stateDict, integerTensors };
}

function persistentStorage(source: string, seen?: Map<string, RawDType>) {
  return (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`${source}: unsupported persistent id ${JSON.stringify(pid)}`);
    const [, cls, key, , , viewMetadata] = pid;
    const dtype = storageDType(cls, source);
    seen?.set(String(key), dtype);
    if (Array.isArray(viewMetadata)) {
      // Legacy storage view: (view_key, offset_in_root, view_size).
      return { key: String(key), dtype, elementOffset: Number(viewMetadata[1]) };
    }
    return { key: String(key), dtype, elementOffset: 0 };
  };
}

function parseZipCheckpoint(bytes: Uint8Array, source: string): TorchCheckpoint {
  const zip = new ZipReader(bytes, source);
  const pklName = [...zip.entries.keys()].find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pklName) throw new Error(`${source}: zip checkpoint has no data.pkl`);
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const { value } = unpickle(zip.read(pklName), {
    source: `${source}:${pklName}`,
    call: callTorchGlobal(source),
    persistentLoad: persistentStorage(source),
  });
  const storageBytes = (key: string) => {
    const name = `${prefix}data/${key}`;
    if (!zip.entries.has(name)) throw new Error(`${source}: storage entry ${name} is missing`);
    return zip.read(name);
  };
  return { object: value, ...collectTensors(value, storageBytes, source), format: 'zip' };
}

function parseLegacyCheckpoint(bytes: Uint8Array, source: string): TorchCheckpoint {
  const magic = unpickle(bytes, { source });
  if (BigInt(magic.value as number | bigint) !== LEGACY_MAGIC) {
    throw new Error(`${source}: not a PyTorch checkpoint (no zip signature and no legacy magic number)`);
  }
  const protocol = unpickle(bytes, { source, offset: magic.end });
  const sysInfo = unpickle(bytes, { source, offset: protocol.end });
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new Error(`${source}: big-endian checkpoints are not supported`);
  }
  const dtypes = new Map<string, RawDType>();
  const main = unpickle(bytes, { source, offset: sysInfo.end, call: callTorchGlobal(source), persistentLoad: persistentStorage(source, dtypes) });
  const keysPickle = unpickle(bytes, { source, offset: main.end });
  if (!Array.isArray(keysPickle.value)) throw new Error(`${source}: storage key list is missing`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storages = new Map<string, Uint8Array>();
  let pos = keysPickle.end;
  for (const rawKey of keysPickle.value) {
    const key = String(rawKey);
    const dtype = dtypes.get(key);
    if (!dtype) throw new Error(`${source}: storage ${key} is listed but never referenced`);
    if (pos + 8 > bytes.byteLength) throw new Error(`${source}: truncated before storage ${key}`);
    const count = Number(view.getBigInt64(pos, true));
    const length = count * DTYPE_BYTES[dtype];
    pos += 8;
    if (pos + length > bytes.byteLength) {
      throw new Error(`${source}: truncated in storage ${key} (needs ${length} bytes, ${bytes.byteLength - pos} left)`);
    }
    storages.set(key, bytes.subarray(pos, pos + length));
    pos += length;
  }
  const storageBytes = (key: string) => {
    const b = storages.get(key);
    if (!b) throw new Error(`${source}: storage ${key} is missing`);
    return b;
  };
  return { object: main.value, ...collectTensors(main.value, storageBytes, source), format: 'legacy' };
}

/** Parse a PyTorch checkpoint of either format. */
export function parseTorchCheckpoint(bytes: Uint8Array, source = '<buffer>'): TorchCheckpoint {
  if (bytes.byteLength === 0) throw new Error(`${source}: empty file`);
  return isZip(bytes) ? parseZipCheckpoint(bytes, source) : parseLegacyCheckpoint(bytes, source);
}

/**
 * The float tensors of a PyTorch checkpoint (file path or bytes) by name: a top-level `state_dict` is
 * unwrapped and a `module.` prefix (DataParallel) stripped. Integer tensors are left out.
 */
export function loadTorchCheckpoint(bytesOrPath: Uint8Array | string): TensorMap {
  if (typeof bytesOrPath === 'string') {
    return parseTorchCheckpoint(new Uint8Array(readFileSync(bytesOrPath)), bytesOrPath).stateDict;
  }
  return parseTorchCheckpoint(bytesOrPath).stateDict;
}
