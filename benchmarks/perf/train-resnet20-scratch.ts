/**
 * A short, honest training run: ResNet-20 from scratch (seeded init) on a class-balanced CIFAR-10 subset,
 * on the chosen backend (default wasm with prunebench's training kernels). Shows that the loss falls and the
 * test accuracy rises well above chance (10 %), and measures training throughput in images/s.
 *
 *   PRUNEBENCH_DATA=../shared/datasets npx tsx benchmarks/perf/train-resnet20-scratch.ts [--steps 300] [--batch 32] [--per-class 500]
 *
 * Writes benchmarks/perf/results/train-resnet20-scratch-<date>.json with the machine, backend and versions.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine, SeededRng } from '@prunebench/engine';
import { classBalancedSubset, ImageBatchLoader, normalizeImages, readCifar10, resolveCifar10 } from '@prunebench/data';
import { createResNetCifar } from '@prunebench/models';
import { topKAccuracy } from '@prunebench/metrics';
import { scriptArgs } from './script-helpers.js';

const args = scriptArgs('train-resnet20-scratch', 'usage: train-resnet20-scratch.ts [--steps 300] [--batch 32] [--per-class 500] [--test 1000]', {
  strings: ['steps', 'batch', 'per-class', 'test'],
});
const steps = args.int('steps', 300);
const batchSize = args.int('batch', 32);
const perClass = args.int('per-class', 500);
const testCount = args.int('test', 1000);
const seed = 0;

const engine = await initEngine({ backend: (process.env.PRUNEBENCH_BACKEND as 'wasm' | undefined) ?? 'wasm' });
const rng = new SeededRng(seed);
const { train, test } = await readCifar10(await resolveCifar10());
const subset = classBalancedSubset(train, perClass, rng.fork('subset'));
const testIndices = Array.from(rng.fork('test').permutation(test.count).subarray(0, testCount));
const model = createResNetCifar(20, { seed });
const optimizer = tf.train.momentum(0.05, 0.9);
const variables = [...model.params.values()];

async function testAccuracy(): Promise<number> {
  const pixels = normalizeImages(test, testIndices);
  const labels = Int32Array.from(testIndices, (i) => test.labels[i]);
  let correct = 0;
  for (let start = 0; start < testCount; start += 250) {
    const n = Math.min(250, testCount - start);
    const logits = tf.tidy(() => model.forward(tf.tensor4d(pixels.subarray(start * 3072, (start + n) * 3072), [n, 32, 32, 3]), { training: false }));
    correct += topKAccuracy(await logits.data(), labels.subarray(start, start + n), 1, 10) * n;
    logits.dispose();
  }
  return correct / testCount;
}

const initialAccuracy = await testAccuracy();
console.log(`backend ${engine.backend} (${engine.device}); ResNet-20 from scratch; ${subset.count} training images, batch ${batchSize}, ${steps} steps`);
console.log(`test accuracy before training: ${(100 * initialAccuracy).toFixed(1)} % on ${testCount} images`);

const loader = new ImageBatchLoader(subset, { batchSize, shuffle: true, augment: true, rng: rng.fork('loader'), dropLast: true });
const log: { step: number; meanLoss: number; trainAccuracy: number; imagesPerSecond: number }[] = [];
let step = 0, windowLoss = 0, windowCorrect = 0, windowImages = 0, trainSeconds = 0, windowSeconds = 0;
while (step < steps) {
  for (const { x, y, size } of loader.batches()) {
    if (step >= steps) { x.dispose(); y.dispose(); continue; }
    const t0 = performance.now();
    let correctCount: tf.Tensor | undefined;
    const loss = optimizer.minimize(() => {
      const logits = model.forward(x, { training: true });
      correctCount = tf.keep(tf.tidy(() => logits.argMax(1).equal(y).sum()));
      return tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), logits) as tf.Scalar;
    }, true, variables)!;
    const lossValue = (await loss.data())[0];
    const correct = (await correctCount!.data())[0];
    correctCount!.dispose();
    const seconds = (performance.now() - t0) / 1000;
    loss.dispose(); x.dispose(); y.dispose();
    if (!Number.isFinite(lossValue)) throw new Error(`loss became ${lossValue} at step ${step}`);
    step++;
    windowLoss += lossValue * size; windowCorrect += correct; windowImages += size; windowSeconds += seconds; trainSeconds += seconds;
    if (step % 50 === 0 || step === steps) {
      const row = { step, meanLoss: windowLoss / windowImages, trainAccuracy: windowCorrect / windowImages, imagesPerSecond: windowImages / windowSeconds };
      log.push(row);
      console.log(`step ${String(step).padStart(4)}  loss ${row.meanLoss.toFixed(3)}  train acc ${(100 * row.trainAccuracy).toFixed(1)} %  ${row.imagesPerSecond.toFixed(1)} img/s`);
      windowLoss = windowCorrect = windowImages = windowSeconds = 0;
    }
  }
}
const finalAccuracy = await testAccuracy();
const imagesPerSecond = (steps * batchSize) / trainSeconds;
console.log(`test accuracy after ${steps} steps: ${(100 * finalAccuracy).toFixed(1)} % (chance 10 %); training throughput ${imagesPerSecond.toFixed(1)} img/s`);

const result = {
  benchmark: 'train-resnet20-scratch', date: new Date().toISOString(), seed, steps, batchSize, trainImages: subset.count, testImages: testCount,
  initialTestAccuracy: initialAccuracy, finalTestAccuracy: finalAccuracy, trainImagesPerSecond: imagesPerSecond, log,
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length }, engine,
};
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `train-resnet20-scratch-${result.date.slice(0, 10)}.json`), JSON.stringify(result, null, 2) + '\n');
