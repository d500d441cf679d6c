import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveGlueTask, type ResolveGlueOptions } from './resolve.js';
import { readGlueTask } from './read.js';
import { DatasetError } from '../errors.js';
import { GLUE_FIXTURE_TEXT, writeGlueFixture } from './glue-fixture.js';
import { writeZip } from '@prunebench/engine';
import { GLUE_DOWNLOADS } from './sources.js';

let root: string;
let rteZip: Buffer;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'prunebench-glue-resolve-'));
  for (const t of ['sst2', 'cola', 'mrpc', 'rte'] as const) writeGlueFixture(join(root, 'data', 'glue'), t);
  writeGlueFixture(join(root, 'glue-env'), 'sst2', { train: GLUE_FIXTURE_TEXT.sst2.train + 'one more\t0\n' });
  rteZip = writeZip([
    { name: 'RTE/', data: '' },
    { name: 'RTE/train.tsv', data: GLUE_FIXTURE_TEXT.rte.train, deflate: true },
    { name: 'RTE/dev.tsv', data: GLUE_FIXTURE_TEXT.rte.dev, deflate: true },
    { name: 'RTE/test.tsv', data: GLUE_FIXTURE_TEXT.rte.test },
  ]);
  writeFileSync(join(root, 'RTE.zip'), rteZip);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let cacheCounter = 0;
/** Options isolated from the real environment, cache and network; row counts of the small fixtures are not checked. */
function opts(extra: ResolveGlueOptions = {}): ResolveGlueOptions {
  return {
    expectedRows: false,
    cacheDir: join(root, `cache-${cacheCounter++}`),
    env: {},
    fetch: () => Promise.reject(new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } })),
    ...extra,
  };
}
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const serve = (files: Record<string, Uint8Array | string>) => async (url: string) => {
  const body = files[url];
  return body === undefined ? new Response('missing', { status: 404, statusText: 'Not Found' }) : new Response(body);
};

describe('resolveGlueTask: local sources, in order', () => {
  it('an explicit folder wins: the task folder or the GLUE root; used in place, nothing cached', async () => {
    const o = opts({ env: { PRUNEBENCH_GLUE: join(root, 'glue-env'), PRUNEBENCH_DATA: join(root, 'data') } });
    const taskDir = join(root, 'data', 'glue', 'CoLA');
    expect(await resolveGlueTask('cola', { ...o, source: taskDir })).toBe(taskDir);
    expect(await resolveGlueTask('cola', { ...o, source: join(root, 'data', 'glue') })).toBe(taskDir);
    expect(existsSync(o.cacheDir!)).toBe(false);
  });

  it('then PRUNEBENCH_GLUE, then PRUNEBENCH_DATA/glue', async () => {
    const both = opts({ env: { PRUNEBENCH_GLUE: join(root, 'glue-env'), PRUNEBENCH_DATA: join(root, 'data') } });
    const fromGlue = await resolveGlueTask('sst2', both);
    expect(fromGlue).toBe(join(root, 'glue-env', 'SST-2'));
    expect(readGlueTask('sst2', 'train', fromGlue)).toHaveLength(4);
    expect(await resolveGlueTask('mrpc', opts({ env: { PRUNEBENCH_DATA: join(root, 'data') } }))).toBe(join(root, 'data', 'glue', 'MRPC'));
  });

  it('a PRUNEBENCH_GLUE without the task is an error; a PRUNEBENCH_DATA without it is skipped', async () => {
    await expect(resolveGlueTask('rte', opts({ env: { PRUNEBENCH_GLUE: join(root, 'glue-env') } }))).rejects.toThrow(/from PRUNEBENCH_GLUE is a folder without the task's files/);
    await expect(resolveGlueTask('rte', opts({ env: { PRUNEBENCH_DATA: join(root, 'glue-env') } }))).rejects.toThrow(/ENOTFOUND\. Offline\? Tried before downloading: .*PRUNEBENCH_DATA \(.*glue-env\/glue\/RTE does not exist\)/);
  });

  it('an explicit source that is broken is an error naming the file, not skipped', async () => {
    const broken = writeGlueFixture(join(root, 'broken'), 'sst2', { dev: 'sentence\tlabel\nfine\t7\n' });
    await expect(resolveGlueTask('sst2', opts({ source: broken, env: { PRUNEBENCH_DATA: join(root, 'data') } }))).rejects.toThrow(/broken\/SST-2\/dev\.tsv:2: bad label "7"/);
    await expect(resolveGlueTask('sst2', opts({ source: join(root, 'nope') }))).rejects.toThrow(/does not exist/);
  });

  it('checks the official row counts unless told otherwise', async () => {
    await expect(resolveGlueTask('sst2', { ...opts(), expectedRows: undefined, source: join(root, 'data', 'glue') })).rejects.toThrow(/train\.tsv has 3 rows, expected 67349/);
  });

  it('a zip source is extracted into the cache once, then the cache is used', async () => {
    const o = opts();
    const dir = await resolveGlueTask('rte', { ...o, source: join(root, 'RTE.zip') });
    expect(dir).toBe(join(o.cacheDir!, 'glue', 'RTE'));
    expect(readGlueTask('rte', 'train', dir).map((e) => e.label)).toEqual([1, 0]);
    const provenance = JSON.parse(readFileSync(join(dir, 'prunebench-source.json'), 'utf8'));
    expect(provenance.source).toBe(join(root, 'RTE.zip'));
    // Later calls without a source find the cached copy without touching the network.
    expect(await resolveGlueTask('rte', { ...o, allowDownload: false })).toBe(dir);
  });
});

describe('resolveGlueTask: download (fake fetch, no network)', () => {
  const url = 'https://example.test/RTE.zip';

  it('downloads, checks sha256, extracts and verifies into the cache', async () => {
    const o = opts({ downloads: [{ url, fileName: 'RTE.zip', sha256: sha256(rteZip) }], fetch: serve({ [url]: rteZip }) });
    const dir = await resolveGlueTask('rte', o);
    expect(dir).toBe(join(o.cacheDir!, 'glue', 'RTE'));
    expect(readGlueTask('rte', 'dev', dir)).toEqual([{ textA: 'Dana Reeve has died.', textB: 'Christopher Reeve had an accident.', label: 1 }]);
    expect(JSON.parse(readFileSync(join(dir, 'prunebench-source.json'), 'utf8')).sha256).toEqual({ [url]: sha256(rteZip) });
    expect(readdirSync(join(o.cacheDir!, 'glue'))).toEqual(['RTE']); // no temp files left
  });

  it('a checksum mismatch fails and leaves no cache behind', async () => {
    const o = opts({ downloads: [{ url, fileName: 'RTE.zip', sha256: '0'.repeat(64) }], fetch: serve({ [url]: rteZip }) });
    await expect(resolveGlueTask('rte', o)).rejects.toThrow(/checksum mismatch for https:\/\/example\.test\/RTE\.zip: expected sha256 0{64}, got [0-9a-f]{64}/);
    expect(existsSync(join(o.cacheDir!, 'glue', 'RTE'))).toBe(false);
  });

  it('an archive that fails verification does not replace a good cache', async () => {
    const badZip = writeZip([{ name: 'RTE/train.tsv', data: 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n' }, { name: 'RTE/dev.tsv', data: GLUE_FIXTURE_TEXT.rte.dev }]);
    const o = opts({ downloads: [{ url, fileName: 'RTE.zip', sha256: null }], fetch: serve({ [url]: badZip }) });
    await expect(resolveGlueTask('rte', o)).rejects.toThrow(/failed verification: .*train\.tsv:2: bad label "maybe"/);
    expect(existsSync(join(o.cacheDir!, 'glue', 'RTE'))).toBe(false);
  });

  it('offline: the error says how to point at a local copy; allowDownload false never fetches', async () => {
    await expect(resolveGlueTask('cola', opts())).rejects.toThrow(/could not download https:\/\/dl\.fbaipublicfiles\.com\/glue\/data\/CoLA\.zip: ENOTFOUND\. Offline\? .*PRUNEBENCH_GLUE/);
    let called = false;
    const o = opts({ allowDownload: false, fetch: async () => ((called = true), new Response('')) });
    await expect(resolveGlueTask('cola', o)).rejects.toThrow(DatasetError);
    await expect(resolveGlueTask('cola', o)).rejects.toThrow(/downloading is off\. Tried: .*cache .*\(empty\)/);
    expect(called).toBe(false);
  });

  it('MRPC is built from the Microsoft train/test files and the GLUE dev ids', async () => {
    const header = '\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n';
    const files = {
      [GLUE_DOWNLOADS.mrpc[0].url]: header + '1\t1\t2\tA .\tA !\r\n0\t3\t4\tB .\tB ?\r\n1\t5\t6\tC .\tC !\r\n',
      [GLUE_DOWNLOADS.mrpc[1].url]: header + '1\t7\t8\tD .\tD !\r\n',
      [GLUE_DOWNLOADS.mrpc[2].url]: '3\t4\n',
    };
    const downloads = GLUE_DOWNLOADS.mrpc.map((f) => ({ ...f, sha256: sha256(Buffer.from(files[f.url])) }));
    const o = opts({ downloads, fetch: serve(files) });
    const dir = await resolveGlueTask('mrpc', o);
    expect(readGlueTask('mrpc', 'train', dir).map((e) => e.textA)).toEqual(['A .', 'C .']);
    expect(readGlueTask('mrpc', 'dev', dir)).toEqual([{ textA: 'B .', textB: 'B ?', label: 0 }]);
    expect(readGlueTask('mrpc', 'test', dir)).toEqual([{ textA: 'D .', textB: 'D !', label: null }]);
    expect(JSON.parse(readFileSync(join(dir, 'prunebench-source.json'), 'utf8')).note).toMatch(/SentEval/);
  });
});
