/**
 * Run as a child process by wasm-threads.test.ts: one forward + backward pass of a small conv net through
 * every prunebench wasm kernel family (convolution and both its gradients, fused batch norm forward and
 * backward, matmul, transposes, sums), on fixed inputs, on the wasm backend with the thread count given by
 * PRUNEBENCH_WASM_THREADS. Prints one JSON line: the engine's thread count and a sha256 of every output's
 * bytes. Ends without process.exit, so the test also sees that the thread pool does not keep Node alive.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { initEngine } from '../backend.js';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from '../wasm-kernels/batch-norm-training.js';
import { SeededRng } from '../rng.js';

const info = await initEngine({ backend: 'wasm' });
const rng = new SeededRng(7);
const tensor = (shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
const x = tensor([32, 12, 12, 8]) as tf.Tensor4D;
const w1 = tensor([3, 3, 8, 16]) as tf.Tensor4D;
const w2 = tensor([3, 3, 16, 24]) as tf.Tensor4D;
const dense = tensor([24, 10]) as tf.Tensor2D;
const gamma = tf.ones([16]), beta = tf.zeros([16]);

const h = tf.conv2d(x, w1, 1, 'same');
const [normed, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { x: h, gamma, beta }, { varianceEpsilon: 1e-5 }) as tf.Tensor[];
const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
  tf.conv2d(tf.relu(a) as tf.Tensor4D, b as tf.Tensor4D, 2, 'same').mean([1, 2]).matMul(c as tf.Tensor2D).square().sum() as tf.Scalar;
const [dNormed, dW2, dDense] = tf.grads(loss)([normed!, w2, dense]);
const [dH] = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, {
  dy: dNormed!, x: h, gamma, mean: mean!, variance: variance!, dMean: tf.zeros([16]), dVariance: tf.zeros([16]),
}, { varianceEpsilon: 1e-5 }) as tf.Tensor[];
const [dX, dW1] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').mul(dH!).sum() as tf.Scalar)([x, w1]);

const hash = createHash('sha256');
for (const t of [normed!, dX!, dW1!, dW2!, dDense!]) hash.update(new Uint8Array((t.dataSync() as Float32Array).buffer));
console.log(JSON.stringify({ threads: info.threads, backendPackage: info.versions.backendPackage, sha256: hash.digest('hex') }));
