/**
 * Registers prunebench's training kernels for the tfjs wasm backend: the ones it lacks (filter gradient of
 * conv2d, gather's gradient) and faster replacements of slow built-ins. Overriding is done through the
 * public kernel registry (unregisterKernel + registerKernel); the built-ins are remembered so that
 * `unregisterWasmTrainingKernels()` can put them back (used to measure the difference).
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMulWasmConfig, fusedMatMulWasmConfig } from './batch-mat-mul.js';
import { batchNormTrainingGradWasmConfig, batchNormTrainingWasmConfig } from './batch-norm-training.js';
import { conv2dBackpropFilterWasmConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputWasmConfig } from './conv2d-backprop-input.js';
import { sliceWasmConfig } from './slice.js';
import { sumWasmConfig } from './sum.js';
import { transposeWasmConfig } from './transpose.js';
import { unsortedSegmentSumWasmConfig } from './unsorted-segment-sum.js';
import { rememberReplacedKernel, replacedKernel } from './wasm-kernel-calls.js';

/** Kernels the wasm backend does not have at all. */
export const MISSING_WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterWasmConfig,
  unsortedSegmentSumWasmConfig,
];

/**
 * Replacements for built-in wasm kernels that are much slower than the path we route them through, and
 * fused kernels of our own (training-mode batch norm; used by @prunebench/models when registered).
 */
export const FASTER_WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropInputWasmConfig,
  batchMatMulWasmConfig,
  fusedMatMulWasmConfig,
  sliceWasmConfig,
  sumWasmConfig,
  transposeWasmConfig,
  batchNormTrainingWasmConfig,
  batchNormTrainingGradWasmConfig,
];

export interface WasmTrainingKernelOptions {
  /** Also replace slow built-in kernels (default true); false registers only the missing ones. */
  fasterKernels?: boolean;
  /**
   * Register only these kernels (names from MISSING_WASM_KERNELS and FASTER_WASM_KERNELS), e.g. to measure
   * an older set against the current one; default: all that `fasterKernels` allows.
   */
  only?: readonly string[];
}

/** Names of the kernels prunebench currently has registered for wasm. */
const installed = new Set<string>();

function install(config: tf.KernelConfig): void {
  if (installed.has(config.kernelName)) return;
  const builtIn = tf.getKernel(config.kernelName, 'wasm');
  if (builtIn !== undefined) {
    rememberReplacedKernel(builtIn);
    tf.unregisterKernel(config.kernelName, 'wasm');
  }
  // A built-in that was never set up (registered before the backend started) is set up with ours.
  const builtInSetup = builtIn?.setupFunc;
  tf.registerKernel(builtInSetup ? { ...config, setupFunc: builtInSetup } : config);
  installed.add(config.kernelName);
}

/**
 * Registers the training kernels for wasm. Idempotent; safe to call before or after the wasm backend
 * starts. Returns the names of the kernels that are now prunebench's.
 */
export function registerWasmTrainingKernels(options: WasmTrainingKernelOptions = {}): string[] {
  const fasterKernels = options.fasterKernels ?? true;
  if (typeof fasterKernels !== 'boolean') {
    throw new Error(`registerWasmTrainingKernels: option 'fasterKernels' must be a boolean, got ${typeof fasterKernels}`);
  }
  const only = options.only;
  if (only !== undefined) {
    const known = [...MISSING_WASM_KERNELS, ...FASTER_WASM_KERNELS].map((k) => k.kernelName);
    const unknown = only.filter((name) => !known.includes(name));
    if (unknown.length > 0) throw new Error(`registerWasmTrainingKernels: option 'only' names unknown kernels ${unknown.join(', ')}; known: ${known.join(', ')}`);
  }
  const wanted = (config: tf.KernelConfig) => only === undefined || only.includes(config.kernelName);
  for (const config of MISSING_WASM_KERNELS) if (wanted(config)) install(config);
  if (fasterKernels) for (const config of FASTER_WASM_KERNELS) if (wanted(config)) install(config);
  return [...installed].sort();
}

/** Removes prunebench's wasm kernels and restores the built-ins they replaced. */
export function unregisterWasmTrainingKernels(): void {
  for (const kernelName of installed) {
    tf.unregisterKernel(kernelName, 'wasm');
    const builtIn = replacedKernel(kernelName);
    if (builtIn !== undefined) tf.registerKernel(builtIn);
  }
  installed.clear();
}

/** The wasm kernels prunebench has registered now (sorted names). */
export function wasmTrainingKernelNames(): string[] {
  return [...installed].sort();
}
