/**
 * Speed of one training step (forward + backward + SGD update) of a ResNet-20-like CIFAR net built from raw
 * tf ops (conv3x3 16/32/64 channels on 32x32, batch norm via tf.moments, relu, residual adds; 1x1 stride-2
 * projection shortcuts) on the wasm backend, with only the kernels wasm lacks and with prunebench's faster
 * gradient kernels; plus per-kernel timings of the built-in vs. the replacement, and where a step's time goes.
 *
 *   npx tsx benchmarks/perf/wasm-train-step.ts [--batch 64] [--steps 3]
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine, registerWasmTrainingKernels, SeededRng, unregisterWasmTrainingKernels } from '@prunebench/engine';
import { kernelTimeTable, scriptArgs } from './script-helpers.js';

const args = scriptArgs('wasm-train-step', 'usage: wasm-train-step.ts [--batch 64] [--steps 3]', { strings: ['batch', 'steps'] });
const batch = args.int('batch', 64);
const steps = args.int('steps', 3);
const rng = new SeededRng(0);

function heNormal(shape: number[]): tf.Variable {
  const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return tf.variable(tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), Math.sqrt(2 / fanIn)), shape));
}

interface ConvBn { filter: tf.Variable; gamma: tf.Variable; beta: tf.Variable; stride: number }
function convBn(k: number, cin: number, cout: number, stride: number): ConvBn {
  return { filter: heNormal([k, k, cin, cout]), gamma: tf.variable(tf.ones([cout])), beta: tf.variable(tf.zeros([cout])), stride };
}

function applyConvBn(x: tf.Tensor4D, p: ConvBn): tf.Tensor4D {
  const y = tf.conv2d(x, p.filter as tf.Tensor4D, p.stride, 'same');
  const { mean, variance } = tf.moments(y, [0, 1, 2]);
  return y.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(p.gamma).add(p.beta) as tf.Tensor4D;
}

interface Block { a: ConvBn; b: ConvBn; shortcut?: ConvBn }
const stem = convBn(3, 3, 16, 1);
const blocks: Block[] = [];
let channels = 16;
for (const [stage, width] of [16, 32, 64].entries()) {
  for (let i = 0; i < 3; i++) {
    const stride = stage > 0 && i === 0 ? 2 : 1;
    blocks.push({
      a: convBn(3, channels, width, stride),
      b: convBn(3, width, width, 1),
      shortcut: stride !== 1 || channels !== width ? convBn(1, channels, width, stride) : undefined,
    });
    channels = width;
  }
}
const dense = heNormal([64, 10]);
const denseBias = tf.variable(tf.zeros([10]));

function logits(images: tf.Tensor4D): tf.Tensor2D {
  let x = tf.relu(applyConvBn(images, stem));
  for (const block of blocks) {
    const residual = block.shortcut ? applyConvBn(x, block.shortcut) : x;
    const h = tf.relu(applyConvBn(x, block.a));
    x = tf.relu(applyConvBn(h, block.b).add(residual)) as tf.Tensor4D;
  }
  return tf.mean(x, [1, 2]).matMul(dense).add(denseBias) as tf.Tensor2D;
}

const images = tf.tensor4d(rng.uniformArray(batch * 32 * 32 * 3, 0, 1), [batch, 32, 32, 3]);
const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, () => rng.int(10)), 'int32'), 10);
const optimizer = tf.train.sgd(0.01);
const lossOf = () => tf.losses.softmaxCrossEntropy(labels, logits(images)) as tf.Scalar;

function trainStep(): number {
  const loss = optimizer.minimize(lossOf, true)!;
  const value = loss.dataSync()[0]!;
  loss.dispose();
  return value;
}

async function timeSteps(label: string): Promise<{ label: string; msPerStep: number; imgPerSec: number; loss: number }> {
  let loss = trainStep(); // warm-up: XNNPACK operator creation, first allocations
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) loss = trainStep();
  const msPerStep = (performance.now() - t0) / steps;
  return { label, msPerStep, imgPerSec: (batch * 1000) / msPerStep, loss };
}

function timeKernel(run: () => tf.Tensor, repeats = 5): number {
  tf.tidy(() => { run().dataSync(); });
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) tf.tidy(() => { run().dataSync(); });
  return (performance.now() - t0) / repeats;
}

const engine = await initEngine({ backend: 'wasm' });
console.log(`machine: ${engine.device}; backend ${engine.backend} (${engine.versions.backendPackage}, threads ${engine.threads ?? '?'}); tfjs ${engine.versions.tfjs}; node ${engine.versions.node}`);
console.log(`ResNet-20-like net, batch ${batch}, ${steps} timed steps after one warm-up\n`);

const rows: Array<{ label: string; msPerStep: number; imgPerSec: number; loss: number }> = [];
const forwardMs = timeKernel(() => logits(images), 3);
unregisterWasmTrainingKernels();
registerWasmTrainingKernels({ fasterKernels: false });
rows.push(await timeSteps('missing kernels only'));
unregisterWasmTrainingKernels();
registerWasmTrainingKernels();
rows.push(await timeSteps('prunebench kernels (all)'));

console.log('| wasm training step | ms/step | img/s |');
console.log('| --- | ---: | ---: |');
for (const r of rows) console.log(`| ${r.label} | ${r.msPerStep.toFixed(0)} | ${r.imgPerSec.toFixed(1)} |`);
console.log(`| forward only | ${forwardMs.toFixed(0)} | ${((batch * 1000) / forwardMs).toFixed(0)} |`);

// Per-kernel: the built-in Conv2DBackpropInput against the replacement, at each ResNet stage's shape.
console.log('\n| Conv2DBackpropInput, batch ' + batch + ' | built-in ms | prunebench ms | speed-up |');
console.log('| --- | ---: | ---: | ---: |');
for (const [size, cin, cout, stride] of [[32, 16, 16, 1], [32, 16, 32, 2], [16, 32, 32, 1], [8, 64, 64, 1]] as const) {
  const outSize = size / stride;
  const dy = tf.randomNormal([batch, outSize, outSize, cout]);
  const filter = tf.randomNormal([3, 3, cin, cout]);
  const attrs = { strides: stride, pad: 'same', dataFormat: 'NHWC', inputShape: [batch, size, size, cin] };
  const run = () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, attrs as any) as tf.Tensor;
  const ours = timeKernel(run);
  unregisterWasmTrainingKernels();
  registerWasmTrainingKernels({ fasterKernels: false });
  const builtIn = timeKernel(run);
  unregisterWasmTrainingKernels();
  registerWasmTrainingKernels();
  console.log(`| ${size}x${size} ${cin}->${cout} stride ${stride} | ${builtIn.toFixed(1)} | ${ours.toFixed(1)} | ${(builtIn / ours).toFixed(1)}x |`);
  tf.dispose([dy, filter]);
}

// Transposed matmuls (every dense layer's backward pass): built-in flag path vs. explicit transpose.
console.log('\n| BatchMatMul 1024x256x512 | built-in ms | prunebench ms | speed-up |');
console.log('| --- | ---: | ---: | ---: |');
for (const [transposeA, transposeB] of [[true, false], [false, true]] as const) {
  const a = tf.randomNormal(transposeA ? [256, 1024] : [1024, 256]);
  const b = tf.randomNormal(transposeB ? [512, 256] : [256, 512]);
  const run = () => tf.matMul(a, b, transposeA, transposeB);
  const ours = timeKernel(run, 3);
  unregisterWasmTrainingKernels();
  registerWasmTrainingKernels({ fasterKernels: false });
  const builtIn = timeKernel(run, 3);
  unregisterWasmTrainingKernels();
  registerWasmTrainingKernels();
  console.log(`| transposeA=${transposeA} transposeB=${transposeB} | ${builtIn.toFixed(1)} | ${ours.toFixed(1)} | ${(builtIn / ours).toFixed(1)}x |`);
  tf.dispose([a, b]);
}

// Where one step's time goes now (kernel time by kernel name, top entries).
const profile = await tf.profile(() => { trainStep(); });
console.log('\n' + kernelTimeTable(profile, 'kernel (one step, all prunebench kernels)', 12, 0).join('\n'));
