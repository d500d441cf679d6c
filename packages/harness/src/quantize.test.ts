import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@prunebench/engine';
import { defaultPrunableNames } from '@prunebench/metrics';
import { createResNetCifar, resnetCifarArch, type Model } from '@prunebench/models';
import type { Batch } from '@prunebench/pruning';
import { SuiteValidationError } from './errors.js';
import { createMethodRegistry } from './methods.js';
import { experimentId, planSuite } from './plan.js';
import { QUANTIZE_DEFAULTS, measureQuantized } from './quantize.js';
import { validateSuite } from './suite.js';
import type { LoadedTask } from './tasks/types.js';
import { fakeIterativeMagnitude } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

const registries = { tasks: new Map([['fake-blobs', fakeTask()]]), methods: createMethodRegistry([fakeIterativeMagnitude]) };
const suite = (quantize: unknown) => ({
  name: 'mini', tasks: ['fake-blobs'], methods: ['fake-iterative'], targets: [{ compression: 2 }], seeds: [0], budget: 64,
  ...(quantize === undefined ? {} : { quantize }),
});
const plan = (quantize: unknown) => planSuite(validateSuite(suite(quantize), registries), registries);

function problems(quantize: unknown): string[] {
  try {
    validateSuite(suite(quantize), registries);
  } catch (error) {
    expect(error).toBeInstanceOf(SuiteValidationError);
    return (error as SuiteValidationError).problems;
  }
  throw new Error('expected a validation error');
}

describe('suite quantize entry', () => {
  it('is absent from the descriptions (and ids) of suites without it', () => {
    const without = plan(undefined);
    expect(without.runs.every((r) => !('quantize' in r.description))).toBe(true);
    expect(plan(false).runs.map((r) => r.id)).toEqual(without.runs.map((r) => r.id));
    const { quantize: _q, ...rest } = plan({}).runs[1].description;
    expect(experimentId(rest)).toBe(without.runs[1].id);
  });

  it('resolves the defaults and writes every setting into every run, the dense row included', () => {
    expect(validateSuite(suite(true), registries).quantize).toEqual(QUANTIZE_DEFAULTS);
    expect(validateSuite(suite({}), registries).quantize).toEqual({ calibration: 'minmax', examples: 512 });
    expect(validateSuite(suite({ calibration: 'percentile' }), registries).quantize).toEqual({ calibration: 'percentile', percentile: 99.99, examples: 512 });
    const runs = plan({ calibration: 'percentile', percentile: 99.9, examples: 64 }).runs;
    expect(runs.map((r) => r.description.method)).toEqual(['dense', 'fake-iterative']);
    for (const r of runs) expect(r.description.quantize).toEqual({ calibration: 'percentile', percentile: 99.9, examples: 64 });
    expect(runs[1].id).not.toBe(plan(undefined).runs[1].id);
    expect(plan({ calibration: 'percentile' }).runs[1].id).not.toBe(plan({}).runs[1].id);
  });

  it('names the field of every bad setting', () => {
    expect(problems('yes')).toEqual(['suite.quantize: must be true, false or an object { "calibration": "minmax" | "percentile", "percentile", "examples" }']);
    expect(problems({ calibration: 'kl', examples: 0, bits: 4 })).toEqual([
      'suite.quantize.bits: unknown field; allowed: calibration, percentile, examples',
      'suite.quantize.calibration: must be "minmax" or "percentile", got "kl"',
      'suite.quantize.examples: must be an integer in [1, 100000] (validation examples to calibrate on), got 0',
    ]);
    expect(problems({ percentile: 99 })).toEqual(['suite.quantize.percentile: is only read with "calibration": "percentile"']);
    expect(problems({ calibration: 'percentile', percentile: 40 })).toEqual(['suite.quantize.percentile: must be a number in (50, 100], got 40']);
  });
});

describe('measureQuantized', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  /** A task over random images with labels that a ResNet-8 predicts: its own argmax (so top-1 of the fp32 model is 1). */
  function imageTask(model: Model): LoadedTask {
    const rng = new SeededRng(3);
    const images = (n: number) => tf.tensor4d(rng.normalArray(n * 32 * 32 * 3), [n, 32, 32, 3]);
    const test = images(40);
    const labels = tf.tidy(() => tf.argMax(model.forward(test, { training: false }), 1).cast('int32'));
    const calibration = images(24);
    const batch = (x: tf.Tensor, y: tf.Tensor): Batch => ({ inputs: x.clone(), labels: y.clone(), size: x.shape[0] });
    return {
      trainExamples: 0,
      trainBatches: () => { throw new Error('unused'); },
      sampleBatches: () => [],
      evaluationBatches: (count, batchSize) => {
        const out: Batch[] = [];
        for (let from = 0; from < Math.min(count, 24); from += batchSize) {
          const n = Math.min(batchSize, Math.min(count, 24) - from);
          out.push(batch(calibration.slice(from, n), tf.zeros([n], 'int32')));
        }
        return out;
      },
      evaluate: async () => { throw new Error('unused'); },
      async evaluateWith(predict) {
        const logits = await predict(test.clone());
        const truth = await labels.data();
        let correct = 0;
        for (let i = 0; i < truth.length; i++) {
          let best = 0;
          for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
          if (best === truth[i]) correct++;
        }
        return { quality: correct / truth.length, qualityName: 'top1', top1: correct / truth.length };
      },
      startingModel: async () => model,
      prunable: (m) => defaultPrunableNames(m),
      traceLayers: () => [],
      dispose: () => tf.dispose([test, labels, calibration]),
    };
  }

  it('scores the int8 and fp32 ONNX models on the test split and sizes dense / sparse fp32 / sparse int8 storage', async () => {
    const model = createResNetCifar(resnetCifarArch(8), { seed: 2 });
    // half the weights of every conv pruned
    for (const [name, v] of model.params) {
      if (model.paramKinds.get(name) !== 'conv2d') continue;
      v.assign(tf.tidy(() => tf.mul(v, tf.cast(tf.greater(tf.randomUniform(v.shape, 0, 1, 'float32', 1), 0.5), 'float32'))));
    }
    const task = imageTask(model);
    try {
      const record = await measureQuantized(model, task, {}, { calibration: 'minmax', examples: 16 }, null);
      expect(record.calibration).toEqual({ method: 'minmax', examples: 16 });
      expect(record.fp32Quality).toBe(1);
      expect(record.quality).toBeGreaterThan(0.6);
      expect(record.latency).toBeUndefined();
      expect(record.operators.QLinearConv).toBe(7); // ResNet-8: stem + 3 blocks × 2
      const s = record.sizes;
      expect(s.int8Tensors).toBe(8);
      expect(s.sparseFp32Bytes).toBeLessThan(s.denseFp32Bytes);
      expect(s.sparseInt8Bytes).toBeLessThan(s.sparseFp32Bytes / 3);
      expect(s.denseInt8Bytes).toBeLessThan(s.denseFp32Bytes / 3);
      expect(s.nonzeroInt8).toBeLessThanOrEqual(s.nonzeroFp32);
      expect(s.onnxInt8Bytes).toBeLessThan(s.onnxFp32Bytes / 2);
    } finally {
      task.dispose();
      model.dispose();
    }
  });
});
