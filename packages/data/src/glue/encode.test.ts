import { describe, it, expect } from 'vitest';
import { BertTokenizer } from '../text/bert-tokenizer.js';
import { encodeGlueExamples, GLUE_NO_LABEL } from './encode.js';

const TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'good', 'film', 'bad', 'is', '.'];
const tokenizer = new BertTokenizer(new Map(TOKENS.map((t, i) => [t, i] as const)));

describe('encodeGlueExamples', () => {
  it('flattens single and pair examples to [n, maxLength] with labels (-1 when unlabelled)', () => {
    const enc = encodeGlueExamples(
      [
        { textA: 'A good film.', label: 1 },
        { textA: 'a film', textB: 'is bad', label: 0 },
        { textA: 'a bad bad bad bad film', textB: 'good', label: null },
      ],
      tokenizer,
      7,
    );
    expect(enc.count).toBe(3);
    expect(Array.from(enc.inputIds)).toEqual([
      2, 4, 5, 6, 9, 3, 0, // [CLS] a good film . [SEP] [PAD]
      2, 4, 6, 3, 8, 7, 3, // [CLS] a film [SEP] is bad [SEP]
      2, 4, 7, 7, 3, 5, 3, // 6 + 1 tokens into 4: A loses 3
    ]);
    expect(Array.from(enc.tokenTypeIds)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1]);
    expect(Array.from(enc.attentionMask)).toEqual([1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(enc.labels)).toEqual([1, 0, GLUE_NO_LABEL]);
    expect(enc.inputIds).toBeInstanceOf(Int32Array);
  });
});
