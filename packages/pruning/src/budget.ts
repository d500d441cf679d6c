import type { Model } from '@prunebench/models';
import type { BudgetedTrainer, TrainOptions, TrainSummary } from './types.js';

/** Split `total` examples into `parts` integer chunks that sum to `total` (earlier chunks get the remainder). */
export function splitBudget(total: number, parts: number): number[] {
  if (!Number.isInteger(parts) || parts < 1) throw new Error(`parts must be an integer >= 1, got ${parts}`);
  if (!Number.isInteger(total) || total < 0) throw new Error(`total must be an integer >= 0, got ${total}`);
  const base = Math.floor(total / parts);
  const extra = total - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

/** `trainer.train`, skipped (no charge, no call) when there are no examples to train on. */
export async function trainUnlessEmpty(trainer: BudgetedTrainer, model: Model, options: TrainOptions): Promise<TrainSummary | null> {
  if (options.examples <= 0) return null;
  return trainer.train(model, options);
}
