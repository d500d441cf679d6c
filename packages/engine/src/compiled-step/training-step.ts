import type * as tf from '@tensorflow/tfjs';
import type { CompiledOptimizer } from './wgsl.js';
import type { CompiledStepIssueTiming, CompiledStepSettings, CompiledStepStats } from './resnet-cifar-step.js';

/**
 * What every compiled training step offers a trainer (ResNet-CIFAR's, BERT's): one encoded and submitted step per
 * call, the optimizer's state kept on the GPU and moved in and out under prunebench's checkpoint names
 * (`momentum/<param>`, `adam-m/<param>`, `adam-v/<param>`), and the figures the perf benchmark reports. A step
 * compiled with the 'gradient' optimizer updates nothing and reads gradients instead (`gradients`; its state is
 * `gradient/<param>`, the last gradient read).
 */
export interface CompiledTrainingStep {
  readonly optimizer: CompiledOptimizer;
  /** Encodes and submits one step; resolves to the batch's mean loss before the update, read when the GPU is done. */
  step(inputs: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor, settings: CompiledStepSettings): Promise<number>;
  /** 'gradient' steps only: the loss and the dense gradient of every trained parameter, as tfjs tensors the caller disposes. */
  gradients(inputs: tf.Tensor | Record<string, tf.Tensor>, labels: tf.Tensor): Promise<{ loss: number; grads: Map<string, tf.Tensor> }>;
  /** Updates taken (AdamW's bias correction); settable for a restored state. */
  steps: number;
  readState(): Promise<Map<string, Float32Array>>;
  /** Sets the optimizer state (entries not given are zeroed). */
  writeState(values: ReadonlyMap<string, ArrayLike<number>>): void;
  /** The parameters the step trains, in state order. */
  readonly trainedNames: string[];
  /** The shape of a trained parameter (and so of its optimizer state). */
  shapeOf(name: string): number[];
  readonly stats: CompiledStepStats;
  readonly lastIssue: CompiledStepIssueTiming;
  dispose(): void;
}
