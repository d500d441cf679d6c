import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { bertArch, createBert, exportOnnx } from '@prunebench/models';
import { feedsFromSpecs, measureLatency, toLatencyRecord, type LatencyInputSpec } from './measure.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TOKENS = (seq: number): LatencyInputSpec[] => [
  { name: 'input_ids', dtype: 'int64', shape: [seq], range: [5, 40] },
  { name: 'attention_mask', dtype: 'int64', shape: [seq], fill: 1 },
  { name: 'token_type_ids', dtype: 'int64', shape: [seq], fill: 0 },
];

describe('latency with token inputs', () => {
  it('builds seeded integer feeds by spec', () => {
    const a = feedsFromSpecs(TOKENS(6), 2);
    const b = feedsFromSpecs(TOKENS(6), 2);
    expect(a.input_ids.dims).toEqual([2, 6]);
    expect(a.input_ids.type).toBe('int64');
    expect(Array.from(a.input_ids.data as BigInt64Array)).toEqual(Array.from(b.input_ids.data as BigInt64Array));
    expect(Array.from(a.input_ids.data as BigInt64Array).every((v) => v >= 5n && v < 40n)).toBe(true);
    expect(Array.from(a.attention_mask.data as BigInt64Array).every((v) => v === 1n)).toBe(true);
    expect(feedsFromSpecs([{ name: 'x', dtype: 'int32', shape: [3], range: [0, 2] }], 1).x.type).toBe('int32');
    expect(() => feedsFromSpecs([{ name: 'x', dtype: 'int64', shape: [3], range: [2, 2] }], 1)).toThrow(/range/);
  });

  it('measures a BERT export at a given sequence length (all three inputs fed, recorded)', async () => {
    const model = createBert(bertArch({ layers: 1, hidden: 8, heads: 2, intermediate: 16, vocabSize: 40, maxPosition: 32, numLabels: 2 }));
    const report = await measureLatency(await exportOnnx(model), {
      inputs: TOKENS(24), batchSizes: { latency: 1, throughput: 4 }, threads: 1, warmupIterations: 1, minIterations: 5, throughputMinIterations: 2, minTimeMs: 0,
    });
    expect(report.inputName).toBe('input_ids,attention_mask,token_type_ids');
    expect(report.inputShape).toEqual([24]);
    expect(report.inputs!.map((i) => i.name)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(report.latency.iterations).toBeGreaterThanOrEqual(5);
    expect(toLatencyRecord(report).batch1Ms.p50).toBeGreaterThan(0);
    await expect(measureLatency(await exportOnnx(model), { inputs: [{ name: 'pixels', dtype: 'float32', shape: [3] }], minTimeMs: 0 })).rejects.toThrow(/input "pixels" is not an input/);
    model.dispose();
  });
});
