import * as tf from '@tensorflow/tfjs';
import {
  CALIBRATION_OPTIONS,
  PRUNABLE_OPTIONS,
  applyMasks,
  booleanOption,
  calibrateLayers,
  calibrationBatches,
  defineMethod,
  disposeBatches,
  disposeScores,
  getParam,
  layerwiseMasks,
  nmMasks,
  reportedLayers,
  layerDensities,
  layerKeepCountsForTarget,
  nmEligible,
  numberOption,
  prunableFor,
  relativeReconstructionError,
  trainUnlessEmpty,
  type Masks,
  type MethodContext,
  type MethodResult,
  type OptionsOf,
} from '@prunebench/pruning';
import { sparsegptSolve, type SolverPattern } from './solver.js';

const SPARSEGPT_OPTIONS = {
  ...CALIBRATION_OPTIONS,
  dampening: numberOption({
    default: 0.01,
    minExclusive: 0,
    doc: 'λ = dampening · mean(diag H) added to the Hessian\'s diagonal (the reference\'s percdamp); raised tenfold while H + λI is singular.',
  }),
  blockSize: numberOption({ default: 128, min: 1, integer: true, doc: 'Columns (inputs) per block of the lazy batched update (the reference\'s 128).' }),
  finetune: booleanOption({ default: false, doc: '`true`: spend the budget fine-tuning the pruned model with its masks; `false` (the paper): none.' }),
  ...PRUNABLE_OPTIONS,
};

export type SparsegptOptions = OptionsOf<typeof SPARSEGPT_OPTIONS>;

/**
 * SparseGPT (Frantar & Alistarh 2023): layer by layer in forward order, the Hessian H = XᵀX (+ λI) of the layer's
 * inputs on calibration examples — taken from the model as pruned so far, so each layer sees the already-pruned
 * layers' outputs — then column-block-wise pruning with the optimal-brain-surgeon update of the remaining weights
 * (the upper Cholesky factor of H⁻¹). Convolutions through their im2col view. Unstructured at the target's exact
 * per-layer counts, or N:M.
 */
export const sparsegptMethod = defineMethod({
  name: 'sparsegpt',
  description: 'SparseGPT (Frantar & Alistarh 2023): layer by layer, prune with the optimal-brain-surgeon update of the remaining weights from calibration Hessians',
  structured: false,
  targetKinds: ['compression', 'sparsity', 'n-of-m'],
  options: SPARSEGPT_OPTIONS,
  run: runSparsegpt,
});

async function runSparsegpt(context: MethodContext<SparsegptOptions>): Promise<MethodResult> {
  const { model, options, trainer, rng, target, log } = context;
  const prunable = prunableFor('sparsegpt', model, context.prunable, options);
  const keepCounts = layerKeepCountsForTarget(model, prunable, target);
  const batches = calibrationBatches(trainer, rng, options.calibrationExamples, options.calibrationBatchSize);
  const masks: Masks = new Map();
  const reconstructionError: Record<string, number> = {};
  let order: string[] = [];
  let uncalibrated: string[] = [];
  try {
    order = reportedLayers(model, batches[0], prunable);
    uncalibrated = prunable.filter((name) => !order.includes(name));
    if (uncalibrated.length) log(`sparsegpt: no activations for ${uncalibrated.join(', ')} (not multiplied by an input): pruned by |W|, no update`);
    for (const name of uncalibrated) {
      const scores = new Map([[name, tf.abs(getParam(model, name))]]);
      const byMagnitude = target.kind === 'n-of-m' ? nmMasks(scores, target) : layerwiseMasks(scores, { keepCounts: { [name]: keepCounts.get(name)! } });
      const [mask] = (await byMagnitude).values();
      disposeScores(scores);
      masks.set(name, mask);
    }
    for (const name of order) {
      const weight = getParam(model, name);
      const outputs = weight.shape[weight.rank - 1];
      const inputs = weight.size / outputs;
      let pattern: SolverPattern | null;
      if (target.kind === 'n-of-m') pattern = nmEligible(weight.shape, target) ? target : null;
      else pattern = { kind: 'count', prune: weight.size - keepCounts.get(name)! };
      if (!pattern || (pattern.kind === 'count' && pattern.prune === 0)) {
        masks.set(name, tf.onesLike(weight));
        continue;
      }
      const { gram } = (await calibrateLayers(model, batches, [name], 'gram')).get(name)!;
      const dense = Float64Array.from(await weight.data());
      const solved = sparsegptSolve(transpose(dense, inputs, outputs), outputs, inputs, gram!, pattern, { dampening: options.dampening, blockSize: options.blockSize });
      const pruned = transpose(solved.weights, outputs, inputs);
      reconstructionError[name] = relativeReconstructionError(dense, pruned, gram!, inputs, outputs);
      weight.assign(tf.tensor(Float32Array.from(pruned), weight.shape, 'float32'));
      masks.set(name, tf.tensor(Float32Array.from(transpose(Float64Array.from(solved.mask), outputs, inputs)), weight.shape, 'float32'));
      log(`sparsegpt ${name}: ${inputs} × ${outputs}, relative reconstruction error ${reconstructionError[name].toExponential(3)}${solved.dampening !== options.dampening ? ` (dampening raised to ${solved.dampening})` : ''}`);
    }
  } finally {
    disposeBatches(batches);
  }
  applyMasks(model, masks);
  if (options.finetune) await trainUnlessEmpty(trainer, model, { examples: trainer.remainingExamples(), masks, label: 'sparsegpt-finetune' });
  const layers = Object.keys(reconstructionError).length;
  return {
    model,
    masks,
    details: {
      order,
      ...(uncalibrated.length ? { uncalibrated } : {}),
      calibrationExamples: options.calibrationExamples,
      // One calibration pass per pruned layer, and one to find the forward order.
      forwardOnlyExamples: options.calibrationExamples * layers + (batches[0]?.size ?? 0),
      reconstructionError,
      reconstructionErrorSum: Object.values(reconstructionError).reduce((a, b) => a + b, 0),
      layerDensity: await layerDensities(masks),
    },
  };
}

/** [a, b] row-major → [b, a]. */
function transpose(values: Float64Array, a: number, b: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[j * a + i] = values[i * b + j];
  return out;
}
