import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkDistillationSettings, distillationLoss } from './distillation.js';
import { softmaxCrossEntropy } from './loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** log-softmax in plain numbers. */
function logSoftmax(v: number[]): number[] {
  const m = Math.max(...v);
  const z = Math.log(v.reduce((sum, x) => sum + Math.exp(x - m), 0));
  return v.map((x) => x - m - z);
}

describe('distillation loss', () => {
  it('equals α · CE + (1 − α) · T² · KL(teacher/T ‖ student/T) computed by hand', async () => {
    const student = [[1, 2, 0], [0, 0, 3]];
    const teacher = [[0.5, 0, 2], [1, 1, 1]];
    const labels = [1, 2];
    const [alpha, temperature] = [0.3, 2];
    let ce = 0;
    let kl = 0;
    for (let i = 0; i < 2; i++) {
      ce += -logSoftmax(student[i])[labels[i]] / 2;
      const p = logSoftmax(teacher[i].map((x) => x / temperature));
      const q = logSoftmax(student[i].map((x) => x / temperature));
      kl += p.reduce((sum, lp, c) => sum + Math.exp(lp) * (lp - q[c]), 0) / 2;
    }
    const expected = alpha * ce + (1 - alpha) * temperature ** 2 * kl;
    // The same figures, worked out once outside (Python): CE 0.25126446, KL 0.31003273.
    expect(ce).toBeCloseTo((0.4076059644443804 + 0.09492295642096091) / 2, 12);
    expect(expected).toBeCloseTo(0.9434709854896295, 12);
    const loss = distillationLoss(tf.tensor2d(student), tf.tensor1d(labels, 'int32'), tf.tensor2d(teacher), { alpha, temperature });
    expect((await loss.data())[0]).toBeCloseTo(expected, 5);
  });

  it('is the cross-entropy at α = 1 and zero soft term when teacher = student', async () => {
    const logits = tf.tensor2d([[1, -1, 0.5]]);
    const labels = tf.tensor1d([0], 'int32');
    const hard = (await softmaxCrossEntropy(logits, labels).data())[0];
    expect((await distillationLoss(logits, labels, tf.tensor2d([[3, 0, 0]]), { alpha: 1, temperature: 4 }).data())[0]).toBeCloseTo(hard, 6);
    expect((await distillationLoss(logits, labels, logits, { alpha: 0, temperature: 4 }).data())[0]).toBeCloseTo(0, 6);
  });

  it('checks its settings, naming the field', () => {
    expect(checkDistillationSettings({ alpha: 0.5, temperature: 4 })).toEqual({ alpha: 0.5, temperature: 4 });
    expect(() => checkDistillationSettings({ alpha: 1.5, temperature: 4 }, 'suite.distillation')).toThrow(/^suite\.distillation\.alpha: must be a number in \[0, 1\]/);
    expect(() => checkDistillationSettings({ alpha: 0.5, temperature: 0 })).toThrow(/distillation\.temperature: must be a finite number > 0/);
    expect(() => checkDistillationSettings({ alpha: 0.5 })).toThrow(/distillation\.temperature/);
    expect(() => checkDistillationSettings({ alpha: 0.5, temperature: 2, teacher: 'x' })).toThrow(/distillation\.teacher: unknown field/);
    expect(() => checkDistillationSettings(true)).toThrow(/distillation: must be an object/);
  });
});
