import type { Model } from '@prunebench/models';
import { layerwiseMasks } from './allocation.js';
import { applyMasks, disposeMasks, getParam } from './masks.js';
import { disposeScores, magnitudeScores } from './scores.js';

/** One probe: `layer` alone pruned by magnitude to `sparsity`, then `score` = evaluate(model). */
export interface SensitivityRow {
  layer: string;
  sparsity: number;
  score: number;
}

export interface SensitivityOptions {
  model: Model;
  /** Parameters to probe, one at a time. */
  layers: readonly string[];
  /** Sparsities in [0, 1] to probe each layer at. */
  sparsities: readonly number[];
  /** Quality of the model as it stands (e.g. validation accuracy). */
  evaluate: (model: Model) => Promise<number>;
}

/**
 * Per-layer sensitivity analysis (Han et al. 2015, Fig. 6): prune one layer at a time by magnitude at each
 * sparsity and measure quality. The layer's weights are restored after every probe.
 */
export async function sensitivityAnalysis(options: SensitivityOptions): Promise<SensitivityRow[]> {
  const { model, layers, sparsities, evaluate } = options;
  if (!Array.isArray(layers) || layers.length === 0) throw new Error('layers must list at least one parameter');
  if (!Array.isArray(sparsities) || sparsities.length === 0) throw new Error('sparsities must list at least one value');
  for (const s of sparsities) {
    if (typeof s !== 'number' || !(s >= 0 && s <= 1)) throw new Error(`sparsities must be numbers in [0, 1], got ${s}`);
  }
  if (typeof evaluate !== 'function') throw new Error('evaluate must be a function (model) => Promise<number>');
  const rows: SensitivityRow[] = [];
  for (const layer of layers) {
    const param = getParam(model, layer);
    const saved = param.clone();
    try {
      for (const sparsity of sparsities) {
        const scores = magnitudeScores(model, [layer]);
        const masks = await layerwiseMasks(scores, { keepFraction: 1 - sparsity });
        disposeScores(scores);
        applyMasks(model, masks);
        disposeMasks(masks);
        rows.push({ layer, sparsity, score: await evaluate(model) });
        param.assign(saved);
      }
    } finally {
      param.assign(saved);
      saved.dispose();
    }
  }
  return rows;
}

/** CSV with header `layer,sparsity,score`; layer names are quoted when they need it. */
export function sensitivityCsv(rows: readonly SensitivityRow[]): string {
  const quote = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = ['layer,sparsity,score'];
  for (const row of rows) lines.push(`${quote(row.layer)},${row.sparsity},${row.score}`);
  return lines.join('\n') + '\n';
}

/**
 * Per-layer ratios for layerwise magnitude pruning from a sensitivity table: for each layer, the highest
 * probed sparsity whose score stays within `maxDrop` of `baseline` (0 if none does). Feed the result to the
 * magnitude method's `layerRatios`: it scales them to hit the target exactly.
 */
export function layerRatiosFromSensitivity(rows: readonly SensitivityRow[], baseline: number, maxDrop: number): Record<string, number> {
  if (!(maxDrop >= 0)) throw new Error(`maxDrop must be a number >= 0, got ${maxDrop}`);
  const ratios: Record<string, number> = {};
  for (const row of rows) {
    ratios[row.layer] ??= 0;
    if (baseline - row.score <= maxDrop) ratios[row.layer] = Math.max(ratios[row.layer], row.sparsity);
  }
  return ratios;
}

