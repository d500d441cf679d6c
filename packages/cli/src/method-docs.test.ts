import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { booleanOption, defineMethod } from '@prunebench/pruning';
import { BUILTIN_METHODS } from './methods.js';
import { OPTION_TABLE_BEGIN, OPTION_TABLE_END, methodReadmePath, withOptionTable } from './method-docs.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

describe('method READMEs', () => {
  for (const method of BUILTIN_METHODS) {
    it(`${method.name}: the option table is the one its declarations give (npm run docs:methods rewrites it)`, () => {
      const file = methodReadmePath(repoRoot, method);
      const readme = readFileSync(file, 'utf8');
      expect(readme, `${file} is stale: run npm run docs:methods`).toBe(withOptionTable(readme, method, file));
      for (const name of Object.keys(method.options)) expect(readme).toContain(`| \`${name}\` |`);
    });
  }

  it('a stale table is rewritten, and missing markers are an error naming the file', () => {
    const method = defineMethod({
      name: 'toy',
      description: 'toy',
      structured: false,
      targetKinds: ['sparsity'],
      options: { flag: booleanOption({ default: false, doc: 'a flag' }) },
      run: async ({ model }) => ({ model }),
    });
    const stale = `# toy\n\n${OPTION_TABLE_BEGIN}\n| old |\n${OPTION_TABLE_END}\n\nmore\n`;
    expect(withOptionTable(stale, method)).toBe(
      `# toy\n\n${OPTION_TABLE_BEGIN}\n| option | type | default | meaning |\n| --- | --- | --- | --- |\n| \`flag\` | true \\| false | \`false\` | a flag |\n${OPTION_TABLE_END}\n\nmore\n`,
    );
    expect(() => withOptionTable('# toy\n', method, 'x/README.md')).toThrow(/^x\/README\.md: no option table markers for method "toy"/);
  });
});
