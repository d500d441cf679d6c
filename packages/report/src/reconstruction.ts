import type { RunRecord } from '@prunebench/harness';
import { markdownTable } from './format.js';
import { compareTargets, methodLabel, targetLabel } from './run-groups.js';

/**
 * The layer reconstruction error of each completed run that measured it (suites with `reconstruction`):
 * Σ over prunable layers of ‖(W − Ŵ)ᵀX̂‖² / ‖WᵀX̂‖², X̂ the layer's inputs in the pruned model.
 */
export function reconstructionMarkdown(records: readonly RunRecord[]): string | null {
  const runs = records
    .filter((r) => r.status === 'completed' && r.metrics.reconstruction)
    .sort((a, b) => compareTargets(a.description.target, b.description.target) || methodLabel(a.description).localeCompare(methodLabel(b.description)));
  if (runs.length === 0) return null;
  const table = markdownTable(
    ['target', 'method', 'seed', 'error summed over layers', 'worst layer', 'examples'],
    runs.map((r) => {
      const { perLayer, sum, examples } = r.metrics.reconstruction!;
      const [worst, value] = Object.entries(perLayer).reduce((a, b) => (b[1] > a[1] ? b : a), ['—', -Infinity]);
      return [targetLabel(r.description.target), methodLabel(r.description), String(r.description.seed), sum.toFixed(4), `\`${worst}\` ${value.toFixed(4)}`, String(examples)];
    }),
  );
  return [
    '### Layer reconstruction error',
    '',
    table,
    '',
    "Per prunable layer, ‖(W − Ŵ)ᵀX̂‖² / ‖WᵀX̂‖²: W the starting weights, Ŵ the final ones, X̂ the layer's inputs in the final model on " +
      'training examples drawn with the run seed (convolutions through their im2col view), summed over the layers; 0 = every layer reproduces its dense outputs.',
  ].join('\n');
}
