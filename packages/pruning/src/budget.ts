import type { Model } from '@prunebench/models';
import { checkMaskUpdate } from './mask-update.js';
import { BudgetExceededError, type BudgetedTrainer, type TrainOptions, type TrainSummary } from './types.js';

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

/**
 * The budget of a BudgetedTrainer, the one place its charge rule lives: every example of a forward + backward pass
 * is charged before the pass; a request larger than what remains is refused with BudgetExceededError, charging nothing.
 */
export class BudgetLedger {
  private used_ = 0;

  constructor(readonly total: number) {
    if (!Number.isInteger(total) || total < 0) throw new Error(`budget must be a non-negative integer number of examples, got ${total}`);
  }

  get used(): number {
    return this.used_;
  }

  get remaining(): number {
    return this.total - this.used_;
  }

  /** Throws BudgetExceededError (charging nothing) unless `examples` fit in what remains. */
  ensure(examples: number): void {
    if (examples > this.remaining) throw new BudgetExceededError(examples, this.remaining, this.total);
  }

  /** Charges `examples`, or throws BudgetExceededError charging nothing. */
  charge(examples: number): void {
    this.ensure(examples);
    this.used_ += examples;
  }

  /** Sets the budget used, from a checkpoint of the same run (resume). */
  restore(used: number): void {
    if (!Number.isInteger(used) || used < 0 || used > this.total) throw new Error(`budget used must be an integer in [0, ${this.total}], got ${used}`);
    this.used_ = used;
  }
}

/**
 * The checks every `train` makes before any work (the BudgetedTrainer contract): `examples` a positive integer,
 * `lrScale` positive and finite, and the examples within the remaining budget. Returns the examples and lrScale.
 */
export function checkTrainRequest(ledger: BudgetLedger, options: TrainOptions): { examples: number; lrScale: number } {
  const { examples, lrScale = 1 } = options;
  if (!Number.isInteger(examples) || examples <= 0) {
    throw new Error(`train: examples must be a positive integer, got ${examples} (skip empty calls with trainUnlessEmpty)`);
  }
  if (!(lrScale > 0) || !Number.isFinite(lrScale)) throw new Error(`train: lrScale must be a positive number, got ${lrScale}`);
  // A mask-update hook's own charges (RigL's gradient reads) are checked with the examples, before any work.
  ledger.ensure(examples + checkMaskUpdate(options));
  return { examples, lrScale };
}
