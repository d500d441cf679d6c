import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { extractTarArchive, TarStreamParser, type TarEntryHeader } from './tar.js';
import { DatasetError } from './errors.js';
import { writeTar } from './testing/tar-writer.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prunebench-tar-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const longName = `deep/${'x'.repeat(120)}/file.bin`;
const payload = Buffer.from(Array.from({ length: 1300 }, (_, i) => i % 251));

function archive(name: string, bytes: Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

describe('extractTarArchive', () => {
  it('extracts files, folders and GNU long names from a .tar.gz', async () => {
    const tar = writeTar([
      { name: 'top/' },
      { name: 'top/a.txt', data: Buffer.from('hello') },
      { name: 'top/empty.bin', data: new Uint8Array(0) },
      { name: longName, data: payload, gnuLongName: true },
      { name: 'top/link', type: '2' },
    ]);
    const file = archive('ok.tar.gz', gzipSync(tar));
    const dest = join(dir, 'out-ok');
    const progress: number[] = [];
    const written = await extractTarArchive(file, dest, { onProgress: (done) => progress.push(done) });
    expect(written).toEqual(['top/a.txt', 'top/empty.bin', longName]);
    expect(readFileSync(join(dest, 'top/a.txt'), 'utf8')).toBe('hello');
    expect(readFileSync(join(dest, 'top/empty.bin')).length).toBe(0);
    expect(readFileSync(join(dest, longName)).equals(payload)).toBe(true);
    expect(existsSync(join(dest, 'top/link'))).toBe(false); // links are skipped
    expect(progress.at(-1)).toBe(readFileSync(file).length);
  });

  it('reads plain (uncompressed) tar and honours the filter', async () => {
    const file = archive('plain.tar', writeTar([{ name: 'a', data: Buffer.from('A') }, { name: 'b', data: Buffer.from('B') }]));
    const dest = join(dir, 'out-plain');
    const written = await extractTarArchive(file, dest, { filter: (name) => name === 'b' });
    expect(written).toEqual(['b']);
    expect(readFileSync(join(dest, 'b'), 'utf8')).toBe('B');
    expect(existsSync(join(dest, 'a'))).toBe(false);
  });

  it('reads an archive written by the system tar (pax/GNU long names, ustar prefix)', async () => {
    const src = join(dir, 'sys-src');
    const nested = join(src, 'n'.repeat(90), 'm'.repeat(90));
    mkdirSync(nested, { recursive: true });
    writeFileSync(join(nested, 'data.bin'), payload);
    writeFileSync(join(src, 'small.txt'), 'small');
    const file = join(dir, 'sys.tar.gz');
    try {
      execFileSync('tar', ['czf', file, '-C', src, '.']);
    } catch {
      console.warn('SKIPPED: no system tar to cross-check against');
      return;
    }
    const dest = join(dir, 'out-sys');
    await extractTarArchive(file, dest);
    expect(readFileSync(join(dest, 'n'.repeat(90), 'm'.repeat(90), 'data.bin')).equals(payload)).toBe(true);
    expect(readFileSync(join(dest, 'small.txt'), 'utf8')).toBe('small');
  });

  it('names the file on corrupt gzip data', async () => {
    const good = gzipSync(writeTar([{ name: 'a', data: payload }]));
    const corrupt = Buffer.from(good);
    corrupt.fill(0xab, 20, 60);
    const file = archive('corrupt.tar.gz', corrupt);
    await expect(extractTarArchive(file, join(dir, 'out-c'))).rejects.toThrow(/corrupt gzip data in .*corrupt\.tar\.gz/);
    const truncated = archive('truncgz.tar.gz', good.subarray(0, good.length - 30));
    await expect(extractTarArchive(truncated, join(dir, 'out-t'))).rejects.toThrow(/corrupt gzip data in .*truncgz\.tar\.gz/);
  });

  it('rejects gzip data that is not a tar archive, and a non-archive file', async () => {
    const gz = archive('text.tar.gz', gzipSync(Buffer.from('just some text\n'.repeat(100))));
    await expect(extractTarArchive(gz, join(dir, 'out-n'))).rejects.toThrow(/not a tar archive: .*text\.tar\.gz/);
    const txt = archive('notes.tar.gz', Buffer.from('x'.repeat(2000)));
    await expect(extractTarArchive(txt, join(dir, 'out-n2'))).rejects.toThrow(DatasetError);
    const empty = archive('empty.tar.gz', gzipSync(Buffer.alloc(0)));
    await expect(extractTarArchive(empty, join(dir, 'out-n3'))).rejects.toThrow(/not a tar archive: .*empty\.tar\.gz/);
  });

  it('rejects a tar that ends inside an entry and paths escaping the destination', async () => {
    const tar = writeTar([{ name: 'a', data: payload }]);
    const cut = archive('cut.tar.gz', gzipSync(tar.subarray(0, 512 + 700)));
    await expect(extractTarArchive(cut, join(dir, 'out-cut'))).rejects.toThrow(/truncated tar archive: .*cut\.tar\.gz/);
    const evil = archive('evil.tar.gz', gzipSync(writeTar([{ name: '../escape.txt', data: Buffer.from('x') }])));
    await expect(extractTarArchive(evil, join(dir, 'out-evil'))).rejects.toThrow(/unsafe path .*\.\.\/escape\.txt/);
    expect(existsSync(join(dir, 'escape.txt'))).toBe(false);
  });
});

describe('TarStreamParser', () => {
  it('gives the same entries whatever the chunk boundaries', () => {
    const tar = writeTar([{ name: 'one', data: payload }, { name: 'two', data: Buffer.from('2') }]);
    for (const chunkSize of [1, 7, 511, 512, 513, 100_000]) {
      const seen: Array<TarEntryHeader & { data: Buffer }> = [];
      const parser = new TarStreamParser('mem.tar', (header) => {
        const parts: Buffer[] = [];
        return {
          write: (c) => parts.push(Buffer.from(c)),
          end: () => seen.push({ ...header, data: Buffer.concat(parts) }),
        };
      });
      for (let i = 0; i < tar.length; i += chunkSize) parser.push(tar.subarray(i, i + chunkSize));
      parser.finish();
      expect(seen.map((e) => [e.name, e.size, e.type])).toEqual([['one', payload.length, '0'], ['two', 1, '0']]);
      expect(seen[0].data.equals(payload)).toBe(true);
    }
  });
});
