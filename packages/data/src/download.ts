/** Streams a URL to a file while computing its md5; the caller decides what to do with a mismatch. */
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { DatasetError } from './errors.js';

/** The subset of the global fetch we use; tests inject a fake one. */
export type FetchLike = (url: string) => Promise<Response>;

export interface DownloadOptions {
  fetch?: FetchLike;
  /** When given, a mismatch deletes the file and throws a DatasetError (expected vs got). */
  expectedMd5?: string;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** Downloads `url` to `dest` and returns the md5 (hex) of what was written. */
export async function downloadWithMd5(url: string, dest: string, opts: DownloadOptions = {}): Promise<string> {
  const fetchFn = opts.fetch ?? ((u: string) => fetch(u));
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new DatasetError(`could not download ${url}: ${why}`, url);
  }
  if (!response.ok || !response.body) {
    throw new DatasetError(`could not download ${url}: HTTP ${response.status} ${response.statusText}`.trim(), url);
  }
  const total = Number(response.headers.get('content-length') ?? 0);
  const hash = createHash('md5');
  const out = await open(dest, 'w');
  let done = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      await out.write(chunk);
      done += chunk.length;
      opts.onProgress?.(done, total);
    }
  } catch (err) {
    await out.close();
    await rm(dest, { force: true });
    throw new DatasetError(`download of ${url} broke off after ${done} bytes: ${(err as Error).message}`, url);
  }
  await out.close();
  const md5 = hash.digest('hex');
  if (opts.expectedMd5 && md5 !== opts.expectedMd5.toLowerCase()) {
    await rm(dest, { force: true });
    throw new DatasetError(`checksum mismatch for ${url}: expected md5 ${opts.expectedMd5}, got ${md5} (${done} bytes)`, url);
  }
  return md5;
}
