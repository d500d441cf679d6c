/**
 * Issue 16's hook for trainers: the engine's compiled training step (one command encoder and one submit per step,
 * the optimizer fused in) for a model where one exists, else null so the caller keeps tfjs's op-by-op step.
 *
 * Exists for, on the webgpu backend, every parameter trained with prunebench's masked SGD (momentum, weight decay)
 * or AdamW (`optimizer`; decoupled decay on ADAMW_DECAYED_KINDS: convolutions, linear weights, embedding tables):
 * - a ResNet-CIFAR (any widths, removed blocks), float32 NHWC images with 3 channels, reference option-A shortcuts
 *   (no channel map from coupled-channel surgery);
 * - a BERT for sequence classification (any layer count, per-layer heads, head size and FFN width, hidden size,
 *   pooler width, `layerNormWidth`, vocabulary, positions, labels), inputs as BertModel takes them: input_ids
 *   [batch, seq] (a tensor, or named inputs with optional attention_mask and token_type_ids of that shape),
 *   seq ≤ maxPosition; softmax cross-entropy on the classifier's logits. Input ids and token types beyond their
 *   tables are clamped to the last row (tfjs's gather would not be asked to read there either).
 * Not (null): other families, other backends, other input layouts. A caller training a subset of the parameters,
 * or with another loss (distillation), must not use it. `optimizer: 'gradient'` gives the step that reads the
 * dense gradients instead of updating (`gradients()`: SNIP, SAFE's two SAM gradients, RigL; pruning's
 * denseLossAndGradients).
 *
 * The step keeps the optimizer state on the GPU (zeros when built; shared, with the step count, by a model's steps
 * of every batch shape for one optimizer): a trainer that checkpoints or restores its optimizer moves it with
 * `readState` / `writeState` and `steps` (names as prunebench's OptimizerState: `momentum/<param>`,
 * `adam-m/<param>`, `adam-v/<param>`).
 */
import * as tf from '@tensorflow/tfjs';
import {
  compiledStepEnv, compileBertStep, compileResNetCifarStep, type CompiledBertStep, type CompiledOptimizer, type CompiledResNetCifarStep, type CompiledTrainingStep,
} from '@prunebench/engine';
import { BertModel, bertPoolerWidth } from './bert/index.js';
import { ResNetCifarModel, resolveBlocks } from './resnet-cifar.js';
import type { Model } from './types.js';
import { compiledStepsByModel as cache } from './compiled-step-cache.js';

export { disposeCompiledTrainingSteps } from './compiled-step-cache.js';

/**
 * The compiled step for this model and these inputs' shape (built on first use, then cached per shape: a last,
 * smaller batch gets its own), or null where none exists. Set PRUNEBENCH_COMPILED_STEP=0 to always get null.
 */
export async function compiledTrainingStepFor(
  model: Model,
  inputs: tf.Tensor | Record<string, tf.Tensor>,
  options: { optimizer?: CompiledOptimizer } = {},
): Promise<CompiledTrainingStep | null> {
  const optimizer = options.optimizer ?? 'sgd';
  if (compiledStepEnv() === 'off') return null;
  if (tf.getBackend() !== 'webgpu') return null;
  if (model instanceof BertModel) return bertStepFor(model, inputs, optimizer);
  if (!(model instanceof ResNetCifarModel)) return null;
  // The kernels implement the reference option-A padding only; a coupled-channel surgery's shortcut map is not.
  if (model.arch.stages.some((stage) => stage.blocks.some((block) => block.shortcut !== undefined))) return null;
  if (!(inputs instanceof tf.Tensor) || inputs.rank !== 4 || inputs.shape[3] !== 3 || inputs.dtype !== 'float32') return null;
  const [batch, height, width] = inputs.shape as [number, number, number, number];
  if (batch * height * width < 2) return null;
  let byShape = cache.get(model);
  if (!byShape) cache.set(model, (byShape = new Map()));
  const key = `${optimizer}:${batch}x${height}x${width}`;
  let step = byShape.get(key);
  if (!step) {
    const arch = model.arch;
    // every shape's step shares the first one's momentum buffers: one optimizer state per model
    const first = [...byShape].find(([k]) => k.startsWith(`${optimizer}:`))?.[1];
    const shareVelocityWith = first ? ((await first) as CompiledResNetCifarStep) : undefined;
    step = compileResNetCifarStep({ stem: arch.stem, numClasses: arch.numClasses, blocks: resolveBlocks(arch) }, model, { batch, height, width }, { shareVelocityWith, optimizer });
    byShape.set(key, step);
    step.catch(() => byShape.delete(key));
  }
  return step;
}

/** The BERT step for these inputs' batch × seq (cached per shape like ResNet's), or null for inputs it does not take. */
function bertStepFor(model: BertModel, inputs: tf.Tensor | Record<string, tf.Tensor>, optimizer: CompiledOptimizer): Promise<CompiledTrainingStep> | null {
  const named = inputs instanceof tf.Tensor ? { input_ids: inputs } : inputs;
  const ids = named.input_ids;
  if (!(ids instanceof tf.Tensor) || ids.rank !== 2) return null;
  if (Object.keys(named).some((key) => !['input_ids', 'attention_mask', 'token_type_ids'].includes(key))) return null;
  for (const key of ['attention_mask', 'token_type_ids'] as const) {
    const t = named[key];
    if (t !== undefined && (!(t instanceof tf.Tensor) || t.shape.join() !== ids.shape.join())) return null;
  }
  const [batch, seq] = ids.shape as [number, number];
  const { arch } = model;
  if (batch < 1 || seq < 1 || seq > arch.maxPosition) return null;
  let byShape = cache.get(model);
  if (!byShape) cache.set(model, (byShape = new Map()));
  const key = `${optimizer}:${batch}x${seq}`;
  let step = byShape.get(key);
  if (!step) {
    const first = [...byShape].find(([k]) => k.startsWith(`${optimizer}:`))?.[1];
    step = (async () => {
      const shareStateWith = first ? ((await first) as CompiledBertStep) : undefined;
      const net = { ...arch, pooler: bertPoolerWidth(arch), layerNormWidth: arch.layerNormWidth ?? arch.hidden };
      return compileBertStep(net, model, { batch, seq }, { optimizer, shareStateWith });
    })();
    byShape.set(key, step);
    step.catch(() => byShape.delete(key));
  }
  return step;
}
