import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseSafetensors,
  readSafetensors,
  safetensorsToFloat32,
  serializeSafetensors,
  writeSafetensors,
} from './safetensors.js';
import type { TensorMap } from './tensor-map.js';

const dir = mkdtempSync(join(tmpdir(), 'prunebench-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileWithHeader(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

describe('safetensors', () => {
  it('round-trips float32 tensors and metadata through a file', async () => {
    const tensors: TensorMap = new Map([
      ['b.weight', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 4, 5, 6]) }],
      ['a.bias', { shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) }],
      ['scalar', { shape: [], data: Float32Array.from([7]) }],
    ]);
    const path = join(dir, 'x.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt' });
    const back = await readSafetensors(path);
    expect([...back.keys()].sort()).toEqual(['a.bias', 'b.weight', 'scalar']);
    for (const [name, t] of tensors) {
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(back.get(name)!.data).toEqual(t.data);
    }
    const raw = parseSafetensors(serializeSafetensors(tensors, { format: 'pt' }));
    expect(raw.metadata).toEqual({ format: 'pt' });
    expect(raw.tensors.get('a.bias')!.dtype).toBe('F32');
    // data starts 8-byte aligned
    const bytes = serializeSafetensors(tensors);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
  });

  it('converts F16, BF16, F64, I64, I32, I8, U8 and BOOL to float32', () => {
    const data = new Uint8Array(64);
    const v = new DataView(data.buffer);
    v.setUint16(0, 0x3c00, true); // f16 1.0
    v.setUint16(2, 0xc000, true); // f16 -2.0
    v.setUint16(4, 0x3fc0, true); // bf16 1.5
    v.setFloat64(8, -0.25, true);
    v.setBigInt64(16, -3n, true);
    v.setInt32(24, 123456, true);
    v.setInt8(28, -7);
    v.setUint8(29, 200);
    v.setUint8(30, 1);
    const header = {
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      bf: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] },
      d: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
      l: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      i: { dtype: 'I32', shape: [1], data_offsets: [24, 28] },
      c: { dtype: 'I8', shape: [1], data_offsets: [28, 29] },
      u: { dtype: 'U8', shape: [1], data_offsets: [29, 30] },
      z: { dtype: 'BOOL', shape: [1], data_offsets: [30, 31] },
    };
    const t = safetensorsToFloat32(parseSafetensors(fileWithHeader(header, data)));
    expect([...t.get('h')!.data]).toEqual([1, -2]);
    expect([...t.get('bf')!.data]).toEqual([1.5]);
    expect([...t.get('d')!.data]).toEqual([-0.25]);
    expect([...t.get('l')!.data]).toEqual([-3]);
    expect([...t.get('i')!.data]).toEqual([123456]);
    expect([...t.get('c')!.data]).toEqual([-7]);
    expect([...t.get('u')!.data]).toEqual([200]);
    expect([...t.get('z')!.data]).toEqual([1]);
  });

  it('gives clear errors naming the file for truncated or bad input', async () => {
    const good = serializeSafetensors(new Map([['w', { shape: [4], data: new Float32Array(4) }]]));
    const path = join(dir, 'cut.safetensors');
    writeFileSync(path, good.subarray(0, good.byteLength - 3));
    await expect(readSafetensors(path)).rejects.toThrow(/cut\.safetensors.*truncated.*"w"/);
    expect(() => parseSafetensors(new Uint8Array(5), 'tiny.st')).toThrow(/tiny\.st.*truncated/);
    const notJson = fileWithHeader({}, new Uint8Array(0));
    notJson[8] = 0x7b + 1;
    expect(() => parseSafetensors(notJson, 'bad.st')).toThrow(/bad\.st.*not valid JSON/);
    const badDtype = fileWithHeader({ w: { dtype: 'Q7', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1));
    expect(() => parseSafetensors(badDtype, 'q.st')).toThrow(/q\.st.*"w".*dtype/);
    const badSize = fileWithHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(8));
    expect(() => parseSafetensors(badSize, 's.st')).toThrow(/s\.st.*"w".*needs 8/);
  });
});
