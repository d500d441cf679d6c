/**
 * Kernels prunebench registers for tfjs's webgpu backend, where tfjs 4.22's own are wrong on the paths
 * prunebench runs. Each is tested against the cpu backend (webgpu-kernels/*.test.ts; on a software adapter in CI).
 * Also avoided, in the models instead: a rank-6 pad (invalid WGSL), by keeping the option-A shortcut at rank 4.
 */
import * as tf from '@tensorflow/tfjs';
import { chunkedAddN } from './add-n.js';

const REPLACEMENTS: Array<[string, (original: tf.KernelConfig) => tf.KernelConfig]> = [[tf.AddN, chunkedAddN]];
const registered: string[] = [];

/** Replaces tfjs's webgpu kernels listed above (idempotent); called when the webgpu backend starts. */
export function registerWebgpuKernels(): void {
  for (const [name, replacement] of REPLACEMENTS) {
    if (registered.includes(name)) continue;
    const original = tf.getKernel(name, 'webgpu');
    if (!original) continue;
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel(replacement(original));
    registered.push(name);
  }
}

/** The webgpu kernels prunebench replaced in this process. */
export function webgpuKernelNames(): string[] {
  return [...registered];
}
