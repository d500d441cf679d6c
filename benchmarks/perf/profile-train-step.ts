/**
 * Where one prunebench training step goes: ResNet-CIFAR (`createResNetCifar`, batch-norm in training mode) or
 * BERT-mini (`createBert`, sequences of 128 tokens),
 * `trainStep` (SGD momentum 0.9, weight decay 5e-4) exactly as the harness trainer does it, profiled
 * with tf.profile and grouped by kernel name.
 *
 *   npx tsx benchmarks/perf/profile-train-step.ts [--model resnet20|resnet56|bert-mini] [--batch 128 (bert: 32)] [--backend wasm]
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine, parseBackendRequest, SeededRng } from '@prunebench/engine';
import { bertMiniArch, createBert, createResNetCifar, type Model } from '@prunebench/models';
import { createMaskedOptimizer, trainStep } from '@prunebench/pruning';
import { exitWithUsage, kernelTimeTable, scriptArgs } from './script-helpers.js';

const USAGE = 'usage: profile-train-step.ts [--model resnet20|resnet56|bert-mini] [--batch n] [--backend wasm]';
const args = scriptArgs('profile-train-step', USAGE, { strings: ['model', 'batch', 'backend'] });
const modelName = args.string('model') ?? 'resnet20';
if (!/^(resnet\d+|bert-mini)$/.test(modelName)) exitWithUsage('profile-train-step', `--model must be resnet<depth> or bert-mini, got '${modelName}'`, USAGE);
const bert = modelName === 'bert-mini';
const depth = bert ? 0 : Number(modelName.replace('resnet', ''));
const batch = args.int('batch', bert ? 32 : 128);
const engine = await initEngine({ backend: parseBackendRequest(args.string('backend') ?? 'wasm', '--backend') });
const rng = new SeededRng(0);
const model: Model = bert ? createBert(bertMiniArch(2), { seed: 0 }) : createResNetCifar(depth, { seed: 0 });
const inputs = bert
  ? { input_ids: tf.tensor2d(Int32Array.from({ length: batch * 128 }, () => 1 + rng.int(30_000)), [batch, 128], 'int32') }
  : tf.tensor4d(rng.normalArray(batch * 32 * 32 * 3), [batch, 32, 32, 3]);
const labels = tf.tensor1d(Int32Array.from({ length: batch }, () => rng.int(bert ? 2 : 10)), 'int32');
const optimizer = createMaskedOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 }, { compiled: 'never' });
const step = () => trainStep(model, { inputs, labels, size: batch }, optimizer, { learningRate: 0.01 });

step();
step();
const t0 = performance.now();
step();
const wallMs = performance.now() - t0;
const profile = await tf.profile(() => { step(); });
console.log(`${engine.backend} ${engine.device}; ${modelName}, batch ${batch}; one step ${wallMs.toFixed(0)} ms wall (${(batch * 1000 / wallMs).toFixed(1)} img/s)`);
console.log(kernelTimeTable(profile, 'kernel', 25, 1).join('\n'));
