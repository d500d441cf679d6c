import type { RunDescription } from '@prunebench/harness';
import { describe, expect, it } from 'vitest';
import { methodLabel } from './run-groups.js';

const base: RunDescription = {
  suite: 's', task: 't', method: 'magnitude', options: {}, target: { kind: 'compression', ratio: 4 }, seed: 0, budgetExamples: 10,
};

describe('methodLabel with distillation', () => {
  it('keeps runs with and without distillation apart', () => {
    expect(methodLabel(base)).toBe('magnitude');
    expect(methodLabel({ ...base, distillation: { alpha: 0.5, temperature: 4 } })).toBe('magnitude + distillation (α=0.5, T=4)');
    expect(methodLabel({ ...base, options: { schedule: 'iterative' }, distillation: { alpha: 0.5, temperature: 4 } }))
      .toBe('magnitude (schedule=iterative) + distillation (α=0.5, T=4)');
  });
});
