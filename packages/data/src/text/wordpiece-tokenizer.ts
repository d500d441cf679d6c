/** Greedy longest-match-first WordPiece, as in the reference BERT implementation. */
import { splitOnWhitespace } from './basic-tokenizer.js';
import type { Vocab } from './vocab.js';

export interface WordpieceTokenizerOptions {
  unkToken?: string;
  /** Words longer than this (in code points) become a single unknown token. Default 100. */
  maxInputCharsPerWord?: number;
  /** Prefix of a piece that continues a word. Default "##". */
  continuationPrefix?: string;
}

export class WordpieceTokenizer {
  readonly unkToken: string;
  readonly maxInputCharsPerWord: number;
  readonly continuationPrefix: string;

  constructor(
    readonly vocab: Vocab,
    opts: WordpieceTokenizerOptions = {},
  ) {
    this.unkToken = opts.unkToken ?? '[UNK]';
    this.maxInputCharsPerWord = opts.maxInputCharsPerWord ?? 100;
    this.continuationPrefix = opts.continuationPrefix ?? '##';
  }

  /** Text already passed through the basic tokenizer (whitespace-separated words) → word pieces. */
  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const word of splitOnWhitespace(text)) {
      const chars = Array.from(word);
      if (chars.length > this.maxInputCharsPerWord) {
        out.push(this.unkToken);
        continue;
      }
      const pieces = this.splitWord(chars);
      if (pieces) out.push(...pieces);
      else out.push(this.unkToken);
    }
    return out;
  }

  /** The word's pieces, or null when some remainder matches no vocab entry. */
  private splitWord(chars: string[]): string[] | null {
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let match: string | null = null;
      while (start < end) {
        let candidate = chars.slice(start, end).join('');
        if (start > 0) candidate = this.continuationPrefix + candidate;
        if (this.vocab.has(candidate)) {
          match = candidate;
          break;
        }
        end--;
      }
      if (match === null) return null;
      pieces.push(match);
      start = end;
    }
    return pieces;
  }
}
