/** Test helper: tiny GLUE task folders with each task's real quirks. Not exported from the package. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GlueSplit, GlueTaskName } from './tasks.js';

/** File texts per split, small but laid out exactly like GLUE's (BOM, headers, unbalanced quotes). */
export const GLUE_FIXTURE_TEXT: Record<GlueTaskName, Record<GlueSplit, string>> = {
  sst2: {
    train: 'sentence\tlabel\nhide new secretions from the parental units \t0\nthe "best movie of the year\t1\na gorgeous , witty film \t1\n',
    dev: "sentence\tlabel\nit 's a charming journey . \t1\n",
    test: 'index\tsentence\n0\tuneasy mishmash of styles .\n1\ta "quoted\n',
  },
  cola: {
    train: "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tThey drank the pub.\nclc95\t1\t\tHe said \"hi.\n",
    dev: 'gj04\t1\t\tThe sailors rode the breeze.\ngj04\t0\t*\tMary wonders that John left.\n',
    test: 'index\tsentence\n0\tBill whistled past the house.\n',
  },
  mrpc: {
    train: '\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi called him "the witness".\tReferring to him as only "the witness", Amrozi accused.\n0\t2108705\t2108831\tYucaipa owned it.\tYucaipa bought it.\n',
    dev: '\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1355540\t1355592\tHe said so.\t"He said so.\n',
    test: '\uFEFFindex\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tPCCW\'s chief.\tCurrent chief.\n',
  },
  rte: {
    train: 'index\tsentence1\tsentence2\tlabel\n0\tNo Weapons Found in Iraq Yet.\tWeapons Found in Iraq.\tnot_entailment\n1\tPope Benedict was installed.\tPope Benedict XVI is the new pope.\tentailment\n',
    dev: 'index\tsentence1\tsentence2\tlabel\n0\tDana Reeve has died.\tChristopher Reeve had an accident.\tnot_entailment\n',
    test: 'index\tsentence1\tsentence2\n0\tMangla was summoned.\tShukla is related to Mangla.\n',
  },
};

export const GLUE_FIXTURE_ROWS: Record<GlueTaskName, Record<GlueSplit, number>> = {
  sst2: { train: 3, dev: 1, test: 2 },
  cola: { train: 3, dev: 2, test: 1 },
  mrpc: { train: 2, dev: 1, test: 1 },
  rte: { train: 2, dev: 1, test: 1 },
};

export const GLUE_FIXTURE_FOLDERS: Record<GlueTaskName, string> = { sst2: 'SST-2', cola: 'CoLA', mrpc: 'MRPC', rte: 'RTE' };

/** Writes <root>/<Folder>/{train,dev,test}.tsv (overrides replace a split's text; null leaves the split out). */
export function writeGlueFixture(root: string, task: GlueTaskName, overrides: Partial<Record<GlueSplit, string | null>> = {}): string {
  const dir = join(root, GLUE_FIXTURE_FOLDERS[task]);
  mkdirSync(dir, { recursive: true });
  for (const split of ['train', 'dev', 'test'] as const) {
    const text = split in overrides ? overrides[split] : GLUE_FIXTURE_TEXT[task][split];
    if (text !== null && text !== undefined) writeFileSync(join(dir, `${split}.tsv`), text);
  }
  return dir;
}
