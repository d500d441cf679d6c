/**
 * The full BERT tokenizer: basic tokenization, then WordPiece; `encode` builds model inputs
 * `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]` with token types, attention mask, truncation and padding.
 */
import { BasicTokenizer, type BasicTokenizerOptions } from './basic-tokenizer.js';
import { WordpieceTokenizer } from './wordpiece-tokenizer.js';
import { loadVocab, type Vocab } from './vocab.js';

export interface BertTokenizerOptions extends BasicTokenizerOptions {
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maxInputCharsPerWord?: number;
}

export interface EncodeOptions {
  /** Length of the encoded sequence, special tokens included. Default 128. */
  maxLength?: number;
  /**
   * 'longest_first' (default): drop tokens from the end of the longer text, one at a time, until the pair fits
   * (ties drop from B, as the reference's `_truncate_seq_pair`). 'none': throw when the text does not fit.
   */
  truncation?: 'longest_first' | 'none';
  /** 'max_length' (default): pad with [PAD] up to maxLength. 'none': no padding. */
  padding?: 'max_length' | 'none';
}

export interface BertEncoding {
  inputIds: number[];
  /** 0 for [CLS] A [SEP], 1 for B [SEP], 0 for padding. */
  tokenTypeIds: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[];
}

export class BertTokenizer {
  readonly basic: BasicTokenizer;
  readonly wordpiece: WordpieceTokenizer;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  private readonly idToToken: string[];

  constructor(
    readonly vocab: Vocab,
    opts: BertTokenizerOptions = {},
  ) {
    this.basic = new BasicTokenizer(opts);
    const unkToken = opts.unkToken ?? '[UNK]';
    this.wordpiece = new WordpieceTokenizer(vocab, { unkToken, maxInputCharsPerWord: opts.maxInputCharsPerWord });
    const idOf = (token: string) => {
      const id = vocab.get(token);
      if (id === undefined) throw new Error(`BertTokenizer: the vocab has no special token ${token}`);
      return id;
    };
    this.unkId = idOf(unkToken);
    this.clsId = idOf(opts.clsToken ?? '[CLS]');
    this.sepId = idOf(opts.sepToken ?? '[SEP]');
    this.padId = idOf(opts.padToken ?? '[PAD]');
    this.idToToken = [];
    for (const [token, id] of vocab) this.idToToken[id] = token;
  }

  /** Reads vocab.txt (one token per line) and builds an uncased tokenizer unless told otherwise. */
  static fromVocabFile(path: string, opts: BertTokenizerOptions = {}): BertTokenizer {
    return new BertTokenizer(loadVocab(path), opts);
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  /** Text → word pieces (no special tokens). */
  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const word of this.basic.tokenize(text)) out.push(...this.wordpiece.tokenize(word));
    return out;
  }

  convertTokensToIds(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.vocab.get(t) ?? this.unkId);
  }

  convertIdsToTokens(ids: readonly number[]): string[] {
    return ids.map((id) => {
      const token = this.idToToken[id];
      if (token === undefined) throw new RangeError(`BertTokenizer: id ${id} is not in the vocab (size ${this.vocab.size})`);
      return token;
    });
  }

  encode(textA: string, textB?: string, opts: EncodeOptions = {}): BertEncoding {
    const maxLength = opts.maxLength ?? 128;
    const truncation = opts.truncation ?? 'longest_first';
    const padding = opts.padding ?? 'max_length';
    const pair = textB !== undefined;
    const special = pair ? 3 : 2;
    if (!Number.isInteger(maxLength) || maxLength < special) {
      throw new RangeError(`BertTokenizer.encode: maxLength must be an integer >= ${special} (got ${maxLength})`);
    }
    const a = this.convertTokensToIds(this.tokenize(textA));
    const b = pair ? this.convertTokensToIds(this.tokenize(textB)) : [];
    const budget = maxLength - special;
    if (a.length + b.length > budget) {
      if (truncation === 'none') {
        throw new RangeError(`BertTokenizer.encode: ${a.length + b.length + special} tokens do not fit maxLength ${maxLength} and truncation is 'none'`);
      }
      truncateLongestFirst(a, b, budget);
    }

    const inputIds = [this.clsId, ...a, this.sepId];
    const tokenTypeIds = new Array<number>(inputIds.length).fill(0);
    if (pair) {
      inputIds.push(...b, this.sepId);
      for (let i = 0; i <= b.length; i++) tokenTypeIds.push(1);
    }
    const attentionMask = new Array<number>(inputIds.length).fill(1);
    if (padding === 'max_length') {
      while (inputIds.length < maxLength) {
        inputIds.push(this.padId);
        tokenTypeIds.push(0);
        attentionMask.push(0);
      }
    }
    return { inputIds, tokenTypeIds, attentionMask };
  }

  /** Encodes many single texts or (A, B) pairs with the same options. */
  encodeBatch(inputs: ReadonlyArray<string | readonly [string, string | undefined]>, opts: EncodeOptions = {}): BertEncoding[] {
    return inputs.map((input) => (typeof input === 'string' ? this.encode(input, undefined, opts) : this.encode(input[0], input[1], opts)));
  }
}

/** Removes tokens from the end of the longer list (B on ties) until both fit `budget`; edits in place. */
export function truncateLongestFirst(a: number[], b: number[], budget: number): void {
  while (a.length + b.length > budget) {
    if (a.length > b.length) a.pop();
    else b.pop();
  }
}
