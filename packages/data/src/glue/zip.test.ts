import { describe, it, expect } from 'vitest';
import { listZipEntries, readZipEntry } from './zip.js';
import { writeZip } from './zip-fixture.js';

describe('zip reader', () => {
  const text = 'sentence\tlabel\n' + 'a fine film \t1\n'.repeat(50);
  const zip = writeZip([
    { name: 'SST-2/', data: '' },
    { name: 'SST-2/train.tsv', data: text, deflate: true },
    { name: 'SST-2/dev.tsv', data: 'stored bytes' },
  ]);

  it('lists entries and reads stored and deflated ones', () => {
    const entries = listZipEntries(zip);
    expect(entries.map((e) => [e.name, e.method, e.isDirectory])).toEqual([
      ['SST-2/', 0, true],
      ['SST-2/train.tsv', 8, false],
      ['SST-2/dev.tsv', 0, false],
    ]);
    expect(entries[1].compressedSize).toBeLessThan(entries[1].size);
    expect(Buffer.from(readZipEntry(zip, entries[1])).toString('utf8')).toBe(text);
    expect(Buffer.from(readZipEntry(zip, entries[2])).toString('utf8')).toBe('stored bytes');
  });

  it('detects a corrupted entry by CRC and a non-zip by its missing directory', () => {
    const corrupt = Buffer.from(zip);
    const entries = listZipEntries(corrupt, 'x.zip');
    const dev = entries[2];
    corrupt[dev.localHeaderOffset + 30 + dev.name.length] ^= 0xff;
    expect(() => readZipEntry(corrupt, dev, 'x.zip')).toThrow(/x\.zip: CRC-32 mismatch for SST-2\/dev\.tsv/);
    expect(() => listZipEntries(Buffer.from('not a zip at all, just some text that is long enough'), 'y.zip')).toThrow(/y\.zip is not a zip archive/);
  });
});
