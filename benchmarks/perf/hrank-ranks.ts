/**
 * Issue 16, "evaluation and latency-free paths": HRank's feature-map ranks, computed on the host (matrixRank, one
 * per image and filter), by the implementation before the speed-up (reference: matrix-rank.ts at --reference, read
 * from git) and by the current one, interleaved in one command, on the real feature maps HRank ranks: the pretrained
 * ResNet-20 and ResNet-56 (every block's conv1 filters after bn1 + ReLU) on --images real CIFAR-10 training images.
 * Every rank must be the same (else exit 1). Needs PRUNEBENCH_DATA and PRUNEBENCH_WEIGHTS (as `prunebench run`).
 *
 *   npx tsx benchmarks/perf/hrank-ranks.ts [--backend wasm] [--rounds 2] [--images 64] [--reference <commit>] [--label x] [--out file.json]
 * Writes JSON (machine, load, backend, versions, the reference commit, every timing) to --out, default
 * benchmarks/perf/results/hrank-ranks-<backend>-<date>[-<label>].json, and prints a Markdown table.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initEngine, SeededRng } from '@prunebench/engine';
import { TASKS } from '@prunebench/harness';
import { matrixRank } from '@prunebench/method-hrank';
import { getModelStructure } from '@prunebench/models';
import { backendOption, resultHeader, scriptArgs, writeResult } from './script-helpers.js';

/** The last commit with matrixRank before its inner loops were fused (issue 16). */
const REFERENCE_COMMIT = 'cd87dda';
const USAGE = 'usage: npx tsx benchmarks/perf/hrank-ranks.ts [--backend wasm|webgpu|cpu] [--rounds 2] [--images 64] [--reference <commit>] [--label x] [--out file.json]';
const args = scriptArgs('hrank-ranks', USAGE, { strings: ['backend', 'rounds', 'images', 'reference', 'label', 'out'] });
const backend = backendOption('hrank-ranks', USAGE, args);
const rounds = args.int('rounds', 2);
const images = args.int('images', 64);
const referenceCommit = args.string('reference') ?? REFERENCE_COMMIT;
const repo = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const engine = await initEngine({ backend });
const loadBefore = os.loadavg();

type Rank = typeof matrixRank;
const scratch = mkdtempSync(join(os.tmpdir(), 'hrank-ranks-'));
let reference: Rank;
try {
  const source = execFileSync('git', ['show', `${referenceCommit}:packages/methods/hrank/src/matrix-rank.ts`], { cwd: repo, encoding: 'utf8' });
  writeFileSync(join(scratch, 'matrix-rank-reference.ts'), source);
  reference = ((await import(pathToFileURL(join(scratch, 'matrix-rank-reference.ts')).href)) as { matrixRank: Rank }).matrixRank;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

interface Maps { values: Float32Array; count: number; a: number; b: number }
interface DepthResult { depth: number; matrices: number; referenceSeconds: number[]; currentSeconds: number[]; ratio: number; identical: boolean; meanRank: number }

/** Every feature map HRank ranks for one batch: per group, the [images × filters] maps of a × b. */
async function featureMaps(depth: number): Promise<Maps[]> {
  const definition = TASKS.get(`cifar10-resnet${depth}`);
  if (!definition) throw new Error(`no task cifar10-resnet${depth}`);
  const task = await definition.load({ trainPerClass: 100, valSize: 500, testSize: 1000, evalBatchSize: 250 }, { cacheDir: join(repo, 'datasets/cache/checkpoints'), log: () => {} });
  const model = await task.startingModel();
  const structure = getModelStructure(model);
  const groups = structure.channelGroups(model).map((g) => g.id);
  const [batch] = task.sampleBatches(1, images, new SeededRng(0));
  const capture = structure.forwardWithActivations(model, batch.inputs, groups);
  const maps: Maps[] = [];
  for (const id of groups) {
    const t = capture.activations.get(id)!;
    const [n, units, a, b] = t.shape;
    maps.push({ values: Float32Array.from((await t.data()) as Float32Array), count: n * units, a, b });
  }
  tf.dispose([capture.output, capture.features, ...capture.activations.values(), batch.labels, batch.inputs as tf.Tensor]);
  model.dispose();
  task.dispose();
  return maps;
}

function ranksOf(rank: Rank, maps: Maps[]): { seconds: number; ranks: Int32Array } {
  const total = maps.reduce((n, m) => n + m.count, 0);
  const ranks = new Int32Array(total);
  const t0 = performance.now();
  let k = 0;
  for (const m of maps) for (let i = 0; i < m.count; i++) ranks[k++] = rank(m.values, m.a, m.b, { offset: i * m.a * m.b });
  return { seconds: (performance.now() - t0) / 1000, ranks };
}

const results: DepthResult[] = [];
for (const depth of [20, 56]) {
  const maps = await featureMaps(depth);
  ranksOf(matrixRank, maps); // untimed: compile both
  ranksOf(reference, maps);
  const referenceSeconds: number[] = [];
  const currentSeconds: number[] = [];
  let identical = true;
  let ranks: Int32Array = new Int32Array(0);
  for (let r = 0; r < rounds; r++) {
    const old = ranksOf(reference, maps);
    const now = ranksOf(matrixRank, maps);
    referenceSeconds.push(old.seconds);
    currentSeconds.push(now.seconds);
    if (old.ranks.some((v, i) => v !== now.ranks[i])) identical = false;
    ranks = now.ranks;
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  results.push({
    depth, matrices: ranks.length, referenceSeconds, currentSeconds, ratio: sum(referenceSeconds) / sum(currentSeconds), identical,
    meanRank: ranks.reduce((a, b) => a + b, 0) / ranks.length,
  });
}

const result = { ...resultHeader('perf-hrank-ranks', loadBefore), tfjs: engine, referenceCommit, images, rounds, results };
const out = writeResult(args, 'hrank-ranks', engine.backend, result);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`\nnode ${process.version}; ${images} CIFAR-10 training images; ${rounds} interleaved rounds; reference matrix-rank.ts at ${referenceCommit}; load ${loadBefore.map((l) => l.toFixed(1)).join(' ')}\n`);
console.log('| model | feature maps ranked | reference, s | current, s | × faster | ranks identical | mean rank |\n| --- | ---: | ---: | ---: | ---: | --- | ---: |');
for (const r of results) {
  console.log(`| pretrained ResNet-${r.depth} | ${r.matrices} | ${mean(r.referenceSeconds).toFixed(2)} | ${mean(r.currentSeconds).toFixed(2)} | ${r.ratio.toFixed(2)} | ${r.identical ? 'yes' : 'NO'} | ${r.meanRank.toFixed(2)} |`);
}
console.log(`\nwrote ${out}`);
if (results.some((r) => !r.identical)) {
  console.error('hrank-ranks: the current matrixRank gave other ranks than the reference');
  process.exit(1);
}
