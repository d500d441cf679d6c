import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRunStore } from './run-store.js';
import { syntheticRecord } from './synthetic-records.js';

const folders: string[] = [];
function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prunebench-store-'));
  folders.push(dir);
  return dir;
}
afterEach(() => folders.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function writeRun(store: string, id: string, content: string): string {
  mkdirSync(join(store, id), { recursive: true });
  const file = join(store, id, 'record.json');
  writeFileSync(file, content);
  return file;
}

describe('readRunStore', () => {
  it('reads good records and reports corrupt, malformed and missing ones by file', () => {
    const store = tempStore();
    const good = syntheticRecord({ method: 'magnitude', target: { kind: 'compression', ratio: 4 }, seed: 0, quality: 0.92 });
    const failed = syntheticRecord({ method: 'snip', target: { kind: 'compression', ratio: 4 }, seed: 0, quality: 0, status: 'failed', error: 'boom' });
    writeRun(store, good.id, JSON.stringify(good));
    writeRun(store, failed.id, JSON.stringify(failed));
    const corrupt = writeRun(store, 'corrupt-run', '{"id": "corrupt-run", "status": ');
    const malformed = writeRun(store, 'malformed-run', JSON.stringify({ id: 'x', status: 'done' }));
    mkdirSync(join(store, 'interrupted-run'));

    const { records, problems } = readRunStore(store);

    expect(records.map((r) => r.id).sort()).toEqual([good.id, failed.id].sort());
    expect(records.find((r) => r.id === failed.id)?.status).toBe('failed');
    const byFile = new Map(problems.map((p) => [p.file, p.message]));
    expect(byFile.get(corrupt)).toMatch(/corrupt JSON/);
    expect(byFile.get(malformed)).toMatch(/status must be/);
    expect(byFile.get(join(store, 'interrupted-run', 'record.json'))).toMatch(/no record\.json/);
    expect(problems).toHaveLength(3);
  });

  it('rejects a completed record without metrics', () => {
    const store = tempStore();
    const record: any = syntheticRecord({ method: 'magnitude', target: null, seed: 0, quality: 0.9 });
    delete record.metrics.compressionRatio;
    const file = writeRun(store, record.id, JSON.stringify(record));
    const { records, problems } = readRunStore(store);
    expect(records).toEqual([]);
    expect(problems).toEqual([{ file, message: expect.stringContaining('metrics.compressionRatio') }]);
  });

  it('throws an error naming a missing store, and returns nothing for an empty one', () => {
    const missing = join(tmpdir(), 'prunebench-no-such-store-x91');
    expect(() => readRunStore(missing)).toThrow(missing);
    expect(readRunStore(tempStore())).toEqual({ records: [], problems: [] });
  });
});
