/**
 * One worker of throughput.ts's two-core ceiling case: its own tfjs + wasm backend (worker_threads have their own
 * module graph, hence their own tfjs engine), its own ResNet, `trainStep` (SGD) on its own half batch. Not a trainer:
 * the workers never exchange gradients. It measures how fast two single-threaded wasm backends train side by side,
 * the ceiling for data-parallel training on two cores (the exchange of ~1–3 MB of gradients per step is not paid).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initEngine, SeededRng } from '@prunebench/engine';
import { createResNetCifar } from '@prunebench/models';
import { createMaskedOptimizer, trainStep } from '@prunebench/pruning';

const { depth, batch, seed } = workerData as { depth: number; batch: number; seed: number };
await initEngine({ backend: 'wasm' });
const rng = new SeededRng(seed);
const model = createResNetCifar(depth, { seed });
const inputs = tf.tensor4d(rng.normalArray(batch * 32 * 32 * 3), [batch, 32, 32, 3]);
const labels = tf.tensor1d(Int32Array.from({ length: batch }, () => rng.int(10)), 'int32');
const optimizer = createMaskedOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 }, { compiled: 'never' });
const step = () => trainStep(model, { inputs, labels, size: batch }, optimizer, { learningRate: 0.01 });
step(); // warm-up
parentPort!.on('message', (message: { steps: number } | 'exit') => {
  if (message === 'exit') {
    tf.dispose([inputs, labels]);
    optimizer.dispose();
    model.dispose();
    parentPort!.close();
    return;
  }
  for (let i = 0; i < message.steps; i++) step();
  parentPort!.postMessage('done');
});
parentPort!.postMessage('ready');
