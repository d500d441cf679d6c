/** WordPiece vocabularies: `vocab.txt`, one token per line, the id of a token is its 0-based line number. */
import { readFileSync } from 'node:fs';
import { DatasetError } from '../errors.js';

export type Vocab = Map<string, number>;

/** Parses the text of a vocab.txt (as the reference does: a repeated token keeps its last line number). */
export function parseVocab(text: string, file = 'vocab.txt'): Vocab {
  const lines = text.split('\n');
  // A trailing newline does not start another token.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab: Vocab = new Map();
  lines.forEach((line, index) => {
    const token = line.replace(/\r$/, '').trim();
    if (token === '') throw new DatasetError(`${file}: line ${index + 1} is empty (every line of a vocab must hold one token)`, file);
    vocab.set(token, index);
  });
  if (vocab.size === 0) throw new DatasetError(`${file}: the vocab is empty`, file);
  return vocab;
}

/** Reads a vocab.txt (UTF-8). */
export function loadVocab(path: string): Vocab {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DatasetError(`cannot read vocab ${path}: ${(err as Error).message}`, path);
  }
  return parseVocab(text.replace(/^\uFEFF/, ''), path);
}
