import { countMacs, countParameters, prunableDensities } from '@prunebench/metrics';
import type { Model } from '@prunebench/models';
import type { Masks } from '@prunebench/pruning';
import type { RunMetrics } from './record.js';
import type { LayerSpec } from '@prunebench/models';
import type { LoadedTask, ModelSize } from './tasks/types.js';

/** What a model is measured against: the task's dense starting model. */
export interface DenseReference {
  /** Trainable parameters of the starting model. */
  total: number;
  /** Its prunable weights (the task's rule). */
  prunable: number;
  /** Its MACs per example. */
  macs: number;
}

export async function denseReference(task: LoadedTask, startingModel: Model): Promise<DenseReference> {
  const counts = await countParameters(startingModel, { prunable: task.prunable(startingModel) });
  return { total: counts.total, prunable: counts.prunable, macs: countMacs(task.traceLayers(startingModel)).dense };
}

/** The size of `model` (which it disposes): for a task definition's `modelSize`. */
export async function modelSizeOf(model: Model, prunable: (model: Model) => string[], layers: (model: Model) => LayerSpec[]): Promise<ModelSize> {
  try {
    const counts = await countParameters(model, { prunable: prunable(model) });
    return { parameters: counts.total, prunable: counts.prunable, macs: countMacs(layers(model)).dense };
  } finally {
    model.dispose();
  }
}

export type ModelMetrics = Pick<RunMetrics, 'quality' | 'qualityName' | 'top1' | 'top5' | 'accuracy' | 'mcc' | 'f1' | 'params' | 'compressionRatio' | 'sparsity' | 'macs' | 'theoreticalSpeedup'>;

/**
 * The final-weight metrics of a run record (docs/metrics.md) for any model of a task: quality on a split, parameters,
 * compression and sparsity against the starting model (so structured surgery counts too), MACs and the theoretical
 * speed-up. `masks` (optional) count as zeros where they are 0.
 */
export async function measureModel(
  task: LoadedTask, model: Model, dense: DenseReference, options: { masks?: Masks; split?: 'val' | 'test' } = {},
): Promise<{ metrics: ModelMetrics; layerDensity: Map<string, number> }> {
  const quality = await task.evaluate(model, options.split ?? 'test');
  const counts = await countParameters(model, { masks: options.masks, prunable: task.prunable(model) });
  const layerDensity = prunableDensities(counts);
  const macs = countMacs(task.traceLayers(model), { weightDensity: layerDensity });
  const metrics: ModelMetrics = {
    ...quality,
    params: { total: counts.total, prunable: counts.prunable, nonzero: counts.nonzero, nonzeroPrunable: counts.nonzeroPrunable },
    compressionRatio: dense.total / counts.nonzero,
    sparsity: dense.prunable === 0 ? 0 : 1 - counts.nonzeroPrunable / dense.prunable,
    macs: { dense: dense.macs, effective: macs.effective },
    theoreticalSpeedup: dense.macs / macs.effective,
  };
  return { metrics, layerDensity };
}
