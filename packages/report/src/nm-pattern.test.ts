import { describe, expect, it } from 'vitest';
import { leaderboardMarkdown } from './leaderboard.js';
import { nmPatternMarkdown } from './nm-pattern.js';
import { reconstructionMarkdown } from './reconstruction.js';
import { syntheticRecord } from './synthetic-records.js';

function nmRun(method: string, violations: number) {
  const record = syntheticRecord({ method, target: { kind: 'n-of-m', n: 2, m: 4 }, seed: 0, quality: 0.9 });
  record.metrics.nmPattern = { pattern: '2:4', eligibleLayers: 18, groups: 67_000, violations, denseLayers: ['conv1.weight'] };
  return record;
}

describe('the N:M pattern section', () => {
  it('lists every N:M run with its groups, violations and the layers left dense, and says latency is dense latency', () => {
    const markdown = nmPatternMarkdown([nmRun('magnitude', 0), nmRun('wanda', 3)])!;
    expect(markdown).toContain('| magnitude | nm=2:4 | 18 | 67,000 | 0 | `conv1.weight` |');
    expect(markdown).toContain('| wanda | nm=2:4 | 18 | 67,000 | **3** | `conv1.weight` |');
    expect(markdown).toMatch(/ONNX Runtime has no N:M \(2:4\) sparse kernels, so the latency of an N:M model measured there is its dense latency/);
    expect(markdown).toMatch(/TensorRT's execution provider with sparsity enabled \(`trt_sparsity_enable`\).*so there too sparsity stays off/);
    expect(nmPatternMarkdown([syntheticRecord({ method: 'magnitude', target: { kind: 'sparsity', fraction: 0.5 }, seed: 0, quality: 0.9 })])).toBeNull();
  });

  it('appears in the task leaderboard, where the target reads 2:4', () => {
    const dense = syntheticRecord({ method: 'dense', target: null, seed: 0, quality: 0.92 });
    const markdown = leaderboardMarkdown([dense, nmRun('magnitude', 0)], 'cifar10-resnet56');
    expect(markdown).toContain('### Target nm=2:4');
    expect(markdown).toContain('### N:M pattern');
  });
});

describe('the reconstruction section', () => {
  it('lists each run that measured it, with the sum and the worst layer, in target order', () => {
    const run = (method: string, fraction: number, perLayer: Record<string, number>) => {
      const record = syntheticRecord({ method, target: { kind: 'sparsity', fraction }, seed: 0, quality: 0.9 });
      record.metrics.reconstruction = { examples: 128, perLayer, sum: Object.values(perLayer).reduce((a, b) => a + b, 0) };
      return record;
    };
    const markdown = reconstructionMarkdown([run('wanda', 0.7, { 'a.weight': 0.2, 'b.weight': 0.05 }), run('sparsegpt', 0.5, { 'a.weight': 0.01, 'b.weight': 0.03 })])!;
    const rows = markdown.split('\n').filter((l) => l.startsWith('| sparsity'));
    expect(rows).toEqual(['| sparsity=0.5 | sparsegpt | 0 | 0.0400 | `b.weight` 0.0300 | 128 |', '| sparsity=0.7 | wanda | 0 | 0.2500 | `a.weight` 0.2000 | 128 |']);
    expect(reconstructionMarkdown([syntheticRecord({ method: 'magnitude', target: null, seed: 0, quality: 0.9 })])).toBeNull();
  });
});
