import { describe, it, expect } from 'vitest';
import { buildMrpcTsv } from './mrpc.js';
import { parseGlueTsv } from './read.js';

const HEADER = '\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n';
const TRAIN = HEADER + '1\t11\t12\tA one .\tA one !\r\n0\t21\t22\tB two .\tB 2 .\r\n1\t31\t32\tC " three .\tC three .\r\n';
const TEST = HEADER + '1\t41\t42\tD four .\tD 4 .\r\n0\t51\t52\tE five .\tE 5 .\r\n';
const DEV_IDS = '21\t22\n';

describe('buildMrpcTsv (GLUE script layout from Microsoft files + dev ids)', () => {
  it('moves the listed pairs to dev, numbers the test rows and drops their labels', () => {
    const built = buildMrpcTsv(TRAIN, TEST, DEV_IDS);
    expect(parseGlueTsv('mrpc', 'train', built.train, 'train.tsv')).toEqual([
      { textA: 'A one .', textB: 'A one !', label: 1 },
      { textA: 'C " three .', textB: 'C three .', label: 1 },
    ]);
    expect(parseGlueTsv('mrpc', 'dev', built.dev, 'dev.tsv')).toEqual([{ textA: 'B two .', textB: 'B 2 .', label: 0 }]);
    expect(built.test.split('\n').slice(0, 3)).toEqual(['index\t#1 ID\t#2 ID\t#1 String\t#2 String', '0\t41\t42\tD four .\tD 4 .', '1\t51\t52\tE five .\tE 5 .']);
  });
  it('fails when a dev id is missing from train, or a row is malformed', () => {
    expect(() => buildMrpcTsv(TRAIN, TEST, '21\t22\n99\t98\n')).toThrow(/only 1 of the 2 dev pairs/);
    expect(() => buildMrpcTsv(HEADER + '1\t11\tonly three\n', TEST, DEV_IDS)).toThrow(/msr_paraphrase_train\.txt:2: expected 5 tab-separated columns, found 3/);
  });
});
