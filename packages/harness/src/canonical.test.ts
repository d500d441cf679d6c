import { describe, expect, it } from 'vitest';
import { canonicalJson, hashId, withoutDefaults } from './canonical.js';
import { describeRun, experimentId } from './plan.js';
import { fakeIterativeMagnitude } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

describe('canonical JSON and experiment ids', () => {
  it('ignores key order at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"x":1,"y":2}]},"b":1}');
    expect(hashId({ a: 1, b: { c: 2, d: 3 } })).toBe(hashId({ b: { d: 3, c: 2 }, a: 1 }));
    expect(hashId({ a: 1 })).toMatch(/^[0-9a-f]{12}$/);
  });

  it('rejects values JSON cannot represent faithfully', () => {
    expect(() => canonicalJson({ lr: NaN })).toThrow(/\$\.lr: NaN/);
  });

  it('drops options equal to their default', () => {
    expect(withoutDefaults({ rounds: 2, lrScale: 0.5, extra: [1] }, { rounds: 2, lrScale: 1 })).toEqual({ lrScale: 0.5, extra: [1] });
  });

  const task = fakeTask();
  const base = {
    suite: 'a', task, sizing: {}, method: fakeIterativeMagnitude, options: {}, target: { kind: 'compression' as const, ratio: 4 },
    seed: 1, budgetExamples: 64, latency: false,
  };

  it('gives the same id whether a default option is spelled out or not, and whatever the suite is called', () => {
    const plain = experimentId(describeRun(base));
    expect(experimentId(describeRun({ ...base, options: { rounds: 2, lrScale: 1 } }))).toBe(plain);
    expect(experimentId(describeRun({ ...base, sizing: { valSize: 24 } }))).toBe(plain);
    expect(experimentId(describeRun({ ...base, suite: 'another' }))).toBe(plain);
  });

  it('gives different ids for different options, targets, seeds, budgets and sizings', () => {
    const ids = new Set([
      describeRun(base),
      describeRun({ ...base, options: { rounds: 3 } }),
      describeRun({ ...base, target: { kind: 'compression', ratio: 8 } }),
      describeRun({ ...base, seed: 2 }),
      describeRun({ ...base, budgetExamples: 65 }),
      describeRun({ ...base, sizing: { testSize: 12 } }),
      describeRun({ ...base, latency: true }),
    ].map(experimentId));
    expect(ids.size).toBe(7);
  });

  it('keeps the stored description free of default options', () => {
    const description = describeRun({ ...base, options: { rounds: 2, lrScale: 0.5 } });
    expect(description.options).toEqual({ lrScale: 0.5 });
    expect(description.taskOptions).toBeUndefined();
    expect(description.latency).toBeUndefined();
  });
});
