/** Turns GLUE examples into flat, fixed-length model inputs for batching. */
import type { BertTokenizer } from '../text/bert-tokenizer.js';
import type { GlueExample } from './read.js';

export interface EncodedGlueExamples {
  /** Number of examples. */
  count: number;
  maxLength: number;
  /** Row-major [count, maxLength]. */
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  /** One per example; -1 where the example has no label (test splits). */
  labels: Int32Array;
}

/** Label value stored for unlabelled examples (test splits). */
export const GLUE_NO_LABEL = -1;

/** Encodes `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated longest-first and padded to `maxLength`. */
export function encodeGlueExamples(examples: readonly GlueExample[], tokenizer: BertTokenizer, maxLength: number): EncodedGlueExamples {
  const n = examples.length;
  const inputIds = new Int32Array(n * maxLength);
  const tokenTypeIds = new Int32Array(n * maxLength);
  const attentionMask = new Int32Array(n * maxLength);
  const labels = new Int32Array(n);
  examples.forEach((ex, i) => {
    const enc = tokenizer.encode(ex.textA, ex.textB, { maxLength, truncation: 'longest_first', padding: 'max_length' });
    inputIds.set(enc.inputIds, i * maxLength);
    tokenTypeIds.set(enc.tokenTypeIds, i * maxLength);
    attentionMask.set(enc.attentionMask, i * maxLength);
    labels[i] = ex.label ?? GLUE_NO_LABEL;
  });
  return { count: n, maxLength, inputIds, tokenTypeIds, attentionMask, labels };
}
