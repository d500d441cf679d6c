/**
 * Knowledge distillation (Hinton et al. 2015) as a training loss any method's fine-tuning can use: the student
 * learns from the labels and from the task's dense model (the teacher), softened by a temperature.
 */
import * as tf from '@tensorflow/tfjs';
import { softmaxCrossEntropy, type LossFunction } from './loss.js';

export interface DistillationSettings {
  /** Weight of the hard-label cross-entropy, in [0, 1]; 1 − alpha weighs the teacher's term. */
  alpha: number;
  /** Softmax temperature T > 0 of both teacher and student in the teacher's term. */
  temperature: number;
}

/**
 * α · CE(student, labels) + (1 − α) · T² · KL(softmax(teacher / T) ‖ softmax(student / T)), each averaged over the batch.
 * The T² keeps the soft term's gradient on the scale of the hard one (Hinton et al.).
 */
export function distillationLoss(student: tf.Tensor, labels: tf.Tensor, teacher: tf.Tensor, settings: DistillationSettings): tf.Scalar {
  const { alpha, temperature: t } = settings;
  return tf.tidy(() => {
    const hard = softmaxCrossEntropy(student, labels);
    const teacherLog = tf.logSoftmax(tf.div(teacher, t));
    const studentLog = tf.logSoftmax(tf.div(student, t));
    const kl = tf.mean(tf.sum(tf.mul(tf.exp(teacherLog), tf.sub(teacherLog, studentLog)), -1));
    return tf.add(tf.mul(hard, alpha), tf.mul(kl, (1 - alpha) * t * t)) as tf.Scalar;
  });
}

/** The loss of one batch given the teacher's logits for it (computed without gradient, outside). */
export function distillationLossFunction(teacherLogits: tf.Tensor, settings: DistillationSettings): LossFunction {
  return (logits, labels) => distillationLoss(logits, labels, teacherLogits, settings);
}

/** The settings' checks: alpha in [0, 1], temperature a positive finite number; errors name `field`. */
export function checkDistillationSettings(value: unknown, field = 'distillation'): DistillationSettings {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${field}: must be an object { "alpha": number in [0, 1], "temperature": number > 0 }, got ${JSON.stringify(value)}`);
  }
  const entries = value as Record<string, unknown>;
  for (const key of Object.keys(entries)) if (key !== 'alpha' && key !== 'temperature') throw new Error(`${field}.${key}: unknown field; allowed: alpha, temperature`);
  const { alpha, temperature } = entries;
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) throw new Error(`${field}.alpha: must be a number in [0, 1], got ${JSON.stringify(alpha)}`);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || !(temperature > 0)) {
    throw new Error(`${field}.temperature: must be a finite number > 0, got ${JSON.stringify(temperature)}`);
  }
  return { alpha, temperature };
}
