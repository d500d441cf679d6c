import type { Model } from '@prunebench/models';
import type { Batch, BudgetedTrainer, TrainOptions, TrainSummary } from '@prunebench/pruning';
import type * as tf from '@tensorflow/tfjs';

/**
 * The phases of a run (`executeRun`, in its order), each with what it counts: the one list of their names, for the
 * record's `phaseSeconds`, its validation and the docs. Every second is counted in one phase only: a phase that
 * runs inside another (a train call inside the method, a mask-update hook's gradient call inside a train call) is
 * taken out of the outer one.
 */
export const RUN_PHASES = {
  load: 'the task, the starting model, its weight checks and the dense reference counts',
  train: 'inside the method: its trainer.train calls (the training loop, checkpoints), less any gradient call made within them',
  gradients: 'inside the method: its trainer.gradients calls (SNIP\'s scores, SAFE\'s steps, RigL\'s growth), wherever made',
  validate: 'inside the method: its trainer.validate calls (validation-split scores)',
  method: 'the rest of the method: scoring, ranks, CKA probes, mask selection, surgery',
  evaluation: 'the final model on the test split (quality, parameters, MACs) and the target and weight checks',
  reconstruction: 'the layer reconstruction errors (suites with `reconstruction`)',
  flatness: 'the flatness measure',
  latency: 'the ONNX latency figures (suites with `latency`)',
  quantization: 'the int8 model: export, calibration, its quality and latency (suites with `quantize`)',
  export: 'writing the final weights (model.safetensors)',
} as const;

export type RunPhase = keyof typeof RUN_PHASES;

/** Wall seconds of every phase of a run in this process (0 where it did not run). */
export type RunPhaseSeconds = Record<RunPhase, number>;

/**
 * Times phases that nest (one at a time, awaited in order, as a run's phases and a method's trainer calls are):
 * each phase is charged the time it ran less the time of the phases it contains.
 */
export class PhaseClock {
  private readonly seconds: RunPhaseSeconds = Object.fromEntries(Object.keys(RUN_PHASES).map((name) => [name, 0])) as RunPhaseSeconds;
  /** The open phases, innermost last, each with the seconds of the phases it contained so far. */
  private readonly open: Array<{ inner: number }> = [];

  constructor(private readonly now: () => number = () => performance.now() / 1000) {}

  async time<T>(phase: RunPhase, work: () => Promise<T> | T): Promise<T> {
    const frame = { inner: 0 };
    this.open.push(frame);
    const started = this.now();
    try {
      return await work();
    } finally {
      const elapsed = this.now() - started;
      this.open.pop();
      this.seconds[phase] += elapsed - frame.inner;
      const outer = this.open[this.open.length - 1];
      if (outer) outer.inner += elapsed;
    }
  }

  /** The seconds so far, every phase present. */
  totals(): RunPhaseSeconds {
    return { ...this.seconds };
  }
}

/** The trainer a method sees: `trainer`, with its train, gradients and validate calls timed as their phases. */
export function timedTrainer(trainer: BudgetedTrainer, clock: PhaseClock): BudgetedTrainer {
  return {
    totalExamples: trainer.totalExamples,
    usedExamples: () => trainer.usedExamples(),
    remainingExamples: () => trainer.remainingExamples(),
    train: (model: Model, options: TrainOptions): Promise<TrainSummary> => clock.time('train', () => trainer.train(model, options)),
    gradients: (model: Model, batch: Batch): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> =>
      clock.time('gradients', () => trainer.gradients(model, batch)),
    sampleBatches: (count, batchSize, rng) => trainer.sampleBatches(count, batchSize, rng),
    validate: (model: Model): Promise<number> => clock.time('validate', () => trainer.validate(model)),
  };
}
