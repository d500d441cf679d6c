import { describe, expect, it } from 'vitest';
import type { RunRecord } from '@prunebench/harness';
import { checkSparsityExactness, sparsityExactnessMarkdown } from './sparsity-exactness.js';
import { syntheticRecord } from './synthetic-records.js';

// A model with two prunable layers of 100 and 300 weights plus 20 non-prunable parameters: 420 in total.
const SIZES = new Map([['a.weight', 100], ['b.weight', 300]]);
const sizes = () => SIZES;

function run(ratio: number, kept: { a: number; b: number }, options: Record<string, unknown> = {}): RunRecord {
  const record = syntheticRecord({ method: 'magnitude', target: { kind: 'compression', ratio }, seed: 0, quality: 0.9, options });
  const nonzero = kept.a + kept.b + 20;
  record.metrics.params = { total: 420, prunable: 400, nonzero };
  record.metrics.compressionRatio = 420 / nonzero;
  record.layerDensity = { 'a.weight': kept.a / 100, 'b.weight': kept.b / 300 };
  return record;
}

describe('checkSparsityExactness', () => {
  it('accepts the nonzero count the target implies, within one weight per layer, and reports the rest as misses', () => {
    // 4×: round(420 / 4) = 105 nonzero → 85 prunable weights kept.
    const rows = checkSparsityExactness([run(4, { a: 10, b: 75 }), run(4, { a: 10, b: 77 }), run(4, { a: 40, b: 120 })], sizes);
    expect(rows.map((r) => [r.requested, r.difference, r.exact])).toEqual([[105, 0, true], [105, 2, true], [105, 75, false]]);
    const markdown = sparsityExactnessMarkdown(rows);
    expect(markdown).toContain('| cifar10-resnet56 | magnitude | 4× | 180 | 105 | +75 | 2.3333 | — | **NO** |');
    expect(markdown).toMatch(/3 runs, 1 missing the target\n$/);
  });

  it('checks the layer-wise share and the minimum-threshold floor per layer', () => {
    const layerwise = { allocation: 'layerwise' };
    // 85 of 400 prunable weights kept → 21.25 in a, 63.75 in b.
    const [even, uneven] = checkSparsityExactness([run(4, { a: 21, b: 64 }, layerwise), run(4, { a: 10, b: 75 }, layerwise)], sizes);
    expect([even.exact, uneven.exact]).toEqual([true, false]);
    expect(uneven.layerCheck).toBe('max |kept − share| = 11.25 weights');
    const floor = { allocation: 'min-threshold', minKeepPerLayer: { fraction: 0.2 } };
    const [kept, broken] = checkSparsityExactness([run(4, { a: 20, b: 65 }, floor), run(4, { a: 15, b: 70 }, floor)], sizes);
    expect([kept.exact, broken.exact]).toEqual([true, false]);
    expect(kept.layerCheck).toBe('min (kept − floor 0.2) = 0 weights; 1 of 2 layers at the floor');
  });

  it('skips failed and FLOP-target runs and names a layer the model does not have', () => {
    const failed = syntheticRecord({ method: 'snip', target: { kind: 'compression', ratio: 2 }, seed: 0, quality: 0, status: 'failed' });
    const flops = syntheticRecord({ method: 'hrank', target: { kind: 'flops-reduction', fraction: 0.5 }, seed: 0, quality: 0.9 });
    expect(checkSparsityExactness([failed, flops], sizes)).toEqual([]);
    const stranger = run(4, { a: 10, b: 75 });
    stranger.layerDensity['c.weight'] = 1;
    expect(() => checkSparsityExactness([stranger], sizes)).toThrow(/layer "c\.weight" is not a parameter of cifar10-resnet56's model/);
  });
});
