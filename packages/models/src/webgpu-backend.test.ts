/**
 * tfjs's webgpu backend against its cpu backend on every kernel prunebench's models run: ResNet-CIFAR (eval-mode
 * folded batch norm, training-mode batch norm with running statistics, option-A shortcuts, their gradients) and
 * BERT (embeddings, masked attention, GELU, layer norm, pooler, and gradients, including the embedding gather's).
 *
 * Tolerance: every output is compared as max |webgpu − cpu| ≤ 1e-3 · max(1, max |cpu|). Both are float32; the
 * longest reductions here (a 3×3×8 convolution over a batch, a 32-wide matmul, batch-norm statistics over 4·16·16
 * values) accumulate rounding error of order n · 2⁻²⁴ ≈ 1e-4 relative in the worst case, so 1e-3 leaves a 10×
 * margin while catching any kernel that is wrong (a wrong kernel is off by O(1)).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { SeededRng, initEngine } from '@prunebench/engine';
import { itRequires, webgpuRequirement } from '@prunebench/engine/testing';
import { bertArch, createBert } from './bert/index.js';
import type { ResNetCifarArch } from './resnet-cifar-arch.js';
import { randomResNetCifar } from './testing/random-resnet-cifar.js';
import type { Model } from './types.js';

const requirement = await webgpuRequirement();
const TOLERANCE = 1e-3;

/** Stem 4; stages of 4, 8, 8 channels, one block each: option-A shortcuts (stride 2, channel padding) in two stages. */
const SMALL_RESNET: ResNetCifarArch = {
  family: 'resnet-cifar', depth: 8, numClasses: 5, stem: 4,
  stages: [
    { blocks: [{ mid: 4, out: 4, stride: 1 }] },
    { blocks: [{ mid: 6, out: 8, stride: 2 }] },
    { blocks: [{ mid: 8, out: 8, stride: 2 }] },
  ],
};

type Outputs = Map<string, Float32Array>;

/** Eval logits, training-mode loss gradients of every parameter, and the running statistics after that pass. */
async function modelOutputs(model: Model, inputs: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor): Promise<Outputs> {
  const out: Outputs = new Map();
  const read = async (name: string, t: tf.Tensor) => {
    out.set(name, Float32Array.from((await t.data()) as Float32Array));
    t.dispose();
  };
  await read('eval-logits', model.forward(inputs, { training: false }));
  const classes = model.forward(inputs, { training: false });
  const numClasses = classes.shape[1]!;
  classes.dispose();
  const vars = [...model.params.values()];
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.forward(inputs, { training: true });
    return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, numClasses), logits as tf.Tensor2D) as tf.Scalar;
  }, vars);
  await read('loss', value);
  for (const [name, v] of model.params) await read(`grad/${name}`, grads[v.name]!);
  for (const [name, b] of model.buffers) out.set(`buffer/${name}`, Float32Array.from((await b.data()) as Float32Array));
  return out;
}

/** Builds the model and inputs afresh on each backend (from the same seeds) and compares every output. */
async function compareBackends(build: () => { model: Model; inputs: tf.Tensor | Record<string, tf.Tensor>; labels: tf.Tensor }): Promise<number> {
  const results: Outputs[] = [];
  for (const backend of ['cpu', 'webgpu'] as const) {
    await initEngine({ backend });
    const { model, inputs, labels } = build();
    try {
      results.push(await modelOutputs(model, inputs, labels));
    } finally {
      model.dispose();
      tf.dispose([labels, ...(inputs instanceof tf.Tensor ? [inputs] : Object.values(inputs))]);
    }
  }
  const [cpu, webgpu] = results as [Outputs, Outputs];
  expect([...webgpu.keys()]).toEqual([...cpu.keys()]);
  let worst = 0;
  for (const [name, expected] of cpu) {
    const actual = webgpu.get(name)!;
    expect(actual.length, name).toBe(expected.length);
    let scale = 1;
    let diff = 0;
    for (let i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]!));
      diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    }
    expect(Number.isFinite(diff), `${name} is finite on webgpu`).toBe(true);
    expect(diff / scale, `${name}: max |webgpu − cpu| / scale`).toBeLessThanOrEqual(TOLERANCE);
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

describe('tfjs webgpu backend agrees with cpu on prunebench models', () => {
  itRequires(requirement, 'ResNet-CIFAR: eval logits, training-mode gradients and running statistics', async () => {
    const worst = await compareBackends(() => {
      const rng = new SeededRng(3);
      return {
        model: randomResNetCifar(SMALL_RESNET, 11),
        inputs: tf.tensor4d(rng.normalArray(4 * 16 * 16 * 3), [4, 16, 16, 3]),
        labels: tf.tensor1d([0, 1, 2, 4], 'int32'),
      };
    });
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  }, 300_000);

  itRequires(requirement, 'BERT: eval logits and gradients with padding masked out', async () => {
    const arch = bertArch({ layers: 2, hidden: 16, heads: 2, intermediate: 32, vocabSize: 40, maxPosition: 16, numLabels: 3 });
    const worst = await compareBackends(() => {
      const rng = new SeededRng(5);
      const ids = Int32Array.from({ length: 3 * 8 }, () => 1 + rng.int(39));
      const mask = Int32Array.from({ length: 3 * 8 }, (_, i) => (i % 8 < 8 - (i >> 3) * 2 ? 1 : 0));
      return {
        model: createBert(arch, { seed: 2 }),
        inputs: {
          input_ids: tf.tensor2d(ids, [3, 8], 'int32'),
          attention_mask: tf.tensor2d(mask, [3, 8], 'int32'),
          token_type_ids: tf.tensor2d(Int32Array.from({ length: 24 }, (_, i) => (i % 8 >= 4 ? 1 : 0)), [3, 8], 'int32'),
        },
        labels: tf.tensor1d([0, 2, 1], 'int32'),
      };
    });
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  }, 300_000);
});
