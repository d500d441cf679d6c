import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGlueTsv, readGlueTask } from './read.js';
import { verifyGlueTaskDir } from './verify.js';
import { GLUE_TASKS } from './tasks.js';
import { DatasetError } from '../errors.js';
import { GLUE_FIXTURE_ROWS, writeGlueFixture } from './glue-fixture.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'prunebench-glue-read-'));
  for (const t of ['sst2', 'cola', 'mrpc', 'rte'] as const) writeGlueFixture(join(root, 'glue'), t);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('readGlueTask: each task quirk', () => {
  it('SST-2: header sentence\\tlabel, text kept verbatim (trailing space, unbalanced quote)', () => {
    const train = readGlueTask('sst2', 'train', join(root, 'glue', 'SST-2'));
    expect(train).toEqual([
      { textA: 'hide new secretions from the parental units ', label: 0 },
      { textA: 'the "best movie of the year', label: 1 },
      { textA: 'a gorgeous , witty film ', label: 1 },
    ]);
    expect(readGlueTask('sst2', 'test', join(root, 'glue', 'SST-2'))).toEqual([
      { textA: 'uneasy mishmash of styles .', label: null },
      { textA: 'a "quoted', label: null },
    ]);
  });

  it('CoLA: no header, 4 columns (source, label, mark, sentence)', () => {
    const train = readGlueTask('cola', 'train', join(root, 'glue', 'CoLA'));
    expect(train.map((e) => e.label)).toEqual([1, 0, 1]);
    expect(train[1]).toEqual({ textA: 'They drank the pub.', label: 0 });
    expect(train[2].textA).toBe('He said "hi.');
    expect(readGlueTask('cola', 'test', join(root, 'glue', 'CoLA'))).toEqual([{ textA: 'Bill whistled past the house.', label: null }]);
  });

  it('MRPC: UTF-8 BOM before the header; pairs from #1 String / #2 String; label from Quality', () => {
    const train = readGlueTask('mrpc', 'train', join(root, 'glue', 'MRPC'));
    expect(train[0]).toEqual({ textA: 'Amrozi called him "the witness".', textB: 'Referring to him as only "the witness", Amrozi accused.', label: 1 });
    expect(train[1].label).toBe(0);
    expect(readGlueTask('mrpc', 'test', join(root, 'glue', 'MRPC'))).toEqual([{ textA: "PCCW's chief.", textB: 'Current chief.', label: null }]);
  });

  it('RTE: word labels, entailment → 0, not_entailment → 1', () => {
    const train = readGlueTask('rte', 'train', join(root, 'glue', 'RTE'));
    expect(train.map((e) => e.label)).toEqual([1, 0]);
    expect(train[1]).toEqual({ textA: 'Pope Benedict was installed.', textB: 'Pope Benedict XVI is the new pope.', label: 0 });
    expect(readGlueTask('rte', 'test', join(root, 'glue', 'RTE'))[0].label).toBeNull();
  });

  it('accepts the GLUE root in place of the task folder', () => {
    expect(readGlueTask('rte', 'dev', join(root, 'glue'))).toHaveLength(1);
  });

  it('tolerates CRLF line endings and a missing final newline', () => {
    const text = 'sentence\tlabel\r\nfine\t1\r\nbad\t0';
    expect(parseGlueTsv('sst2', 'train', text, 'x.tsv')).toEqual([
      { textA: 'fine', label: 1 },
      { textA: 'bad', label: 0 },
    ]);
  });
});

describe('readGlueTask: errors name the file and line', () => {
  const bad = (task: 'sst2' | 'cola' | 'mrpc' | 'rte', split: 'train' | 'dev' | 'test', text: string) => () => parseGlueTsv(task, split, text, '/d/bad.tsv');

  it('missing file', () => {
    expect(() => readGlueTask('sst2', 'train', join(root, 'nowhere'))).toThrow(DatasetError);
    expect(() => readGlueTask('sst2', 'train', join(root, 'nowhere'))).toThrow(/nowhere\/train\.tsv: file not found/);
  });
  it('wrong header', () => {
    expect(bad('sst2', 'train', 'label\tsentence\nx\t1\n')).toThrow(/\/d\/bad\.tsv:1: unexpected header "label\\tsentence".*expected "sentence\\tlabel"/);
    expect(bad('rte', 'test', 'index\tsentence1\tsentence2\tlabel\n')).toThrow(/bad\.tsv:1: unexpected header/);
  });
  it('bad numeric label, bad word label', () => {
    expect(bad('sst2', 'train', 'sentence\tlabel\nok\t1\nno\t2\n')).toThrow(/bad\.tsv:3: bad label "2" for SST-2 \(expected an integer 0\.\.1\)/);
    expect(bad('cola', 'dev', 'gj04\tx\t\tSentence.\n')).toThrow(/bad\.tsv:1: bad label "x"/);
    expect(bad('rte', 'dev', 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tcontradiction\n')).toThrow(/bad\.tsv:2: bad label "contradiction" for RTE \(expected one of entailment, not_entailment\)/);
  });
  it('wrong column count, empty line', () => {
    expect(bad('cola', 'train', 'gj04\t1\t\tfine.\ngj04\t1\tfine too.\n')).toThrow(/bad\.tsv:2: expected 4 tab-separated columns for CoLA train, found 3/);
    expect(bad('mrpc', 'dev', '\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta\tb\textra\n')).toThrow(/bad\.tsv:2: expected 5 .* found 6/);
    expect(bad('sst2', 'dev', 'sentence\tlabel\na\t1\n\nb\t0\n')).toThrow(/bad\.tsv:3: .*found 1 \(empty line\)/);
  });
  it('empty file where a header is expected', () => {
    expect(bad('rte', 'train', '')).toThrow(/bad\.tsv: empty file/);
  });
});

describe('verifyGlueTaskDir', () => {
  it('checks row counts (official by default) and reports what it found', () => {
    const dir = join(root, 'glue', 'SST-2');
    expect(verifyGlueTaskDir('sst2', dir, { expectedRows: GLUE_FIXTURE_ROWS.sst2 })).toEqual(GLUE_FIXTURE_ROWS.sst2);
    expect(verifyGlueTaskDir('sst2', dir, { expectedRows: false })).toEqual(GLUE_FIXTURE_ROWS.sst2);
    expect(() => verifyGlueTaskDir('sst2', dir)).toThrow(new RegExp(`train\\.tsv has 3 rows, expected ${GLUE_TASKS.sst2.rows.train}`));
  });
  it('train and dev are required, test is optional', () => {
    const dir = writeGlueFixture(join(root, 'partial'), 'cola', { test: null });
    expect(verifyGlueTaskDir('cola', dir, { expectedRows: false })).toEqual({ train: 3, dev: 2 });
    const noDev = writeGlueFixture(join(root, 'partial2'), 'cola', { dev: null });
    expect(() => verifyGlueTaskDir('cola', noDev, { expectedRows: false })).toThrow(/has no dev\.tsv/);
  });
  it('a bad row anywhere fails verification', () => {
    const dir = join(root, 'badrow', 'RTE');
    mkdirSync(dir, { recursive: true });
    writeGlueFixture(join(root, 'badrow'), 'rte');
    writeFileSync(join(dir, 'test.tsv'), 'index\tsentence1\tsentence2\n0\tonly one\n');
    expect(() => verifyGlueTaskDir('rte', dir, { expectedRows: false })).toThrow(/test\.tsv:2: expected 3/);
  });
});
