/**
 * Test helper: a GLUE-shaped SST-2 task small enough for any backend, a software GPU included: 60 synthetic
 * training sentences (label 1 iff the sentence holds a positive word), 12 dev rows, a 19-token vocabulary and a
 * BERT of hidden size 8; the dense starting point trains from scratch in 1,920 examples.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRng } from '@prunebench/engine';
import { bertArch, type BertArch } from '@prunebench/models';
import { GLUE_DENSE_TRAINING_RECIPE, GLUE_FINE_TUNE_RECIPE, glueBertTask } from '../tasks/glue-bert.js';
import type { TaskDefinition, TaskEnvironment } from '../tasks/types.js';

const WORDS = ['good', 'great', 'fine', 'bad', 'awful', 'poor', 'the', 'film', 'was', 'a', 'plot', 'very', 'not'];
export const SYNTHETIC_GLUE_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS, '.'];

/** An SST-2-shaped folder: label 1 iff the sentence holds a positive word; `rows.train` train and `rows.dev` dev rows. */
function writeSyntheticSst2(root: string, rows: { train: number; dev: number }): void {
  const rng = new SeededRng(42);
  const sentence = (label: number) => {
    const filler = Array.from({ length: 1 + rng.int(6) }, () => ['the', 'film', 'was', 'a', 'plot', 'very'][rng.int(6)]);
    filler.splice(rng.int(filler.length + 1), 0, label ? ['good', 'great', 'fine'][rng.int(3)] : ['bad', 'awful', 'poor'][rng.int(3)]);
    return `${filler.join(' ')} .`;
  };
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `${sentence(i % 2)}\t${i % 2}`).join('\n');
  mkdirSync(join(root, 'SST-2'), { recursive: true });
  writeFileSync(join(root, 'SST-2', 'train.tsv'), `sentence\tlabel\n${lines(rows.train)}\n`);
  writeFileSync(join(root, 'SST-2', 'dev.tsv'), `sentence\tlabel\n${lines(rows.dev)}\n`);
}

export const syntheticGlueBert = (numLabels: number, vocabSize: number): BertArch =>
  bertArch({ layers: 2, hidden: 8, heads: 2, intermediate: 16, vocabSize, maxPosition: 16, numLabels });

export const SYNTHETIC_GLUE_TASK_ID = 'glue-synthetic-sst2-bert';
export const syntheticGlueTask: TaskDefinition = {
  ...glueBertTask('sst2', 'bert-tiny', { id: SYNTHETIC_GLUE_TASK_ID, arch: syntheticGlueBert, denseExamples: 1920, maxSeqLength: 12, checkRowCounts: false,
    denseRecipe: { ...GLUE_DENSE_TRAINING_RECIPE, learningRate: 1e-2 } }),
  defaultSizing: { trainPerClass: 0, valSize: 12, testSize: 0, evalBatchSize: 16 },
  // a small fine-tuning batch, so the small test budgets make several steps
  recipe: { ...GLUE_FINE_TUNE_RECIPE, batchSize: 8, learningRate: 1e-3 },
};

/** A fresh folder with the synthetic GLUE files (default 60 train and 12 dev rows), vocabulary and an empty checkpoint cache. */
export function syntheticGlueEnvironment(rows = { train: 60, dev: 12 }): TaskEnvironment & { messages: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'glue-bert-'));
  writeSyntheticSst2(join(root, 'glue'), rows);
  mkdirSync(join(root, 'vocab', 'bert-base-uncased'), { recursive: true });
  writeFileSync(join(root, 'vocab', 'bert-base-uncased', 'vocab.txt'), `${SYNTHETIC_GLUE_VOCAB.join('\n')}\n`);
  const messages: string[] = [];
  return { glueDir: join(root, 'glue'), vocabDir: join(root, 'vocab'), cacheDir: join(root, 'cache'), log: (m) => messages.push(m), messages };
}

/** BERT-tiny's layers (2 × hidden 128, 2 heads, FFN 512) with the synthetic vocabulary: the size whose pruning the GLUE tasks run. */
export const syntheticGlueBertTinyTask: TaskDefinition = {
  ...glueBertTask('sst2', 'bert-tiny', {
    id: 'glue-synthetic-sst2-bert-tiny', checkRowCounts: false, maxSeqLength: 12, denseExamples: 1920,
    arch: (numLabels, vocabSize) => bertArch({ layers: 2, hidden: 128, heads: 2, intermediate: 512, vocabSize, maxPosition: 16, numLabels }),
  }),
  defaultSizing: { trainPerClass: 0, valSize: 32, testSize: 0, evalBatchSize: 64 },
};
