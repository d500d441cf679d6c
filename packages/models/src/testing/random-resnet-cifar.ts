/** Test helper: a ResNet-CIFAR whose batch norm matters (random affine parameters and running statistics). */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { createResNetCifar, type ResNetCifarArch, type ResNetCifarModel } from '../resnet-cifar.js';

/** Random weights, random BN scale/shift and running statistics, a random classifier bias; all from `seed`. */
export function randomResNetCifar(arch: ResNetCifarArch, seed: number): ResNetCifarModel {
  const model = createResNetCifar(arch, { seed });
  const rng = new SeededRng(seed + 1000);
  const set = (v: tf.Variable, f: () => number) => v.assign(tf.tensor(Array.from({ length: v.size }, f), v.shape, 'float32'));
  for (const [name, v] of [...model.params, ...model.buffers]) {
    if (name.endsWith('running_var')) set(v, () => Math.abs(1 + 0.3 * rng.normal()));
    else if (name.endsWith('running_mean') || model.paramKinds.get(name) === 'norm-shift') set(v, () => 0.1 * rng.normal());
    else if (model.paramKinds.get(name) === 'norm-scale') set(v, () => 1 + 0.2 * rng.normal());
    else if (name === 'linear.bias') set(v, () => 0.1 * rng.normal());
  }
  return model;
}
