/**
 * Issue 16, "evaluation and latency-free paths": cka-hybrid's block candidate — the probe's pooled features of the
 * model without each one removable block — computed the old way (reference: `applySurgery` builds each model, which
 * then runs whole) and through `featuresWithoutEachBlock` (the layers before each block run once, shared; no model
 * built), interleaved in one command, on the dense ResNet-20 (9 blocks) and ResNet-56 (27 blocks) at the
 * cifar10-resnet56-structured suite's probe of 128 images. The features must be bit-identical (else exit 1).
 *
 *   npx tsx benchmarks/perf/cka-block-scoring.ts [--backend wasm] [--rounds 3] [--probe 128] [--label x] [--out file.json]
 * Writes JSON (machine, load, backend, versions, every timing) to --out, default
 * benchmarks/perf/results/cka-block-scoring-<backend>-<date>[-<label>].json, and prints a Markdown table.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initEngine, SeededRng } from '@prunebench/engine';
import { featuresWithoutEachBlock } from '@prunebench/method-cka-hybrid';
import { createResNetCifar, getModelStructure, resnetCifarArch } from '@prunebench/models';
import { backendOption, resultHeader, scriptArgs, writeResult } from './script-helpers.js';

const USAGE = 'usage: npx tsx benchmarks/perf/cka-block-scoring.ts [--backend wasm|webgpu|cpu] [--rounds 3] [--probe 128] [--label x] [--out file.json]';
const args = scriptArgs('cka-block-scoring', USAGE, { strings: ['backend', 'rounds', 'probe', 'label', 'out'] });
const backend = backendOption('cka-block-scoring', USAGE, args);
const rounds = args.int('rounds', 3);
const probeSize = args.int('probe', 128);
const engine = await initEngine({ backend });
const loadBefore = os.loadavg();

interface DepthResult { depth: number; blocks: number; referenceSeconds: number[]; sharedSeconds: number[]; ratio: number; identical: boolean }
const results: DepthResult[] = [];
for (const depth of [20, 56]) {
  const model = createResNetCifar(resnetCifarArch(depth), { seed: 0 });
  const structure = getModelStructure(model);
  const reference = { ...structure, featuresWithoutEachBlock: undefined };
  const rng = new SeededRng(1);
  const probe = {
    inputs: tf.tensor4d(rng.normalArray(probeSize * 32 * 32 * 3), [probeSize, 32, 32, 3]),
    labels: tf.tensor1d(Array.from({ length: probeSize }, () => rng.int(10)), 'int32'),
    size: probeSize,
  };
  const ids = structure.removableBlocks(model).map((b) => b.id);
  const timed = async (s: typeof structure) => {
    const t0 = performance.now();
    const features = await featuresWithoutEachBlock(s, model, probe, ids);
    return { seconds: (performance.now() - t0) / 1000, features };
  };
  await timed(structure); // untimed: first kernel uses
  const referenceSeconds: number[] = [];
  const sharedSeconds: number[] = [];
  let identical = true;
  for (let r = 0; r < rounds; r++) {
    const old = await timed(reference);
    const now = await timed(structure);
    referenceSeconds.push(old.seconds);
    sharedSeconds.push(now.seconds);
    for (const id of ids) {
      const a = old.features.get(id)!;
      const b = now.features.get(id)!;
      if (a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) identical = false;
    }
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  results.push({ depth, blocks: ids.length, referenceSeconds, sharedSeconds, ratio: sum(referenceSeconds) / sum(sharedSeconds), identical });
  tf.dispose([probe.inputs, probe.labels]);
  model.dispose();
}

const result = { ...resultHeader('perf-cka-block-scoring', loadBefore), tfjs: engine, probeSize, rounds, results };
const out = writeResult(args, 'cka-block-scoring', engine.backend, result);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`\nbackend ${engine.backend} on ${engine.device}; probe ${probeSize} images; ${rounds} interleaved rounds; load ${loadBefore.map((l) => l.toFixed(1)).join(' ')}\n`);
console.log('| model | blocks | build each model (reference), s | shared pass, s | × faster | features identical |\n| --- | ---: | ---: | ---: | ---: | --- |');
for (const r of results) {
  console.log(`| ResNet-${r.depth} | ${r.blocks} | ${mean(r.referenceSeconds).toFixed(2)} | ${mean(r.sharedSeconds).toFixed(2)} | ${r.ratio.toFixed(2)} | ${r.identical ? 'yes' : 'NO'} |`);
}
console.log(`\nwrote ${out}`);
if (results.some((r) => !r.identical)) {
  console.error('cka-block-scoring: the shared pass gave other features than building each model');
  process.exit(1);
}
