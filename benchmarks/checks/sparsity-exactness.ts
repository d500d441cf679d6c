/**
 * Checks that every completed compression run in a store reached its target exactly (see
 * @prunebench/report's checkSparsityExactness for the rules) and prints the table.
 *
 *   npx tsx benchmarks/checks/sparsity-exactness.ts reports/runs-exact [--out benchmarks/checks/results/x.md]
 *
 * Exit code 1 when any run misses, 2 on bad arguments. Layer sizes come from the task's ResNet-CIFAR model.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createResNetCifar } from '@prunebench/models';
import { checkSparsityExactness, readRunStore, sparsityExactnessMarkdown } from '@prunebench/report';
import { scriptArgs } from '../perf/script-helpers.js';

function main(args: string[]): number {
  const parsed = scriptArgs('sparsity-exactness', 'usage: sparsity-exactness.ts <store dir> [--out file.md]', {
    strings: ['out'], positionals: { min: 1, max: 1 },
  }, args);
  const out = parsed.string('out');
  const storeDir = parsed.positionals[0];
  let contents;
  try {
    contents = readRunStore(storeDir);
  } catch (error) {
    console.error(`sparsity-exactness: ${(error as Error).message}`);
    return 2;
  }
  for (const problem of contents.problems) console.error(`skipped ${problem.file}: ${problem.message}`);
  const sizes = new Map<string, Map<string, number>>();
  const layerSizes = (task: string) => {
    const depth = Number(/^cifar10-resnet(\d+)$/.exec(task)?.[1]);
    if (!depth) throw new Error(`sparsity-exactness: task ${task} is not a CIFAR ResNet; only those are supported`);
    if (!sizes.has(task)) {
      const model = createResNetCifar(depth);
      sizes.set(task, new Map([...model.params].map(([name, v]) => [name, v.size])));
      model.dispose();
    }
    return sizes.get(task)!;
  };
  const rows = checkSparsityExactness(contents.records, layerSizes);
  const markdown = sparsityExactnessMarkdown(rows);
  console.log(markdown);
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `# Sparsity exactness: ${storeDir}\n\n${markdown}`);
  }
  return rows.some((r) => !r.exact) ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
