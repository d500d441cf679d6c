import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTensorFile, writeTensorFile } from './tensor-file.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'prunebench-atomic-'));

describe('tensor files (checkpoints)', () => {
  it('round-trips arrays and metadata', () => {
    const path = join(tempDir(), 'c.ckpt');
    const arrays = new Map([
      ['param/w', { dtype: 'float32' as const, shape: [2, 2], data: new Float32Array([1, -2, 3.5, 0]) }],
      ['step', { dtype: 'int32' as const, shape: [1], data: new Int32Array([7]) }],
    ]);
    writeTensorFile(path, { meta: { step: 7, log: [{ loss: 1 }] }, arrays });
    const back = readTensorFile(path);
    expect(back.meta).toEqual({ step: 7, log: [{ loss: 1 }] });
    expect(Array.from(back.arrays.get('param/w')!.data)).toEqual([1, -2, 3.5, 0]);
    expect(back.arrays.get('step')!.data).toBeInstanceOf(Int32Array);
  });

  it('refuses a truncated or altered file, naming it', () => {
    const path = join(tempDir(), 'c.ckpt');
    writeTensorFile(path, { meta: {}, arrays: new Map([['w', { dtype: 'float32' as const, shape: [3], data: new Float32Array([1, 2, 3]) }]]) });
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 2));
    expect(() => readTensorFile(path)).toThrow(`checkpoint ${path} is corrupt`);
    const altered = Buffer.from(bytes);
    altered[altered.length - 1] ^= 0xff;
    writeFileSync(path, altered);
    expect(() => readTensorFile(path)).toThrow(/checksum mismatch/);
  });
});
