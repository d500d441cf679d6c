import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { resolveCifar10, type ResolveCifar10Options } from './resolve.js';
import { readCifar10 } from './read.js';
import { DatasetError } from '../errors.js';
import { cifar10ArchiveBytes, fixtureLabel, writeCifar10Folder } from '../testing/cifar10-fixture.js';
import { writeTar } from '../testing/tar-writer.js';

const RECORDS = 12;
let root: string;
let archive: string;
let archiveBytes: Buffer;
let folderParent: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'prunebench-cifar-resolve-'));
  archiveBytes = cifar10ArchiveBytes(RECORDS);
  archive = join(root, 'cifar-10-binary.tar.gz');
  writeFileSync(archive, archiveBytes);
  folderParent = join(root, 'extracted');
  writeCifar10Folder(folderParent, RECORDS);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let cacheCounter = 0;
/** Options isolated from the real environment, cache and network. */
function opts(extra: ResolveCifar10Options = {}): ResolveCifar10Options {
  return {
    expectedRecordsPerBatch: RECORDS,
    cacheDir: join(root, `cache-${cacheCounter++}`),
    env: {},
    fetch: () => Promise.reject(new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } })),
    ...extra,
  };
}

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const fakeFetch = (body: Uint8Array) => async () => new Response(body, { headers: { 'content-length': String(body.length) } });

describe('resolveCifar10 from local sources', () => {
  it('uses a folder source in place, given the batches folder or its parent', async () => {
    const batches = join(folderParent, 'cifar-10-batches-bin');
    const o = opts();
    expect(await resolveCifar10({ ...o, source: batches })).toBe(batches);
    expect(await resolveCifar10({ ...o, source: folderParent })).toBe(batches);
    expect(existsSync(o.cacheDir!)).toBe(false); // nothing copied
  });

  it('extracts a tarball source into the cache once, then reuses it', async () => {
    const o = opts();
    const phases = new Set<string>();
    const dir = await resolveCifar10({ ...o, source: archive, onProgress: (_d, _t, phase) => phases.add(phase) });
    expect(dir).toBe(join(o.cacheDir!, 'cifar10', 'cifar-10-batches-bin'));
    expect(phases).toEqual(new Set(['extract']));
    const data = await readCifar10(dir, { expectedRecordsPerBatch: RECORDS });
    expect(data.train.labels[RECORDS + 1]).toBe(fixtureLabel(1, 1));
    // Only the final folder is left in the cache (no temp folders).
    expect(readdirSync(join(o.cacheDir!, 'cifar10'))).toEqual(['cifar-10-batches-bin']);

    phases.clear();
    expect(await resolveCifar10({ ...o, source: archive, onProgress: (_d, _t, phase) => phases.add(phase) })).toBe(dir);
    expect(phases.size).toBe(0); // same archive: not extracted again
  });

  it('follows the order source > PRUNEBENCH_CIFAR10 > PRUNEBENCH_DATA > cache', async () => {
    const batches = join(folderParent, 'cifar-10-batches-bin');
    const dataRoot = join(root, 'data-root');
    writeCifar10Folder(join(dataRoot, 'cifar-10'), RECORDS);
    const fromData = join(dataRoot, 'cifar-10', 'cifar-10-batches-bin');
    const o = opts();

    expect(await resolveCifar10({ ...o, source: batches, env: { PRUNEBENCH_CIFAR10: '/nope', PRUNEBENCH_DATA: dataRoot } })).toBe(batches);
    expect(await resolveCifar10({ ...o, env: { PRUNEBENCH_CIFAR10: folderParent, PRUNEBENCH_DATA: dataRoot } })).toBe(batches);
    expect(await resolveCifar10({ ...o, env: { PRUNEBENCH_DATA: dataRoot } })).toBe(fromData);

    // PRUNEBENCH_DATA with only the tarball: extracted into the cache; afterwards the cache alone suffices.
    const tarRoot = join(root, 'tar-root');
    mkdirSync(join(tarRoot, 'cifar-10'), { recursive: true });
    writeFileSync(join(tarRoot, 'cifar-10', 'cifar-10-binary.tar.gz'), archiveBytes);
    const cached = await resolveCifar10({ ...o, env: { PRUNEBENCH_DATA: tarRoot } });
    expect(cached).toBe(join(o.cacheDir!, 'cifar10', 'cifar-10-batches-bin'));
    expect(await resolveCifar10({ ...o, allowDownload: false })).toBe(cached);
    // A PRUNEBENCH_DATA without cifar-10/ is skipped.
    expect(await resolveCifar10({ ...o, allowDownload: false, env: { PRUNEBENCH_DATA: join(root, 'nothing') } })).toBe(cached);
  });

  it('names a missing source and a folder without CIFAR-10 files', async () => {
    await expect(resolveCifar10(opts({ source: join(root, 'absent.tar.gz') }))).rejects.toThrow(/source from the given path does not exist: .*absent\.tar\.gz/);
    await expect(resolveCifar10(opts({ env: { PRUNEBENCH_CIFAR10: join(root, 'gone') } }))).rejects.toThrow(/PRUNEBENCH_CIFAR10 does not exist/);
    const empty = join(root, 'empty-folder');
    mkdirSync(empty);
    await expect(resolveCifar10(opts({ source: empty }))).rejects.toThrow(/folder without CIFAR-10 files: .*empty-folder/);
  });

  it('never replaces a good cache with a bad archive', async () => {
    const o = opts();
    const dir = await resolveCifar10({ ...o, source: archive });
    const before = readFileSync(join(dir, 'data_batch_1.bin'));

    const corrupt = Buffer.from(archiveBytes);
    corrupt.fill(0x5a, 200, 400);
    const corruptFile = join(root, 'corrupt.tar.gz');
    writeFileSync(corruptFile, corrupt);
    await expect(resolveCifar10({ ...o, source: corruptFile })).rejects.toThrow(/corrupt gzip data in .*corrupt\.tar\.gz/);

    const notTar = join(root, 'not-tar.tar.gz');
    writeFileSync(notTar, gzipSync(Buffer.from('hello\n'.repeat(200))));
    await expect(resolveCifar10({ ...o, source: notTar })).rejects.toThrow(/not a tar archive: .*not-tar\.tar\.gz/);

    // A well-formed archive whose batch file is short fails verification, naming the file.
    const short = join(root, 'short.tar.gz');
    writeFileSync(
      short,
      gzipSync(writeTar([
        { name: 'cifar-10-batches-bin/batches.meta.txt', data: readFileSync(join(dir, 'batches.meta.txt')) },
        { name: 'cifar-10-batches-bin/data_batch_1.bin', data: before.subarray(0, 100) },
      ])),
    );
    await expect(resolveCifar10({ ...o, source: short })).rejects.toThrow(/short\.tar\.gz failed verification: .*data_batch_1\.bin/);

    expect(readFileSync(join(dir, 'data_batch_1.bin')).equals(before)).toBe(true);
    expect(readdirSync(join(o.cacheDir!, 'cifar10'))).toEqual(['cifar-10-batches-bin']);
    expect(await resolveCifar10({ ...o, allowDownload: false })).toBe(dir);
  });
});

describe('resolveCifar10 download (fake fetch, no network)', () => {
  it('downloads, checks the md5 and extracts into the cache', async () => {
    const o = opts();
    const seen: string[] = [];
    const progress: number[] = [];
    const dir = await resolveCifar10({
      ...o,
      md5: md5(archiveBytes),
      fetch: async (url) => {
        seen.push(url);
        return fakeFetch(archiveBytes)();
      },
      onProgress: (done, total, phase) => phase === 'download' && progress.push(done / total),
    });
    expect(seen).toEqual(['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz']);
    expect(progress.at(-1)).toBe(1);
    expect(dir).toBe(join(o.cacheDir!, 'cifar10', 'cifar-10-batches-bin'));
    expect((await readCifar10(dir, { expectedRecordsPerBatch: RECORDS })).test.count).toBe(RECORDS);
    expect(JSON.parse(readFileSync(join(dir, 'prunebench-source.json'), 'utf8')).md5).toBe(md5(archiveBytes));
    expect(readdirSync(join(o.cacheDir!, 'cifar10'))).toEqual(['cifar-10-batches-bin']); // temp tarball removed
  });

  it('rejects a download whose md5 differs (expected vs got) and keeps nothing', async () => {
    const o = opts({ fetch: fakeFetch(archiveBytes) });
    const err = await resolveCifar10(o).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain('checksum mismatch for https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
    expect(err.message).toContain(`expected md5 c32a1d4ab5d03f1284b67883e8d87530, got ${md5(archiveBytes)}`);
    expect(readdirSync(join(o.cacheDir!, 'cifar10'))).toEqual([]);
  });

  it('says how to point at a local copy when offline or the server refuses', async () => {
    await expect(resolveCifar10(opts())).rejects.toThrow(/could not download .*ENOTFOUND.*PRUNEBENCH_CIFAR10/);
    const refused = opts({ fetch: async () => new Response('gone', { status: 404, statusText: 'Not Found' }) });
    await expect(resolveCifar10(refused)).rejects.toThrow(/HTTP 404 Not Found.*source/);
  });

  it('does not download when allowDownload is false', async () => {
    let called = false;
    const o = opts({ allowDownload: false, fetch: async () => ((called = true), fakeFetch(archiveBytes)()) });
    await expect(resolveCifar10(o)).rejects.toThrow(/downloading is off.*PRUNEBENCH_DATA \(not set\).*cache .* \(empty\)/);
    expect(called).toBe(false);
  });
});
