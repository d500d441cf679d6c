/**
 * A small streaming reader for (gzipped) tar archives: POSIX ustar headers, GNU long names ('L'),
 * and pax `path=` records ('x'). Only regular files and directories are extracted; links and devices
 * are skipped. Entry names that would escape the destination (absolute, `..`) are refused.
 */
import { createReadStream, mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { stat, open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { join, dirname, normalize, isAbsolute, sep } from 'node:path';
import { DatasetError } from './errors.js';

const BLOCK = 512;

export interface TarEntryHeader {
  /** Path inside the archive (long-name / pax / prefix resolved). */
  name: string;
  size: number;
  /** '0' regular file, '5' directory, others as in the tar format. */
  type: string;
}

/** Receives the bytes of one entry; `end` is called once all `size` bytes were written. */
export interface TarEntrySink {
  write(chunk: Uint8Array): void;
  end(): void;
}

/**
 * Incremental tar parser: feed it chunks with `push`, call `finish` at the end of input.
 * `onEntry` returns a sink for the entry's data, or null to skip it.
 */
export class TarStreamParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current entry's data still to pass through, then padding to skip. */
  private dataLeft = 0;
  private padLeft = 0;
  private sink: TarEntrySink | null = null;
  /** Collected data of a metadata entry (GNU long name or pax header). */
  private meta: { kind: 'L' | 'x' | 'skip'; parts: Buffer[] } | null = null;
  private nextName: string | null = null;
  private headersSeen = 0;
  private ended = false;

  constructor(
    private readonly archive: string,
    private readonly onEntry: (header: TarEntryHeader) => TarEntrySink | null,
  ) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.ended) return; // bytes after the end-of-archive marker are ignored
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, chunk.length - offset);
        this.emitData(chunk.subarray(offset, offset + n));
        offset += n;
        this.dataLeft -= n;
        if (this.dataLeft === 0) this.finishEntryData();
        continue;
      }
      if (this.padLeft > 0) {
        const n = Math.min(this.padLeft, chunk.length - offset);
        offset += n;
        this.padLeft -= n;
        continue;
      }
      // Collect one 512-byte header block.
      const need = BLOCK - this.pendingBytes;
      const take = Math.min(need, chunk.length - offset);
      this.pending.push(chunk.subarray(offset, offset + take));
      this.pendingBytes += take;
      offset += take;
      if (this.pendingBytes === BLOCK) {
        const block = Buffer.concat(this.pending, BLOCK);
        this.pending = [];
        this.pendingBytes = 0;
        this.handleHeader(block);
      }
    }
  }

  /** Call at end of input: throws if the archive stopped inside an entry or held no header at all. */
  finish(): void {
    if (this.dataLeft > 0 || this.pendingBytes > 0) {
      throw new DatasetError(`truncated tar archive: ${this.archive} ends inside an entry`, this.archive);
    }
    if (this.headersSeen === 0) {
      throw new DatasetError(`not a tar archive: ${this.archive} is empty`, this.archive);
    }
  }

  private handleHeader(block: Buffer): void {
    if (isZeroBlock(block)) {
      // Two zero blocks end the archive; accept one (some writers stop there) by ending here.
      if (this.headersSeen === 0) throw new DatasetError(`not a tar archive: ${this.archive} starts with an empty block`, this.archive);
      this.ended = true;
      return;
    }
    if (!checksumMatches(block)) {
      throw new DatasetError(
        this.headersSeen === 0
          ? `not a tar archive: ${this.archive} (first header block has no valid tar checksum)`
          : `corrupt tar archive: ${this.archive} (bad header checksum after ${this.headersSeen} entries)`,
        this.archive,
      );
    }
    this.headersSeen++;
    const size = parseSize(block.subarray(124, 136), this.archive);
    const typeByte = block[156];
    const type = typeByte === 0 ? '0' : String.fromCharCode(typeByte);
    this.dataLeft = size;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;

    if (type === 'L' || type === 'x' || type === 'g' || type === 'K') {
      this.meta = { kind: type === 'L' ? 'L' : type === 'x' ? 'x' : 'skip', parts: [] };
    } else {
      let name = this.nextName ?? headerName(block);
      this.nextName = null;
      if (type === '5' && name.endsWith('/')) name = name.slice(0, -1);
      this.sink = this.onEntry({ name, size, type });
    }
    if (size === 0) this.finishEntryData();
  }

  private emitData(chunk: Buffer): void {
    if (this.meta) this.meta.parts.push(Buffer.from(chunk));
    else if (this.sink) this.sink.write(chunk);
  }

  private finishEntryData(): void {
    if (this.meta) {
      const text = Buffer.concat(this.meta.parts).toString('utf8');
      if (this.meta.kind === 'L') this.nextName = text.replace(/\0+$/, '');
      else if (this.meta.kind === 'x') {
        const path = parsePaxPath(text);
        if (path !== null) this.nextName = path;
      }
      this.meta = null;
    } else if (this.sink) {
      this.sink.end();
      this.sink = null;
    }
  }
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function checksumMatches(block: Buffer): boolean {
  const field = cString(block.subarray(148, 156)).trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const expected = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b; // some old writers summed signed bytes
  }
  return expected === unsigned || expected === signed;
}

function parseSize(field: Buffer, archive: string): number {
  if (field[0] & 0x80) {
    // GNU base-256 encoding for sizes >= 8 GiB.
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    return value;
  }
  const text = cString(field).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new DatasetError(`corrupt tar archive: ${archive} (bad size field "${text}")`, archive);
  return parseInt(text, 8);
}

function headerName(block: Buffer): string {
  const name = cString(block.subarray(0, 100));
  const magic = block.subarray(257, 263).toString('latin1');
  const prefix = magic === 'ustar\0' ? cString(block.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/** A pax extended header is a list of "<len> key=value\n" records; we only need `path`. */
function parsePaxPath(text: string): string | null {
  let i = 0;
  while (i < text.length) {
    const space = text.indexOf(' ', i);
    if (space === -1) break;
    const len = parseInt(text.slice(i, space), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = text.slice(space + 1, i + len - 1);
    const eq = record.indexOf('=');
    if (eq !== -1 && record.slice(0, eq) === 'path') return record.slice(eq + 1);
    i += len;
  }
  return null;
}

/** Resolves `name` under `destDir`, refusing names that would land outside it. */
function safeJoin(destDir: string, name: string, archive: string): string {
  const cleaned = normalize(name);
  if (isAbsolute(name) || cleaned === '..' || cleaned.startsWith(`..${sep}`)) {
    throw new DatasetError(`unsafe path in tar archive ${archive}: "${name}"`, archive);
  }
  return join(destDir, cleaned);
}

export interface ExtractOptions {
  /** Called with compressed bytes read so far and the archive's size (for progress bars). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Return false to skip an entry. */
  filter?: (name: string) => boolean;
}

/**
 * Extracts a .tar.gz (or plain .tar, detected by the gzip magic bytes) into `destDir`.
 * Returns the names of the regular files written.
 */
export async function extractTarArchive(archive: string, destDir: string, opts: ExtractOptions = {}): Promise<string[]> {
  const { size: totalBytes } = await stat(archive);
  const gzipped = await startsWithGzipMagic(archive);
  const written: string[] = [];
  let openFd: number | null = null;
  const parser = new TarStreamParser(archive, (header) => {
    if (opts.filter && !opts.filter(header.name)) return null;
    const target = safeJoin(destDir, header.name, archive);
    if (header.type === '5') {
      mkdirSync(target, { recursive: true });
      return null;
    }
    if (header.type !== '0' && header.type !== '7') return null; // links, devices, fifos: skipped
    mkdirSync(dirname(target), { recursive: true });
    const fd = openSync(target, 'w');
    openFd = fd;
    written.push(header.name);
    return {
      write: (chunk) => {
        writeSync(fd, chunk);
      },
      end: () => {
        closeSync(fd);
        openFd = null;
      },
    };
  });

  const raw = createReadStream(archive, { highWaterMark: 1 << 20 });
  let readBytes = 0;
  raw.on('data', (chunk) => {
    readBytes += chunk.length;
    opts.onProgress?.(readBytes, totalBytes);
  });
  const stream = gzipped ? raw.pipe(createGunzip()) : raw;
  if (gzipped) raw.on('error', (err) => stream.destroy(err));
  try {
    // After a tar-level error, keep reading: a gzip error (its CRC is only checked at the end) is the
    // root cause and takes precedence.
    let tarError: unknown = null;
    for await (const chunk of stream) {
      if (tarError) continue;
      try {
        parser.push(chunk as Buffer);
      } catch (err) {
        tarError = err;
      }
    }
    if (tarError) throw tarError;
    parser.finish();
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_')) {
      throw new DatasetError(`corrupt gzip data in ${archive}: ${(err as Error).message}`, archive);
    }
    throw err;
  } finally {
    raw.destroy();
    if (openFd !== null) closeSync(openFd);
  }
  return written;
}

async function startsWithGzipMagic(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await handle.close();
  }
}
