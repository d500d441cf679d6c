/** Test-only: a tiny ustar writer (with GNU long names) to build archives for the reader's tests. */
const BLOCK = 512;

export interface TarWriterEntry {
  name: string;
  /** Omitted for directories. */
  data?: Uint8Array;
  type?: '0' | '5' | '2';
  /** Store names over 100 bytes as a GNU 'L' entry instead of the ustar prefix field. */
  gnuLongName?: boolean;
}

function header(name: string, size: number, type: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name.slice(0, 100), 0, 'utf8');
  block.write('0000644\0', 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  block.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  block.write('00000000000\0', 136, 'latin1');
  block.write(type, 156, 'latin1');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i];
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return block;
}

function padded(data: Uint8Array): Buffer[] {
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return [Buffer.from(data), Buffer.alloc(pad)];
}

export function writeTar(entries: TarWriterEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? (entry.data ? '0' : '5');
    const data = entry.data ?? new Uint8Array(0);
    if (entry.gnuLongName) {
      const longName = Buffer.from(entry.name + '\0', 'utf8');
      parts.push(header('././@LongLink', longName.length, 'L'), ...padded(longName));
    }
    parts.push(header(entry.name, data.length, type), ...padded(data));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
