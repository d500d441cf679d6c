import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from './atomic-file.js';
import { readTensorFile, writeTensorFile } from './tensor-file.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'prunebench-atomic-'));

describe('atomic writes', () => {
  it('replaces the file as a whole', () => {
    const dir = tempDir();
    const path = join(dir, 'record.json');
    writeJsonAtomic(path, { v: 1 });
    writeJsonAtomic(path, { v: 2 });
    expect(readJsonFile(path)).toEqual({ v: 2 });
    expect(readdirSync(dir)).toEqual(['record.json']);
  });

  it('leaves the old file intact and no temporary file when the write fails before the rename', () => {
    const dir = tempDir();
    const path = join(dir, 'record.json');
    writeJsonAtomic(path, { v: 1 });
    expect(() => writeFileAtomic(path, '{"v": 2}', { beforeRename: () => { throw new Error('killed'); } })).toThrow('killed');
    expect(readJsonFile(path)).toEqual({ v: 1 });
    expect(readdirSync(dir)).toEqual(['record.json']);
  });

  it('names the file when JSON is corrupt', () => {
    const path = join(tempDir(), 'record.json');
    writeFileSync(path, '{"status": "compl');
    expect(() => readJsonFile(path)).toThrow(`${path} is not valid JSON`);
  });
});

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
