import * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop, type SeededRng } from '@prunebench/engine';
import { measureFlatness } from '@prunebench/metrics';
import type { Model } from '@prunebench/models';
import { readScalar, softmaxCrossEntropy, type Batch, type Masks } from '@prunebench/pruning';
import type { FlatnessRecord, FlatnessSettings } from './record.js';
import type { LoadedTask } from './tasks/types.js';

/**
 * Defaults for the flatness measure of every run. Random directions at 5 % of each tensor's norm move the loss of
 * a well-trained CIFAR ResNet measurably while staying in its basin; the gradient direction is far more harmful,
 * so it gets 0.5 % (about twice SAM's ρ = 0.1 relative to a ResNet-20's weight norm of ~37; at 5 % the ascent
 * step sends the loss of pretrained ResNet-20 from 0.015 to ~49, which no longer ranks anything). 500 validation
 * examples and 3 random directions keep it near a minute of ResNet-20 inference on 2 cores.
 */
export const FLATNESS_DEFAULTS: FlatnessSettings = { examples: 500, radius: 0.05, samples: 3, gradientRadius: 0.005 };
const FLATNESS_BATCH = 250;

/** The settings a run uses (null: not measured). */
export function resolveFlatness(setting: Partial<FlatnessSettings> | false | undefined): FlatnessSettings | null {
  return setting === false ? null : { ...FLATNESS_DEFAULTS, ...(setting ?? {}) };
}

/**
 * Measures the flatness of a run's final model on the task's fixed evaluation examples, in inference mode (batch
 * norm uses running statistics and is not updated), perturbing the prunable weights only; weights are restored.
 */
export async function measureRunFlatness(args: {
  model: Model;
  task: Pick<LoadedTask, 'evaluationBatches'>;
  prunable: readonly string[];
  masks?: Masks;
  settings: FlatnessSettings;
  rng: SeededRng;
}): Promise<FlatnessRecord> {
  const { model, settings } = args;
  const batches = args.task.evaluationBatches(settings.examples, FLATNESS_BATCH);
  const examples = batches.reduce((n, b) => n + b.size, 0);
  if (examples === 0) throw new Error('flatness: the task has no validation examples to measure on');
  const params = args.prunable.filter((name) => model.params.has(name));
  try {
    const result = await measureFlatness({
      model, params, masks: args.masks, rng: args.rng.fork('random'),
      radius: settings.radius, samples: settings.samples, gradientRadius: settings.gradientRadius,
      lossOn: (m) => meanLoss(m, batches, examples),
      gradientOf: (m) => lossGradients(m, batches, params, examples),
    });
    return {
      radius: settings.radius,
      examples,
      samples: settings.samples,
      baseLoss: result.baseLoss,
      lossIncrease: result.lossIncrease,
      maxLossIncrease: result.maxLoss - result.baseLoss,
      gradientRadius: settings.gradientRadius,
      worstCaseLossIncrease: result.worstCase!.lossIncrease,
    };
  } finally {
    for (const b of batches) tf.dispose([...inputTensors(b), b.labels]);
  }
}

function inputTensors(batch: Batch): tf.Tensor[] {
  return batch.inputs instanceof tf.Tensor ? [batch.inputs] : Object.values(batch.inputs);
}

async function meanLoss(model: Model, batches: Batch[], examples: number): Promise<number> {
  let sum = 0;
  for (const b of batches) {
    await yieldToEventLoop();
    sum += (await readScalar(tf.tidy(() => softmaxCrossEntropy(model.forward(b.inputs, { training: false }), b.labels)))) * b.size;
  }
  return sum / examples;
}

/** Gradient of the mean inference-mode loss over all batches (running statistics untouched). */
function lossGradients(model: Model, batches: Batch[], names: readonly string[], examples: number): Map<string, tf.Tensor> {
  const vars = names.map((name) => model.params.get(name)!);
  const sums = new Map<string, tf.Tensor>();
  for (const b of batches) {
    const { value, grads } = tf.variableGrads(
      () => tf.mul(softmaxCrossEntropy(model.forward(b.inputs, { training: false }), b.labels), b.size / examples) as tf.Scalar,
      vars,
    );
    value.dispose();
    names.forEach((name, i) => {
      const g = grads[vars[i].name];
      const previous = sums.get(name);
      sums.set(name, previous ? tf.add(previous, g) : g);
      if (previous) tf.dispose([previous, g]);
    });
    // Gradients of parameters outside `names` are not requested, so nothing else to free.
  }
  return sums;
}
