/**
 * BERT's "basic" tokenizer, written to behave like the reference (google-research/bert `tokenization.py`,
 * also Hugging Face's BasicTokenizer): clean the text, space out CJK ideographs, split on whitespace,
 * lower-case and strip accents (uncased models), then split off every punctuation character.
 */

export interface BasicTokenizerOptions {
  /** Lower-case and strip accents (uncased models). Default true. */
  doLowerCase?: boolean;
  /** Put spaces around CJK ideographs so each becomes its own token. Default true. */
  tokenizeChineseChars?: boolean;
}

const CONTROL = /^[\p{Cc}\p{Cf}]$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;
const PUNCTUATION = /^\p{P}$/u;
const NONSPACING_MARK = /\p{Mn}/gu;

/** Tab, newline, carriage return, space and the Unicode space separators (Zs). */
export function isBertWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch);
}

/** Unicode categories Cc and Cf, except tab, newline and carriage return (which count as whitespace). */
export function isBertControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return CONTROL.test(ch);
}

/** All non-letter, non-digit printable ASCII (33–47, 58–64, 91–96, 123–126) and the Unicode P* categories. */
export function isBertPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return PUNCTUATION.test(ch);
}

/** The CJK Unified Ideographs blocks the reference treats as one-character words (not Hangul, Hiragana or Katakana). */
export function isCjkCodePoint(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Splits on runs of whitespace, dropping empty pieces (Python's `str.split()`). */
export function splitOnWhitespace(text: string): string[] {
  const trimmed = text.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/u);
}

export class BasicTokenizer {
  readonly doLowerCase: boolean;
  readonly tokenizeChineseChars: boolean;

  constructor(opts: BasicTokenizerOptions = {}) {
    this.doLowerCase = opts.doLowerCase ?? true;
    this.tokenizeChineseChars = opts.tokenizeChineseChars ?? true;
  }

  tokenize(text: string): string[] {
    let cleaned = cleanText(text);
    if (this.tokenizeChineseChars) cleaned = spaceOutCjk(cleaned);
    const out: string[] = [];
    for (let token of splitOnWhitespace(cleaned)) {
      if (this.doLowerCase) token = stripAccents(token.toLowerCase());
      for (const piece of splitOnPunctuation(token)) out.push(piece);
    }
    // The reference re-splits the joined pieces on whitespace; pieces never hold whitespace, but drop empties.
    return out.filter((t) => t !== '');
  }
}

/** Drops NUL, U+FFFD and control characters; maps every whitespace character to a plain space. */
function cleanText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isBertControl(ch)) continue;
    out += isBertWhitespace(ch) ? ' ' : ch;
  }
  return out;
}

function spaceOutCjk(text: string): string {
  let out = '';
  for (const ch of text) out += isCjkCodePoint(ch.codePointAt(0)!) ? ` ${ch} ` : ch;
  return out;
}

/** Canonical decomposition (NFD), then remove the nonspacing marks (category Mn). */
export function stripAccents(text: string): string {
  return text.normalize('NFD').replace(NONSPACING_MARK, '');
}

/** "ab,c!" → ["ab", ",", "c", "!"]: each punctuation character becomes a token of its own. */
function splitOnPunctuation(token: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const ch of token) {
    if (isBertPunctuation(ch)) {
      if (current !== '') out.push(current);
      out.push(ch);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current !== '') out.push(current);
  return out;
}
