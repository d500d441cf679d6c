/**
 * Finds a usable CIFAR-10 binary folder. Order: opts.source > $PRUNEBENCH_CIFAR10 > $PRUNEBENCH_DATA/cifar-10/
 * > the cache > download of the official archive (md5-checked). Archives are extracted into the cache through
 * a temp folder that is verified before it replaces the cached copy, so a bad archive never spoils a good cache.
 */
import { existsSync, statSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { DatasetError } from '../errors.js';
import { extractTarArchive } from '../tar.js';
import { downloadWithMd5, type FetchLike } from '../download.js';
import { defaultCacheDir } from '../cache-dir.js';
import { swapInto } from '../swap-into.js';
import { CIFAR10_ARCHIVE_ROOT, CIFAR10_BATCH_FILES, CIFAR10_MD5, CIFAR10_META_FILE, CIFAR10_URL } from './format.js';
import { verifyCifar10Dir, type Cifar10FormatOptions } from './verify.js';

export type ProgressPhase = 'download' | 'extract';

export interface ResolveCifar10Options extends Cifar10FormatOptions {
  /** A .tar.gz, the extracted cifar-10-batches-bin/ folder, or its parent. */
  source?: string;
  /** Default: <repo root>/datasets/cache. CIFAR-10 goes to <cacheDir>/cifar10/cifar-10-batches-bin. */
  cacheDir?: string;
  /** Download the official archive when nothing local is found (default true). */
  allowDownload?: boolean;
  onProgress?: (doneBytes: number, totalBytes: number, phase: ProgressPhase) => void;
  /** Injected in tests; defaults to the global fetch. */
  fetch?: FetchLike;
  /** Override the official URL/md5 (mirrors, tests). */
  url?: string;
  md5?: string;
  /** Environment to read PRUNEBENCH_CIFAR10 / PRUNEBENCH_DATA from (default process.env). */
  env?: Record<string, string | undefined>;
}

/** Written next to the cached batches: where they came from, so a changed archive is re-extracted. */
const PROVENANCE_FILE = 'prunebench-source.json';

interface Provenance {
  archive: string;
  size?: number;
  mtimeMs?: number;
  md5?: string;
}

export async function resolveCifar10(opts: ResolveCifar10Options = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const cacheRoot = join(resolvePath(opts.cacheDir ?? defaultCacheDir()), 'cifar10');

  if (opts.source) return resolveLocalSource(opts.source, 'the given path', cacheRoot, opts);
  if (env.PRUNEBENCH_CIFAR10) return resolveLocalSource(env.PRUNEBENCH_CIFAR10, 'PRUNEBENCH_CIFAR10', cacheRoot, opts);

  const tried: string[] = ['a given path (none)', 'PRUNEBENCH_CIFAR10 (not set)'];
  if (env.PRUNEBENCH_DATA) {
    const base = join(env.PRUNEBENCH_DATA, 'cifar-10');
    const folder = join(base, CIFAR10_ARCHIVE_ROOT);
    const archive = join(base, 'cifar-10-binary.tar.gz');
    if (existsSync(folder)) return resolveLocalSource(folder, 'PRUNEBENCH_DATA', cacheRoot, opts);
    if (existsSync(archive)) return resolveLocalSource(archive, 'PRUNEBENCH_DATA', cacheRoot, opts);
    tried.push(`PRUNEBENCH_DATA (${base} holds neither ${CIFAR10_ARCHIVE_ROOT}/ nor cifar-10-binary.tar.gz)`);
  } else {
    tried.push('PRUNEBENCH_DATA (not set)');
  }

  const cached = join(cacheRoot, CIFAR10_ARCHIVE_ROOT);
  if (await isValidFolder(cached, opts)) return cached;
  tried.push(`cache ${cached} (${existsSync(cached) ? 'incomplete or corrupt' : 'empty'})`);

  if (opts.allowDownload === false) {
    throw new DatasetError(`CIFAR-10 not found and downloading is off. Tried: ${tried.join('; ')}. ${HOW_TO_POINT}`);
  }
  return downloadIntoCache(cacheRoot, opts);
}

const HOW_TO_POINT =
  'To use a local copy, pass { source: "/path/to/cifar-10-binary.tar.gz" } (or the extracted cifar-10-batches-bin/ folder), ' +
  'or set PRUNEBENCH_CIFAR10 to that path, or set PRUNEBENCH_DATA to a folder holding cifar-10/cifar-10-binary.tar.gz.';

async function resolveLocalSource(source: string, origin: string, cacheRoot: string, opts: ResolveCifar10Options): Promise<string> {
  const path = resolvePath(source);
  if (!existsSync(path)) throw new DatasetError(`CIFAR-10 source from ${origin} does not exist: ${path}`, path);
  if (statSync(path).isDirectory()) {
    const dir = batchesFolderIn(path);
    if (!dir) {
      throw new DatasetError(
        `CIFAR-10 source from ${origin} is a folder without CIFAR-10 files: ${path} (expected ${CIFAR10_META_FILE} and ` +
          `${CIFAR10_BATCH_FILES.join(', ')} in it or in its ${CIFAR10_ARCHIVE_ROOT}/ subfolder)`,
        path,
      );
    }
    await verifyCifar10Dir(dir, opts);
    return dir;
  }
  return extractIntoCache(path, cacheRoot, opts, archiveProvenance(path));
}

/** The folder itself when it holds the batch files, else its cifar-10-batches-bin/ child; null when neither. */
function batchesFolderIn(dir: string): string | null {
  const has = (d: string) => [CIFAR10_META_FILE, ...CIFAR10_BATCH_FILES].some((f) => existsSync(join(d, f)));
  if (has(dir)) return dir;
  const child = join(dir, CIFAR10_ARCHIVE_ROOT);
  return existsSync(child) ? child : null;
}

function archiveProvenance(archive: string): Provenance {
  const info = statSync(archive);
  return { archive: realpathSync(archive), size: info.size, mtimeMs: Math.floor(info.mtimeMs) };
}

async function isValidFolder(dir: string, opts: Cifar10FormatOptions): Promise<boolean> {
  if (!existsSync(dir)) return false;
  try {
    await verifyCifar10Dir(dir, opts);
    return true;
  } catch (err) {
    if (err instanceof DatasetError) return false;
    throw err;
  }
}

async function readProvenance(dir: string): Promise<Provenance | null> {
  try {
    return JSON.parse(await readFile(join(dir, PROVENANCE_FILE), 'utf8')) as Provenance;
  } catch {
    return null;
  }
}

function sameProvenance(a: Provenance | null, b: Provenance): boolean {
  return !!a && a.archive === b.archive && a.size === b.size && a.mtimeMs === b.mtimeMs && a.md5 === b.md5;
}

/**
 * Extracts `archive` into <cacheRoot>/cifar-10-batches-bin, unless the cache already holds a verified
 * extraction of the same archive (same path, size and mtime).
 */
async function extractIntoCache(archive: string, cacheRoot: string, opts: ResolveCifar10Options, provenance: Provenance): Promise<string> {
  const target = join(cacheRoot, CIFAR10_ARCHIVE_ROOT);
  if (sameProvenance(await readProvenance(target), provenance) && (await isValidFolder(target, opts))) return target;

  await mkdir(cacheRoot, { recursive: true });
  const staging = await mkdtemp(join(cacheRoot, '.extract-'));
  try {
    await extractTarArchive(archive, staging, {
      onProgress: opts.onProgress && ((done, total) => opts.onProgress?.(done, total, 'extract')),
    });
    const extracted = batchesFolderIn(staging);
    if (!extracted) {
      throw new DatasetError(`archive ${archive} holds no ${CIFAR10_ARCHIVE_ROOT}/ folder with CIFAR-10 files`, archive);
    }
    try {
      await verifyCifar10Dir(extracted, opts);
    } catch (err) {
      if (err instanceof DatasetError) {
        throw new DatasetError(`archive ${archive} failed verification: ${err.message}`, err.file ?? archive);
      }
      throw err;
    }
    await writeFile(join(extracted, PROVENANCE_FILE), JSON.stringify(provenance, null, 2) + '\n');
    await swapInto(extracted, target);
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function downloadIntoCache(cacheRoot: string, opts: ResolveCifar10Options): Promise<string> {
  const url = opts.url ?? CIFAR10_URL;
  const md5 = opts.md5 ?? CIFAR10_MD5;
  await mkdir(cacheRoot, { recursive: true });
  const partial = join(cacheRoot, `.download-${process.pid}-${Date.now()}.tar.gz`);
  try {
    try {
      await downloadWithMd5(url, partial, {
        fetch: opts.fetch,
        expectedMd5: md5,
        onProgress: opts.onProgress && ((done, total) => opts.onProgress?.(done, total, 'download')),
      });
    } catch (err) {
      if (err instanceof DatasetError && !err.message.startsWith('checksum mismatch')) {
        throw new DatasetError(`${err.message}. Offline? ${HOW_TO_POINT}`, err.file);
      }
      throw err;
    }
    return await extractIntoCache(partial, cacheRoot, opts, { archive: url, md5 });
  } finally {
    await rm(partial, { force: true });
  }
}
