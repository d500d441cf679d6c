import { describe, it, expect } from 'vitest';
import { join, resolve } from 'node:path';
import { resolveGlueTask } from './resolve.js';
import { readGlueTask } from './read.js';
import { encodeGlueExamples } from './encode.js';
import { GLUE_TASKS, GLUE_TASK_NAMES, type GlueSplit } from './tasks.js';
import { BertTokenizer } from '../text/bert-tokenizer.js';

const dataDir = process.env.PRUNEBENCH_DATA;
const vocabDir = process.env.PRUNEBENCH_VOCAB;
if (!dataDir) console.warn('SKIPPED: real GLUE tests (set PRUNEBENCH_DATA to a folder laid out like ../shared/datasets)');
if (!dataDir || !vocabDir) console.warn('SKIPPED: real GLUE + vocab encoding test (set PRUNEBENCH_DATA and PRUNEBENCH_VOCAB)');

describe.skipIf(!dataDir)('real GLUE files (PRUNEBENCH_DATA)', () => {
  it.each(GLUE_TASK_NAMES)('%s: official row counts, both labels present in train/dev, none in test', async (name) => {
    const task = GLUE_TASKS[name];
    // Verification (headers, columns, labels, counts) happens in resolve; no download, no cache.
    const dir = await resolveGlueTask(name, { env: { PRUNEBENCH_DATA: dataDir }, allowDownload: false, cacheDir: '/nonexistent-cache' });
    expect(dir).toBe(resolve(dataDir!, 'glue', task.folder)); // a relative PRUNEBENCH_DATA comes back absolute
    for (const split of ['train', 'dev', 'test'] as GlueSplit[]) {
      if (name === 'cola' && split === 'test') continue; // the shared copy holds no CoLA test.tsv
      const examples = readGlueTask(name, split, dir);
      expect(examples.length, `${name} ${split}`).toBe(task.rows[split]);
      const labels = new Set(examples.map((e) => e.label));
      expect([...labels].sort(), `${name} ${split}`).toEqual(split === 'test' ? [null] : [0, 1]);
      expect(examples.every((e) => (task.textFields.length === 2) === (e.textB !== undefined))).toBe(true);
      expect(examples.every((e) => e.textA.length > 0)).toBe(true);
    }
  });

  it('MRPC: the BOM is not part of the data; RTE: label words map to GLUE ids', () => {
    const mrpc = readGlueTask('mrpc', 'train', join(dataDir!, 'glue'));
    expect(mrpc[0].textA.startsWith('Amrozi accused his brother')).toBe(true);
    const rte = readGlueTask('rte', 'train', join(dataDir!, 'glue'));
    expect(rte[0].label).toBe(1); // the first RTE train row is not_entailment
  });
});

describe.skipIf(!dataDir || !vocabDir)('real GLUE + bert-base-uncased vocab', () => {
  it('encodes all of RTE dev into fixed-length rows', () => {
    const tokenizer = BertTokenizer.fromVocabFile(join(vocabDir!, 'bert-base-uncased', 'vocab.txt'));
    const examples = readGlueTask('rte', 'dev', join(dataDir!, 'glue'));
    const enc = encodeGlueExamples(examples, tokenizer, 128);
    expect(enc.inputIds.length).toBe(277 * 128);
    for (let i = 0; i < enc.count; i++) {
      const row = enc.inputIds.subarray(i * 128, (i + 1) * 128);
      const mask = enc.attentionMask.subarray(i * 128, (i + 1) * 128);
      const len = mask.reduce((s, m) => s + m, 0);
      expect(row[0]).toBe(101);
      expect(row[len - 1]).toBe(102);
      expect(row.slice(len).every((id) => id === 0)).toBe(true);
      // Exactly two [SEP] in a pair, and token type 1 starts right after the first.
      const seps = [...row.slice(0, len)].flatMap((id, j) => (id === 102 ? [j] : []));
      expect(seps).toHaveLength(2);
      expect(enc.tokenTypeIds[i * 128 + seps[0]]).toBe(0);
      expect(enc.tokenTypeIds[i * 128 + seps[0] + 1]).toBe(1);
    }
    expect(Array.from(enc.labels)).toEqual(examples.map((e) => e.label));
  });
});
