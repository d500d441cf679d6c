import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findRepoRoot } from '@prunebench/engine';
import { resolvePretrainedResNet, type FetchLike } from './weights.js';

const realWeights = process.env.PRUNEBENCH_WEIGHTS;
const th20 = realWeights ? join(realWeights, 'resnet-cifar10', 'resnet20-12fca82f.th') : '';
if (!realWeights) console.warn('SKIPPED: weight download/cache tests with the real checkpoint need PRUNEBENCH_WEIGHTS');

const root = mkdtempSync(join(tmpdir(), 'prunebench-weights-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fakeFetch(body: Uint8Array, calls: string[], status = 200): FetchLike {
  return async (url) => {
    calls.push(url);
    return { ok: status === 200, status, arrayBuffer: async () => body.slice().buffer };
  };
}

describe('resolvePretrainedResNet', () => {
  let savedEnv: string | undefined;
  beforeEach(() => {
    savedEnv = process.env.PRUNEBENCH_WEIGHTS;
    delete process.env.PRUNEBENCH_WEIGHTS;
  });
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.PRUNEBENCH_WEIGHTS;
    else process.env.PRUNEBENCH_WEIGHTS = savedEnv;
  });

  it('rejects a download whose sha256 does not match the name and caches nothing', async () => {
    const cacheDir = join(root, 'cache-bad');
    const calls: string[] = [];
    await expect(
      resolvePretrainedResNet(56, { cacheDir, fetch: fakeFetch(new TextEncoder().encode('not a checkpoint'), calls) }),
    ).rejects.toThrow(/sha256 starts [0-9a-f]{8}, expected 4bfd9763/);
    expect(calls).toEqual(['https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet56-4bfd9763.th']);
    expect(existsSync(cacheDir) ? readdirSync(cacheDir) : []).toEqual([]);
  });

  it('reports HTTP errors, disabled downloads and unknown depths', async () => {
    const calls: string[] = [];
    await expect(resolvePretrainedResNet(20, { cacheDir: join(root, 'c1'), fetch: fakeFetch(new Uint8Array(), calls, 404) })).rejects.toThrow(
      /HTTP 404/,
    );
    await expect(resolvePretrainedResNet(20, { cacheDir: join(root, 'c1'), allowDownload: false })).rejects.toThrow(/downloads are off/);
    await expect(resolvePretrainedResNet(26, { cacheDir: join(root, 'c1') })).rejects.toThrow(/known depths: 20, 32, 44, 56, 110/);
    await expect(resolvePretrainedResNet(20, { weightsDir: join(root, 'nowhere') })).rejects.toThrow(/weightsDir .*nowhere/);
  });

  it('finds the repository root by nx.json', () => {
    expect(existsSync(join(findRepoRoot()!, 'nx.json'))).toBe(true);
  });

  describe.skipIf(!realWeights || !existsSync(th20))('with the real ResNet-20 checkpoint', () => {
    it('downloads once, verifies, caches atomically, then serves from the cache', async () => {
      const cacheDir = join(root, 'cache-good');
      const bytes = new Uint8Array(readFileSync(th20));
      const calls: string[] = [];
      const first = await resolvePretrainedResNet(20, { cacheDir, fetch: fakeFetch(bytes, calls) });
      expect(first).toEqual({ path: join(cacheDir, 'resnet20-12fca82f.th'), format: 'torch', source: 'download' });
      expect(readdirSync(cacheDir)).toEqual(['resnet20-12fca82f.th']); // no temp file left behind
      expect(Buffer.compare(readFileSync(first.path), bytes)).toBe(0);
      const second = await resolvePretrainedResNet(20, { cacheDir, fetch: fakeFetch(bytes, calls) });
      expect(second.source).toBe('cache');
      expect(calls).toHaveLength(1);
    });

    it('prefers weightsDir, then PRUNEBENCH_WEIGHTS, then the cache; safetensors before .th', async () => {
      const dir = join(root, 'mine', 'resnet-cifar10');
      mkdirSync(dir, { recursive: true });
      copyFileSync(th20, join(dir, 'resnet20-12fca82f.th'));
      const cacheDir = join(root, 'cache-good');
      const noFetch: FetchLike = async () => {
        throw new Error('must not download');
      };
      expect(await resolvePretrainedResNet(20, { weightsDir: join(root, 'mine'), cacheDir, fetch: noFetch })).toEqual({
        path: join(dir, 'resnet20-12fca82f.th'), format: 'torch', source: 'weightsDir',
      });
      process.env.PRUNEBENCH_WEIGHTS = realWeights;
      expect(await resolvePretrainedResNet(20, { cacheDir, fetch: noFetch })).toEqual({
        path: join(realWeights!, 'resnet-cifar10', 'resnet20.safetensors'), format: 'safetensors', source: 'env',
      });
      process.env.PRUNEBENCH_WEIGHTS = join(root, 'empty');
      expect((await resolvePretrainedResNet(20, { cacheDir, fetch: noFetch })).source).toBe('cache');
    });
  });
});
