import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { ckaHybridMethod } from '@prunebench/method-cka-hybrid';
import { hrankMethod } from '@prunebench/method-hrank';
import { countMacs, countParameters, prunableDensities } from '@prunebench/metrics';
import { createResNetCifar, getModelStructure, stateDict, traceLayers, type Model, type ResNetCifarArch } from '@prunebench/models';
import { HarnessTrainer, RunInterruptedError, directoryCheckpoints, type FineTuneRecipe } from '@prunebench/harness';
import type { Batch, MethodResult, PruningMethod } from '@prunebench/pruning';
import { METHODS } from '../methods.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ARCH: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 14, numClasses: 3, stem: 4,
  stages: [
    { blocks: [{ mid: 4, out: 4, stride: 1 }, { mid: 4, out: 4, stride: 1 }] },
    { blocks: [{ mid: 6, out: 8, stride: 2 }, { mid: 6, out: 8, stride: 1 }] },
    { blocks: [{ mid: 6, out: 8, stride: 2 }, { mid: 6, out: 8, stride: 1 }] },
  ],
};
const RECIPE: FineTuneRecipe = { optimizer: 'sgd', momentum: 0.9, learningRate: 0.02, schedule: 'cosine', weightDecay: 5e-4, batchSize: 8, augment: false };

/** Random 8×8 images with fixed labels: the parts of a LoadedTask the trainer uses. */
function imageTask() {
  const batch = (size: number, rng: SeededRng): Batch => ({
    inputs: tf.tensor4d(rng.normalArray(size * 8 * 8 * 3), [size, 8, 8, 3]),
    labels: tf.tensor1d(Array.from({ length: size }, (_, i) => i % 3), 'int32'),
    size,
  });
  return {
    trainExamples: 64,
    *trainBatches(batchSize: number, rng: SeededRng): Iterator<Batch> {
      for (;;) yield batch(batchSize, rng);
    },
    sampleBatches: (count: number, batchSize: number, rng: SeededRng) => Array.from({ length: count }, () => batch(batchSize, rng)),
    evaluate: async () => ({ quality: 0, qualityName: 'top1' }),
  };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs a method the way executeRun does (same seed forks), with checkpoints in `dir`. */
async function runMethod(method: PruningMethod<any>, options: Record<string, unknown>, dir: string, abortAfter?: number): Promise<{ start: Model; result: MethodResult }> {
  const start = createResNetCifar(ARCH, { seed: 9 });
  const seed = new SeededRng(0);
  const controller = new AbortController();
  const trainer = new HarnessTrainer({
    task: imageTask(), recipe: RECIPE, totalExamples: 96, rng: seed.fork('trainer'), chunkExamples: 16,
    checkpoints: directoryCheckpoints(dir), signal: controller.signal,
    onProgress: (used) => {
      if (abortAfter !== undefined && used >= abortAfter) controller.abort();
    },
  });
  try {
    const result = await method.run({
      model: start, options: method.parseOptions(options), target: { kind: 'flops-reduction', fraction: 0.4 }, trainer,
      rng: seed.fork('method'), prunable: [], log: () => {},
    });
    return { start, result };
  } catch (error) {
    start.dispose();
    throw error;
  }
}

async function weights(model: Model): Promise<Map<string, Float32Array>> {
  return new Map([...(await stateDict(model))].map(([name, t]) => [name, t.data]));
}

describe('structured methods in the harness', () => {
  it('are registered', () => {
    expect(METHODS.get('hrank')).toBe(hrankMethod);
    expect(METHODS.get('cka-hybrid')).toBe(ckaHybridMethod);
  });

  for (const [method, options] of [[hrankMethod, { rankBatches: 1, rankBatchSize: 4, steps: 2 }], [ckaHybridMethod, { probeSize: 8, candidateExamples: 8, stepFraction: 0.2 }]] as const) {
    it(`${method.name}: an interrupted run resumes into the surgered shapes and ends with the same weights`, async () => {
      const full = mkdtempSync(join(tmpdir(), `${method.name}-full-`));
      const resumed = mkdtempSync(join(tmpdir(), `${method.name}-resumed-`));
      dirs.push(full, resumed);
      const reference = await runMethod(method, options, full);
      await expect(runMethod(method, options, resumed, 40)).rejects.toThrow(RunInterruptedError);
      const again = await runMethod(method, options, resumed);
      expect(again.result.model.arch).toEqual(reference.result.model.arch);
      const expected = await weights(reference.result.model);
      for (const [name, values] of await weights(again.result.model)) expect(Array.from(values)).toEqual(Array.from(expected.get(name)!));

      // the harness's FLOP check (countMacs of the traced final arch against the dense start) sees the surgery
      const dense = countMacs(traceLayers(reference.start.arch, [32, 32, 3])).dense;
      const densities = prunableDensities(await countParameters(reference.result.model, { prunable: [] }));
      const effective = countMacs(traceLayers(reference.result.model.arch, [32, 32, 3]), { weightDensity: densities }).effective;
      expect(1 - effective / dense).toBeGreaterThanOrEqual(0.4);
      const structure = getModelStructure(reference.start);
      expect(effective).toBe(structure.totalMacs!(reference.result.model));
      for (const m of [reference.start, reference.result.model, again.start, again.result.model]) m.dispose();
    });
  }

  it('a checkpoint of another surgery fails clearly instead of loading mis-shaped weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hrank-mismatch-'));
    dirs.push(dir);
    const first = await runMethod(hrankMethod, { rankBatches: 1, rankBatchSize: 4 }, dir);
    await expect(runMethod(hrankMethod, { rankBatches: 1, rankBatchSize: 4, layerRatios: { 'layer1.0.conv1': 1, 'layer1.1.conv1': 1, 'layer2.0.conv1': 1, 'layer2.1.conv1': 1, 'layer3.0.conv1': 0.2, 'layer3.1.conv1': 0.2 } }, dir))
      .rejects.toThrow(/checkpoint param "layer\d\.\d\.(conv1\.weight|bn1\.\w+|conv2\.weight)" has shape/);
    first.start.dispose();
    first.result.model.dispose();
  });
});
