import { describe, it, expect } from 'vitest';
import { ZipFormatError, ZipReader, isZip } from './zip.js';
import { writeZip } from './zip-writer.js';

describe('zip reader', () => {
  const text = 'sentence\tlabel\n' + 'a fine film \t1\n'.repeat(50);
  const zip = writeZip([
    { name: 'SST-2/', data: '' },
    { name: 'SST-2/train.tsv', data: text, deflate: true },
    { name: 'SST-2/dev.tsv', data: 'stored bytes' },
  ]);

  it('lists entries and reads stored and deflated ones', () => {
    const reader = new ZipReader(zip);
    const entries = [...reader.entries.values()];
    expect(entries.map((e) => [e.name, e.method, e.isDirectory])).toEqual([
      ['SST-2/', 0, true],
      ['SST-2/train.tsv', 8, false],
      ['SST-2/dev.tsv', 0, false],
    ]);
    expect(entries[1].compressedSize).toBeLessThan(entries[1].size);
    expect(Buffer.from(reader.read('SST-2/train.tsv')).toString('utf8')).toBe(text);
    expect(Buffer.from(reader.read('SST-2/dev.tsv')).toString('utf8')).toBe('stored bytes');
    expect(isZip(zip)).toBe(true);
    expect(isZip(new TextEncoder().encode('PK no'))).toBe(false);
    expect(() => reader.read('SST-2/test.tsv')).toThrow(/zip archive: no entry named "SST-2\/test\.tsv"/);
  });

  it('detects a corrupted entry by CRC, a truncated archive and a non-zip, naming the file', () => {
    const corrupt = Buffer.from(zip);
    const dev = new ZipReader(corrupt, 'x.zip').entries.get('SST-2/dev.tsv')!;
    corrupt[dev.localHeaderOffset + 30 + dev.name.length] ^= 0xff;
    expect(() => new ZipReader(corrupt, 'x.zip').read('SST-2/dev.tsv')).toThrow(/^x\.zip: CRC-32 mismatch for SST-2\/dev\.tsv/);
    expect(() => new ZipReader(zip.subarray(0, 60), 'cut.zip')).toThrow(ZipFormatError);
    expect(() => new ZipReader(zip.subarray(0, 60), 'cut.zip')).toThrow(/^cut\.zip: not a zip archive/);
    expect(() => new ZipReader(Buffer.from('not a zip at all, just some text that is long enough'), 'y.zip')).toThrow(/^y\.zip: not a zip archive/);
  });
});
