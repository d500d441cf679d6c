/**
 * Checks that every completed run in a store reached its compression target exactly: the nonzero count equals
 * the count the target implies (ShrinkBench's ratio over the whole model, rounded to whole weights), and, for
 * layer-wise and minimum-threshold magnitude pruning, every layer is within one weight of its share / floor.
 *
 *   npx tsx benchmarks/checks/sparsity-exactness.ts reports/runs-exact [--out benchmarks/checks/results/x.md]
 *
 * Exit 1 when any run misses. Layer sizes come from the task's model (ResNet-CIFAR depth from the task id).
 */
import { readdirSync, readFileSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createResNetCifar } from '@prunebench/models';
import type { RunRecord } from '@prunebench/harness';

const [storeDir, ...rest] = process.argv.slice(2);
if (!storeDir) {
  console.error('usage: sparsity-exactness.ts <store dir> [--out file.md]');
  process.exit(2);
}
const outIndex = rest.indexOf('--out');
const out = outIndex >= 0 ? rest[outIndex + 1] : undefined;

const records: RunRecord[] = readdirSync(storeDir)
  .map((id) => join(storeDir, id, 'record.json'))
  .filter((path) => existsSync(path))
  .map((path) => JSON.parse(readFileSync(path, 'utf8')) as RunRecord)
  .filter((r) => r.status === 'completed' && r.description.target?.kind === 'compression')
  .sort((a, b) => a.description.method.localeCompare(b.description.method) || JSON.stringify(a.description.options).localeCompare(JSON.stringify(b.description.options)) || ratio(a) - ratio(b));

function ratio(r: RunRecord): number {
  return r.description.target?.kind === 'compression' ? r.description.target.ratio : 0;
}

const layerSizes = new Map<string, Map<string, number>>();
function sizesFor(task: string): Map<string, number> {
  let sizes = layerSizes.get(task);
  if (!sizes) {
    const depth = Number(/resnet(\d+)/.exec(task)?.[1]);
    const model = createResNetCifar(depth);
    sizes = new Map([...model.params].map(([name, v]) => [name, v.size]));
    model.dispose();
    layerSizes.set(task, sizes);
  }
  return sizes;
}

let misses = 0;
const rows: string[] = [];
for (const r of records) {
  const { total, prunable, nonzero } = r.metrics.params;
  const requested = Math.round(total / ratio(r));
  const diff = nonzero - requested;
  const sizes = sizesFor(r.description.task);
  const kept = Object.entries(r.layerDensity).map(([name, density]) => ({ name, size: sizes.get(name)!, kept: Math.round(density * sizes.get(name)!) }));
  const allocation = (r.description.options as { allocation?: string }).allocation;
  let layerCheck = '—';
  let layerOk = true;
  if (allocation === 'layerwise') {
    // Same sparsity in every layer: each layer keeps its share of the prunable keep count, within one weight.
    const keepFraction = (requested - (total - prunable)) / prunable;
    const worst = Math.max(...kept.map((l) => Math.abs(l.kept - l.size * keepFraction)));
    layerOk = worst <= 1;
    layerCheck = `max |kept − share| = ${worst.toFixed(2)} weights`;
  } else if (allocation === 'min-threshold') {
    const floor = (r.description.options as { minKeepPerLayer?: { fraction?: number } }).minKeepPerLayer?.fraction ?? 0;
    const margins = kept.map((l) => l.kept - Math.floor(l.size * floor));
    const worst = Math.min(...margins);
    layerOk = worst >= 0;
    layerCheck = `min (kept − floor ${floor}) = ${worst} weights; ${margins.filter((m) => m <= 1).length} of ${kept.length} layers at the floor`;
  }
  const ok = Math.abs(diff) <= kept.length && layerOk;
  if (!ok) misses++;
  const label = `${r.description.method}${Object.keys(r.description.options).length ? ` ${JSON.stringify(r.description.options)}` : ''}`;
  rows.push(`| ${r.description.task} | ${label} | ${ratio(r)}× | ${nonzero.toLocaleString('en-US')} | ${requested.toLocaleString('en-US')} | ${diff >= 0 ? '+' : ''}${diff} | ${r.metrics.compressionRatio.toFixed(4)} | ${layerCheck} | ${ok ? 'yes' : '**NO**'} |`);
}
const table = [
  '| task | method | target | nonzero | requested | Δ | compression | per-layer check | exact |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
].join('\n');
console.log(table);
console.log(`\n${records.length} runs, ${misses} missing the target`);
if (out) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `# Sparsity exactness: ${storeDir}\n\n${table}\n\n${records.length} runs, ${misses} missing the target.\n`);
}
process.exit(misses > 0 ? 1 : 0);
