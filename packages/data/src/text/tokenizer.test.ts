import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicTokenizer, isBertControl, isBertPunctuation, isBertWhitespace, isCjkCodePoint } from './basic-tokenizer.js';
import { WordpieceTokenizer } from './wordpiece-tokenizer.js';
import { BertTokenizer, truncateLongestFirst } from './bert-tokenizer.js';
import { loadVocab, parseVocab } from './vocab.js';

// The toy vocab of the reference implementation's own tests.
const REFERENCE_TEST_TOKENS = ['[UNK]', '[CLS]', '[SEP]', 'want', '##want', '##ed', 'wa', 'un', 'runn', '##ing', ','];
const referenceVocab = () => new Map(REFERENCE_TEST_TOKENS.map((t, i) => [t, i] as const));

describe('character classes (reference semantics)', () => {
  it('whitespace: space, tab, CR, LF and Zs (no-break space), not letters or dashes', () => {
    for (const ch of [' ', '\t', '\r', '\n', '\u00A0', '\u3000']) expect(isBertWhitespace(ch)).toBe(true);
    for (const ch of ['A', '-', '\u200B']) expect(isBertWhitespace(ch)).toBe(false);
  });
  it('control: Cc and Cf except tab/CR/LF', () => {
    for (const ch of ['\u0005', '\u007F', '\u200B', '\uFEFF']) expect(isBertControl(ch)).toBe(true);
    for (const ch of ['A', ' ', '\t', '\r', '\n', '\u{1F4A9}']) expect(isBertControl(ch)).toBe(false);
  });
  it('punctuation: the ASCII non-alphanumerics (even $ ^ ` which are not Unicode P*) and Unicode P*', () => {
    for (const ch of ['-', '$', '`', '.', '^', '~', '@', '\u00BF', '\u3001', '\u2014']) expect(isBertPunctuation(ch)).toBe(true);
    for (const ch of ['A', ' ', '0', '\u00E9', '\u20AC']) expect(isBertPunctuation(ch)).toBe(false);
  });
  it('CJK: the unified ideograph blocks, not kana or hangul', () => {
    expect(isCjkCodePoint(0x535a)).toBe(true);
    expect(isCjkCodePoint(0x20000)).toBe(true);
    expect(isCjkCodePoint(0xf900)).toBe(true);
    expect(isCjkCodePoint(0x3042)).toBe(false); // hiragana あ
    expect(isCjkCodePoint(0xac00)).toBe(false); // hangul 가
  });
});

describe('BasicTokenizer', () => {
  it('lower-cases, normalises whitespace and splits off punctuation', () => {
    expect(new BasicTokenizer().tokenize(' \tHeLLo!how  \n Are yoU?  ')).toEqual(['hello', '!', 'how', 'are', 'you', '?']);
  });
  it('strips accents (NFD, drop Mn)', () => {
    expect(new BasicTokenizer().tokenize('H\u00E9llo')).toEqual(['hello']);
    expect(new BasicTokenizer().tokenize('He\u0301llo na\u00EFve')).toEqual(['hello', 'naive']);
  });
  it('keeps case and accents when doLowerCase is false', () => {
    expect(new BasicTokenizer({ doLowerCase: false }).tokenize(' \tHeLLo!how  \n Are yoU?  ')).toEqual(['HeLLo', '!', 'how', 'Are', 'yoU', '?']);
    expect(new BasicTokenizer({ doLowerCase: false }).tokenize('H\u00E9llo')).toEqual(['H\u00E9llo']);
  });
  it('makes each CJK ideograph a token', () => {
    expect(new BasicTokenizer().tokenize('ah\u535A\u63A8zz')).toEqual(['ah', '\u535A', '\u63A8', 'zz']);
  });
  it('drops NUL, U+FFFD and format characters; other whitespace becomes a separator', () => {
    expect(new BasicTokenizer().tokenize('\u0000a\uFFFDb\u200B c\u00A0d\u2003e')).toEqual(['ab', 'c', 'd', 'e']);
  });
  it('splits every punctuation character, even runs of them', () => {
    expect(new BasicTokenizer().tokenize("don't...stop $5")).toEqual(['don', "'", 't', '.', '.', '.', 'stop', '$', '5']);
  });
  it('gives nothing for empty or blank text', () => {
    expect(new BasicTokenizer().tokenize('')).toEqual([]);
    expect(new BasicTokenizer().tokenize(' \t\n ')).toEqual([]);
  });
});

describe('WordpieceTokenizer', () => {
  const wp = new WordpieceTokenizer(referenceVocab());
  it('greedy longest match first with ## continuations', () => {
    expect(wp.tokenize('')).toEqual([]);
    expect(wp.tokenize('unwanted running')).toEqual(['un', '##want', '##ed', 'runn', '##ing']);
  });
  it('a word with an unmatched remainder becomes one [UNK]', () => {
    expect(wp.tokenize('unwantedX running')).toEqual(['[UNK]', 'runn', '##ing']);
  });
  it('words longer than 100 characters become [UNK]', () => {
    const vocab = new Map([['[UNK]', 0], ['a', 1], ['##a', 2]]);
    const t = new WordpieceTokenizer(vocab);
    expect(t.tokenize('a'.repeat(100))).toEqual(['a', ...new Array(99).fill('##a')]);
    expect(t.tokenize('a'.repeat(101))).toEqual(['[UNK]']);
  });
});

describe('BertTokenizer with the reference test vocab', () => {
  const vocab = referenceVocab();
  vocab.set('[PAD]', vocab.size);
  const tok = new BertTokenizer(vocab);
  it('tokenizes "UNwant\\u00E9d,running" like the reference', () => {
    const tokens = tok.tokenize('UNwant\u00E9d,running');
    expect(tokens).toEqual(['un', '##want', '##ed', ',', 'runn', '##ing']);
    expect(tok.convertTokensToIds(tokens)).toEqual([7, 4, 5, 10, 8, 9]);
    expect(tok.convertIdsToTokens([7, 4, 5])).toEqual(['un', '##want', '##ed']);
  });
  it('refuses a vocab without the special tokens', () => {
    expect(() => new BertTokenizer(referenceVocab())).toThrow(/\[PAD\]/);
  });
});

describe('truncateLongestFirst', () => {
  it('drops from the longer list, from B on ties', () => {
    const a = [1, 2, 3, 4, 5];
    const b = [6, 7];
    truncateLongestFirst(a, b, 4);
    expect([a, b]).toEqual([[1, 2], [6, 7]]);
    const c = [1, 2, 3];
    const d = [4, 5, 6];
    truncateLongestFirst(c, d, 4);
    expect([c, d]).toEqual([[1, 2], [4, 5]]);
    const e = [1, 2, 3];
    const f = [4, 5, 6];
    truncateLongestFirst(e, f, 5);
    expect([e, f]).toEqual([[1, 2, 3], [4, 5]]);
  });
});

describe('vocab files', () => {
  it('ids are line numbers; a BOM and CRLF are tolerated; an empty line is an error naming the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prunebench-vocab-'));
    try {
      const path = join(dir, 'vocab.txt');
      writeFileSync(path, '\uFEFF[PAD]\r\n[UNK]\r\nhello\r\n');
      expect([...loadVocab(path)]).toEqual([['[PAD]', 0], ['[UNK]', 1], ['hello', 2]]);
      expect(() => parseVocab('a\n\nb\n', 'v.txt')).toThrow(/v\.txt: line 2 is empty/);
      expect(() => loadVocab(join(dir, 'missing.txt'))).toThrow(/missing\.txt/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const vocabDir = process.env.PRUNEBENCH_VOCAB;
if (!vocabDir) console.warn('SKIPPED: real bert-base-uncased vocab tests (set PRUNEBENCH_VOCAB to a folder like ../shared/vocab)');

describe.skipIf(!vocabDir)('BertTokenizer with bert-base-uncased (PRUNEBENCH_VOCAB)', () => {
  const tok = () => BertTokenizer.fromVocabFile(join(vocabDir!, 'bert-base-uncased', 'vocab.txt'));

  it('has the standard 30,522 entries and special ids', () => {
    const t = tok();
    expect(t.vocabSize).toBe(30522);
    expect([t.vocab.get('[PAD]'), t.vocab.get('[UNK]'), t.vocab.get('[CLS]'), t.vocab.get('[SEP]'), t.vocab.get('the')]).toEqual([0, 100, 101, 102, 1996]);
    expect([t.padId, t.unkId, t.clsId, t.sepId]).toEqual([0, 100, 101, 102]);
  });

  it('"hello world" → [CLS] hello world [SEP]', () => {
    const enc = tok().encode('Hello World', undefined, { maxLength: 4 });
    expect(enc.inputIds).toEqual([101, 7592, 2088, 102]);
    expect(enc.tokenTypeIds).toEqual([0, 0, 0, 0]);
    expect(enc.attentionMask).toEqual([1, 1, 1, 1]);
  });

  it('pads with [PAD]=0 and masks the padding', () => {
    const enc = tok().encode('hello', undefined, { maxLength: 6 });
    expect(enc.inputIds).toEqual([101, 7592, 102, 0, 0, 0]);
    expect(enc.attentionMask).toEqual([1, 1, 1, 0, 0, 0]);
    expect(enc.tokenTypeIds).toEqual([0, 0, 0, 0, 0, 0]);
    expect(tok().encode('hello', undefined, { maxLength: 6, padding: 'none' }).inputIds).toEqual([101, 7592, 102]);
  });

  it('pairs: [CLS] A [SEP] B [SEP], token types 0/1, longest-first truncation', () => {
    const t = tok();
    const enc = t.encode('the the the the the', 'hello world', { maxLength: 8 });
    // budget 8 - 3 = 5: A (5) is longer than B (2) → A loses 2 tokens.
    expect(enc.inputIds).toEqual([101, 1996, 1996, 1996, 102, 7592, 2088, 102]);
    expect(enc.tokenTypeIds).toEqual([0, 0, 0, 0, 0, 1, 1, 1]);
    expect(enc.attentionMask).toEqual(new Array(8).fill(1));
    const padded = t.encode('hello', 'world', { maxLength: 7 });
    expect(padded.inputIds).toEqual([101, 7592, 102, 2088, 102, 0, 0]);
    expect(padded.tokenTypeIds).toEqual([0, 0, 0, 1, 1, 0, 0]);
    expect(padded.attentionMask).toEqual([1, 1, 1, 1, 1, 0, 0]);
    expect(() => t.encode('the the the the the', 'hello world', { maxLength: 8, truncation: 'none' })).toThrow(/do not fit/);
  });

  it('encodeBatch encodes singles and pairs alike', () => {
    const t = tok();
    const batch = t.encodeBatch(['hello world', ['hello', 'world']], { maxLength: 6 });
    expect(batch.map((e) => e.inputIds)).toEqual([
      [101, 7592, 2088, 102, 0, 0],
      [101, 7592, 102, 2088, 102, 0],
    ]);
  });

  it('"UNwant\u00E9d,running" → unwanted , running (ids = 0-based line numbers in vocab.txt)', () => {
    const t = tok();
    expect(t.tokenize('UNwant\u00E9d,running')).toEqual(['unwanted', ',', 'running']);
    expect(t.encode('UNwant\u00E9d,running', undefined, { maxLength: 5 }).inputIds).toEqual([101, 18162, 1010, 2770, 102]);
  });

  it('unknown characters map to [UNK]=100', () => {
    expect(tok().encode('\u{1F9FF}', undefined, { maxLength: 3 }).inputIds).toEqual([101, 100, 102]);
  });
});
