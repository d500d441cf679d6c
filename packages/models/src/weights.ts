import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot } from '@prunebench/engine';
import { parseTorchCheckpoint } from './pytorch/checkpoint.js';
import { createResNetCifar, type ResNetCifarModel } from './resnet-cifar.js';
import { writeFileAtomic } from '@prunebench/engine';
import { readSafetensors } from './safetensors.js';
import { loadStateDict } from './state-dict.js';
import type { TensorMap } from './tensor-map.js';

/**
 * Pretrained CIFAR-10 ResNets from the public `pytorch_resnet_cifar10` repository (BSD-2). The hash in each
 * file name is the first 8 hex digits of the file's sha256.
 */
export const PRETRAINED_RESNET_CIFAR10_HASHES: Readonly<Record<number, string>> = {
  20: '12fca82f',
  32: 'd509ac18',
  44: '014dd654',
  56: '4bfd9763',
  110: '1d1ed7c2',
};

export const PRETRAINED_RESNET_BASE_URL = 'https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models';

/** The subset of `fetch` used here, injectable for tests. */
export type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

export interface ResolvePretrainedOptions {
  /** A folder holding `resnet-cifar10/resnet{N}.safetensors` or `resnet{N}-<hash>.th` (or those files directly). */
  weightsDir?: string;
  /** Download cache (default `<repo root>/datasets/cache/weights`). */
  cacheDir?: string;
  /** Download when no local copy exists (default true). */
  allowDownload?: boolean;
  fetch?: FetchLike;
  log?: (message: string) => void;
}

export interface ResolvedWeights {
  path: string;
  format: 'safetensors' | 'torch';
  source: 'weightsDir' | 'env' | 'cache' | 'download';
}

function hashFor(depth: number): string {
  const hash = PRETRAINED_RESNET_CIFAR10_HASHES[depth];
  if (!hash) {
    throw new Error(`no pretrained resnet-cifar for depth ${depth}; known depths: ${Object.keys(PRETRAINED_RESNET_CIFAR10_HASHES).join(', ')}`);
  }
  return hash;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}


export function defaultWeightsCacheDir(): string {
  const root = findRepoRoot() ?? findRepoRoot(dirname(fileURLToPath(import.meta.url)));
  if (!root) throw new Error('cannot find the repository root (a folder with nx.json); pass cacheDir');
  return join(root, 'datasets', 'cache', 'weights');
}

function findInDir(dir: string, depth: number): Omit<ResolvedWeights, 'source'> | null {
  const hash = hashFor(depth);
  for (const folder of [join(dir, 'resnet-cifar10'), dir]) {
    const st = join(folder, `resnet${depth}.safetensors`);
    if (existsSync(st)) return { path: st, format: 'safetensors' };
    const th = join(folder, `resnet${depth}-${hash}.th`);
    if (existsSync(th)) return { path: th, format: 'torch' };
  }
  return null;
}

function verifyHash(bytes: Uint8Array, depth: number, what: string): void {
  const expected = hashFor(depth);
  const actual = sha256Hex(bytes).slice(0, 8);
  if (actual !== expected) {
    throw new Error(`${what}: sha256 starts ${actual}, expected ${expected} (resnet${depth}); corrupt or wrong file`);
  }
}

/**
 * Where the pretrained ResNet-{depth} weights are: `weightsDir` > env PRUNEBENCH_WEIGHTS > download cache >
 * download (sha256-verified, written to the cache atomically).
 */
export async function resolvePretrainedResNet(depth: number, options: ResolvePretrainedOptions = {}): Promise<ResolvedWeights> {
  const hash = hashFor(depth);
  const fileName = `resnet${depth}-${hash}.th`;
  if (options.weightsDir) {
    const found = findInDir(options.weightsDir, depth);
    if (!found) {
      throw new Error(`weightsDir ${options.weightsDir} holds neither resnet-cifar10/resnet${depth}.safetensors nor ${fileName}`);
    }
    return { ...found, source: 'weightsDir' };
  }
  const envDir = process.env.PRUNEBENCH_WEIGHTS;
  if (envDir) {
    const found = findInDir(envDir, depth);
    if (found) return { ...found, source: 'env' };
    options.log?.(`PRUNEBENCH_WEIGHTS=${envDir} has no resnet${depth} weights; trying the cache`);
  }
  const cacheDir = options.cacheDir ?? defaultWeightsCacheDir();
  const cached = join(cacheDir, fileName);
  if (existsSync(cached)) return { path: cached, format: 'torch', source: 'cache' };
  if (options.allowDownload === false) {
    throw new Error(`resnet${depth} weights not found (no weightsDir, PRUNEBENCH_WEIGHTS, or ${cached}) and downloads are off`);
  }
  const url = `${PRETRAINED_RESNET_BASE_URL}/${fileName}`;
  const fetchFn: FetchLike = options.fetch ?? ((u) => fetch(u));
  options.log?.(`downloading ${url}`);
  const response = await fetchFn(url);
  if (!response.ok) throw new Error(`downloading ${url} failed: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  verifyHash(bytes, depth, `download of ${url}`);
  writeFileAtomic(cached, bytes);
  return { path: cached, format: 'torch', source: 'download' };
}

/** Read resolved weights as a PyTorch-layout state dict (checkpoint hashes verified). */
export async function readPretrainedTensors(resolved: ResolvedWeights, depth: number): Promise<TensorMap> {
  if (resolved.format === 'safetensors') return readSafetensors(resolved.path);
  const bytes = new Uint8Array(readFileSync(resolved.path));
  verifyHash(bytes, depth, resolved.path);
  return parseTorchCheckpoint(bytes, resolved.path).stateDict;
}

/** The pretrained CIFAR-10 ResNet-{depth} (reference arch, 10 classes), weights loaded strictly. */
export async function loadPretrainedResNet(depth: number, options: ResolvePretrainedOptions = {}): Promise<ResNetCifarModel> {
  const resolved = await resolvePretrainedResNet(depth, options);
  const tensors = await readPretrainedTensors(resolved, depth);
  const model = createResNetCifar(depth);
  try {
    loadStateDict(model, tensors, { strict: true });
  } catch (err) {
    model.dispose();
    throw new Error(`${resolved.path}: ${(err as Error).message}`);
  }
  return model;
}
