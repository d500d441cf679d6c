/**
 * Finds a usable copy of one GLUE task. Order: opts.source > $PRUNEBENCH_GLUE/<Folder> > $PRUNEBENCH_DATA/glue/<Folder>
 * > the cache (<cacheDir>/glue/<Folder>) > download of the official files (sha256-checked where a checksum is known).
 * Local folders are verified by structure and used in place; archives and downloads are unpacked into a temp
 * folder in the cache, verified, then renamed into place, so a bad download never spoils a good cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, resolve as resolvePath } from 'node:path';
import { ZipFormatError, ZipReader } from '@prunebench/engine';
import { DatasetError } from '../errors.js';
import { downloadWithMd5, type FetchLike } from '../download.js';
import { defaultCacheDir } from '../cache-dir.js';
import { swapInto } from '../swap-into.js';
import { GLUE_SPLITS, glueSplitFile, glueTaskInfo, type GlueTaskInfo, type GlueTaskName } from './tasks.js';
import { verifyGlueTaskDir, type GlueFormatOptions } from './verify.js';
import { GLUE_DOWNLOADS, type GlueDownloadFile } from './sources.js';
import { buildMrpcTsv } from './mrpc.js';

export interface ResolveGlueOptions extends GlueFormatOptions {
  /** The task's folder (holding train.tsv …), a GLUE root holding it (e.g. glue/ with SST-2/), or the task's zip. */
  source?: string;
  /** Default: <repo root>/datasets/cache. Tasks go to <cacheDir>/glue/<Folder>. */
  cacheDir?: string;
  /** Download the official files when nothing local is found (default true). */
  allowDownload?: boolean;
  /** Injected in tests; defaults to the global fetch. */
  fetch?: FetchLike;
  /** Override the official download files (mirrors, tests). */
  downloads?: readonly GlueDownloadFile[];
  /** Environment to read PRUNEBENCH_GLUE / PRUNEBENCH_DATA from (default process.env). */
  env?: Record<string, string | undefined>;
}

const PROVENANCE_FILE = 'prunebench-source.json';

interface Provenance {
  source: string;
  size?: number;
  mtimeMs?: number;
  sha256?: Record<string, string>;
  note?: string;
}

/** Returns the folder holding the task's train.tsv / dev.tsv / test.tsv, verified. */
export async function resolveGlueTask(taskName: GlueTaskName, opts: ResolveGlueOptions = {}): Promise<string> {
  const task = glueTaskInfo(taskName);
  const env = opts.env ?? process.env;
  const cacheRoot = join(resolvePath(opts.cacheDir ?? defaultCacheDir()), 'glue');

  if (opts.source) return resolveLocalSource(task, opts.source, 'the given path', cacheRoot, opts);
  if (env.PRUNEBENCH_GLUE) return resolveLocalSource(task, env.PRUNEBENCH_GLUE, 'PRUNEBENCH_GLUE', cacheRoot, opts);

  const tried = ['a given path (none)', 'PRUNEBENCH_GLUE (not set)'];
  if (env.PRUNEBENCH_DATA) {
    const folder = join(env.PRUNEBENCH_DATA, 'glue', task.folder);
    if (existsSync(folder)) return resolveLocalSource(task, folder, 'PRUNEBENCH_DATA', cacheRoot, opts);
    tried.push(`PRUNEBENCH_DATA (${folder} does not exist)`);
  } else {
    tried.push('PRUNEBENCH_DATA (not set)');
  }

  const cached = join(cacheRoot, task.folder);
  if (isValidFolder(task, cached, opts)) return cached;
  tried.push(`cache ${cached} (${existsSync(cached) ? 'incomplete or corrupt' : 'empty'})`);

  if (opts.allowDownload === false) {
    throw new DatasetError(`GLUE ${task.folder} not found and downloading is off. Tried: ${tried.join('; ')}. ${howToPoint(task)}`);
  }
  return downloadIntoCache(task, cacheRoot, opts, tried);
}

function howToPoint(task: GlueTaskInfo): string {
  return (
    `To use a local copy, pass { source: "/path/to/glue/${task.folder}" } (or the GLUE root, or ${task.folder}'s zip), ` +
    `or set PRUNEBENCH_GLUE to a folder holding ${task.folder}/, or PRUNEBENCH_DATA to a folder holding glue/${task.folder}/.`
  );
}

function resolveLocalSource(task: GlueTaskInfo, source: string, origin: string, cacheRoot: string, opts: ResolveGlueOptions): Promise<string> | string {
  const path = resolvePath(source);
  if (!existsSync(path)) throw new DatasetError(`GLUE ${task.folder} source from ${origin} does not exist: ${path}`, path);
  if (!statSync(path).isDirectory()) {
    const info = statSync(path);
    return extractZipIntoCache(task, path, cacheRoot, opts, { source: realpathSync(path), size: info.size, mtimeMs: Math.floor(info.mtimeMs) });
  }
  const dir = taskFolderIn(task, path);
  if (!dir) {
    throw new DatasetError(
      `GLUE ${task.folder} source from ${origin} is a folder without the task's files: ${path} ` +
        `(expected ${GLUE_SPLITS.map(glueSplitFile).join(', ')} in it or in its ${task.folder}/ subfolder)`,
      path,
    );
  }
  verifyGlueTaskDir(task.name, dir, opts);
  return dir;
}

/** The folder itself when it holds TSVs of the task, else its <Folder>/ child when that exists; null when neither. */
function taskFolderIn(task: GlueTaskInfo, dir: string): string | null {
  const has = (d: string) => GLUE_SPLITS.some((s) => existsSync(join(d, glueSplitFile(s))));
  if (has(dir)) return dir;
  const child = join(dir, task.folder);
  return existsSync(child) && has(child) ? child : null;
}

function isValidFolder(task: GlueTaskInfo, dir: string, opts: GlueFormatOptions): boolean {
  if (!existsSync(dir)) return false;
  try {
    verifyGlueTaskDir(task.name, dir, opts);
    return true;
  } catch (err) {
    if (err instanceof DatasetError) return false;
    throw err;
  }
}

function readProvenance(dir: string): Provenance | null {
  try {
    return JSON.parse(readFileSync(join(dir, PROVENANCE_FILE), 'utf8')) as Provenance;
  } catch {
    return null;
  }
}

/** Unpacks the files under the zip's <Folder>/ (the folder holding train.tsv) into `target`'s place in the cache. */
async function extractZipIntoCache(task: GlueTaskInfo, archive: string, cacheRoot: string, opts: ResolveGlueOptions, provenance: Provenance): Promise<string> {
  const target = join(cacheRoot, task.folder);
  const old = readProvenance(target);
  if (old && JSON.stringify(old) === JSON.stringify(provenance) && isValidFolder(task, target, opts)) return target;

  const zip = openZip(new Uint8Array(await readFile(archive)), archive);
  const entries = [...zip.entries.values()];
  // The shallowest train.tsv marks the task folder inside the archive (CoLA.zip also holds original/ files).
  const trainEntry = entries
    .filter((e) => !e.isDirectory && (e.name === 'train.tsv' || e.name.endsWith('/train.tsv')) && !e.name.startsWith('__MACOSX/'))
    .sort((a, b) => a.name.length - b.name.length)[0];
  if (!trainEntry) throw new DatasetError(`archive ${archive} holds no train.tsv for GLUE ${task.folder}`, archive);
  const prefix = trainEntry.name.slice(0, trainEntry.name.length - 'train.tsv'.length);

  await mkdir(cacheRoot, { recursive: true });
  const staging = await mkdtemp(join(cacheRoot, '.extract-'));
  try {
    const out = join(staging, task.folder);
    await mkdir(out, { recursive: true });
    for (const entry of entries) {
      if (entry.isDirectory || !entry.name.startsWith(prefix)) continue;
      const rel = normalize(entry.name.slice(prefix.length));
      if (rel.startsWith('..') || rel.startsWith('/')) throw new DatasetError(`archive ${archive}: unsafe path ${entry.name}`, archive);
      const dest = join(out, rel);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, readZipEntryOrFail(zip, entry.name, archive));
    }
    await verifyStaged(task, out, archive, opts);
    await writeFile(join(out, PROVENANCE_FILE), JSON.stringify(provenance, null, 2) + '\n');
    await swapInto(out, target);
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function verifyStaged(task: GlueTaskInfo, dir: string, source: string, opts: GlueFormatOptions): Promise<void> {
  try {
    verifyGlueTaskDir(task.name, dir, opts);
  } catch (err) {
    if (err instanceof DatasetError) throw new DatasetError(`${source} failed verification: ${err.message}`, err.file ?? source);
    throw err;
  }
}

async function sha256OfFile(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

async function downloadIntoCache(task: GlueTaskInfo, cacheRoot: string, opts: ResolveGlueOptions, tried: string[]): Promise<string> {
  const files = opts.downloads ?? GLUE_DOWNLOADS[task.name];
  await mkdir(cacheRoot, { recursive: true });
  const workDir = await mkdtemp(join(cacheRoot, '.download-'));
  try {
    const paths: string[] = [];
    const sums: Record<string, string> = {};
    for (const file of files) {
      const dest = join(workDir, file.fileName);
      try {
        await downloadWithMd5(file.url, dest, { fetch: opts.fetch });
      } catch (err) {
        if (err instanceof DatasetError) throw new DatasetError(`${err.message}. Offline? Tried before downloading: ${tried.join('; ')}. ${howToPoint(task)}`, err.file);
        throw err;
      }
      const sha256 = await sha256OfFile(dest);
      if (file.sha256 && sha256 !== file.sha256.toLowerCase()) {
        throw new DatasetError(`checksum mismatch for ${file.url}: expected sha256 ${file.sha256}, got ${sha256}`, file.url);
      }
      sums[file.url] = sha256;
      paths.push(dest);
    }
    const provenance: Provenance = { source: files.map((f) => f.url).join(' '), sha256: sums };
    if (task.name === 'mrpc') return await buildMrpcIntoCache(task, paths, workDir, cacheRoot, opts, provenance);
    if (paths.length !== 1) throw new DatasetError(`GLUE ${task.folder} download expects one zip, got ${paths.length} files`);
    return await extractZipIntoCache(task, paths[0], cacheRoot, opts, provenance);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** MRPC: msr_paraphrase_train.txt, msr_paraphrase_test.txt, mrpc_dev_ids.tsv (in that order) → GLUE's three TSVs. */
async function buildMrpcIntoCache(task: GlueTaskInfo, paths: string[], workDir: string, cacheRoot: string, opts: ResolveGlueOptions, provenance: Provenance): Promise<string> {
  if (paths.length !== 3) throw new DatasetError(`MRPC download expects 3 files (train, test, dev ids), got ${paths.length}`);
  const [trainText, testText, devIdsText] = await Promise.all(paths.map((p) => readFile(p, 'utf8')));
  const built = buildMrpcTsv(trainText, testText, devIdsText, { train: paths[0], test: paths[1], devIds: paths[2] });
  const out = join(workDir, task.folder);
  await mkdir(out, { recursive: true });
  for (const split of GLUE_SPLITS) await writeFile(join(out, glueSplitFile(split)), built[split]);
  await verifyStaged(task, out, 'MRPC download', opts);
  const note = 'built from the SentEval copies of msr_paraphrase_{train,test}.txt (tokenized text) and GLUE dev ids, as GLUE\'s download script does';
  await writeFile(join(out, PROVENANCE_FILE), JSON.stringify({ ...provenance, note }, null, 2) + '\n');
  const target = join(cacheRoot, task.folder);
  await swapInto(out, target);
  return target;
}

function openZip(bytes: Uint8Array, archive: string): ZipReader {
  try {
    return new ZipReader(bytes, archive);
  } catch (error) {
    throw asDatasetError(error, archive);
  }
}

function readZipEntryOrFail(zip: ZipReader, name: string, archive: string): Uint8Array {
  try {
    return zip.read(name);
  } catch (error) {
    throw asDatasetError(error, archive);
  }
}

function asDatasetError(error: unknown, archive: string): Error {
  return error instanceof ZipFormatError ? new DatasetError(error.message, archive) : (error as Error);
}
