/**
 * Builds GLUE's MRPC train/dev/test.tsv from Microsoft's msr_paraphrase_{train,test}.txt and GLUE's dev id list,
 * the way GLUE's download script does: train pairs whose (#1 ID, #2 ID) is in the dev list go to dev.tsv, the rest
 * to train.tsv; test.tsv gets a running index instead of the label.
 * Note: the SentEval copies of the Microsoft files are tokenized (spaces around punctuation), unlike the files
 * distributed on GLUE's site; examples and counts match, the text's spacing does not.
 */
import { DatasetError } from '../errors.js';

export interface MrpcTsvFiles {
  train: string;
  dev: string;
  test: string;
}

const MRPC_HEADER = 'Quality\t#1 ID\t#2 ID\t#1 String\t#2 String';
const MRPC_TEST_HEADER = 'index\t#1 ID\t#2 ID\t#1 String\t#2 String';

function dataLines(text: string, file: string, columns: number, skipHeader: boolean): { line: number; fields: string[] }[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const out: { line: number; fields: string[] }[] = [];
  lines.forEach((raw, i) => {
    if (skipHeader && i === 0) return;
    const row = raw.trim();
    if (row === '') return;
    const fields = row.split('\t');
    if (fields.length !== columns) {
      throw new DatasetError(`${file}:${i + 1}: expected ${columns} tab-separated columns, found ${fields.length}`, file);
    }
    out.push({ line: i + 1, fields });
  });
  return out;
}

export function buildMrpcTsv(trainText: string, testText: string, devIdsText: string, names = { train: 'msr_paraphrase_train.txt', test: 'msr_paraphrase_test.txt', devIds: 'mrpc_dev_ids.tsv' }): MrpcTsvFiles {
  const devIds = new Set(dataLines(devIdsText, names.devIds, 2, false).map(({ fields }) => `${fields[0]}\t${fields[1]}`));
  const train = [MRPC_HEADER];
  const dev = [MRPC_HEADER];
  for (const { line, fields } of dataLines(trainText, names.train, 5, true)) {
    if (fields[0] !== '0' && fields[0] !== '1') throw new DatasetError(`${names.train}:${line}: bad label "${fields[0]}" (expected 0 or 1)`, names.train);
    (devIds.has(`${fields[1]}\t${fields[2]}`) ? dev : train).push(fields.join('\t'));
  }
  if (dev.length - 1 !== devIds.size) {
    throw new DatasetError(`${names.train}: only ${dev.length - 1} of the ${devIds.size} dev pairs listed in ${names.devIds} were found`, names.train);
  }
  const test = [MRPC_TEST_HEADER];
  dataLines(testText, names.test, 5, true).forEach(({ fields }, index) => test.push([String(index), ...fields.slice(1)].join('\t')));
  const join = (rows: string[]) => rows.join('\n') + '\n';
  return { train: join(train), dev: join(dev), test: join(test) };
}
