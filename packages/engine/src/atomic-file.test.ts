import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from './atomic-file.js';

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
