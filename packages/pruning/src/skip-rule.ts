/**
 * ICE-pruning's skip rule (Hu et al. 2025, "ICE-Pruning: An Iterative Cost-Efficient Pruning Pipeline"): after each
 * pruning step of an iterative schedule, measure the validation drop the step caused; when it is below a threshold,
 * skip that step's fine-tuning and spend its share in the final fine-tuning instead, so the total budget is the plain
 * schedule's. The validation is the trainer's (not charged, the fixed validation split carved from train).
 */
import type { Model } from '@prunebench/models';
import { numberOption, type OptionSchema } from './options.js';
import type { BudgetedTrainer } from './types.js';

/** The option, for every scheduled method (the score methods through SCHEDULE_OPTIONS, and lth). */
export const SKIP_FINETUNE_OPTIONS = {
  skipFinetuneBelow: numberOption({
    min: 0,
    max: 1,
    doc:
      'ICE-pruning\'s skip rule (off when absent): after each pruning step but the last, a validation drop (before − after the step, ' +
      'accuracy-like score in [0, 1]) below this skips the step\'s fine-tuning; its share goes to the final fine-tuning (same total budget).',
  }),
} satisfies OptionSchema;

export interface SkipStepRecord {
  /** 1-based pruning step. */
  step: number;
  validationBefore: number;
  validationAfter: number;
  drop: number;
  skipped: boolean;
  /** Examples this step's fine-tuning trained (the last step's includes every skipped share). */
  examples: number;
}

/** The rule over one schedule's steps; with no threshold it does nothing (no validation, every share trained). */
export class FinetuneSkipRule {
  /** Examples of skipped steps, still to be spent in the final fine-tuning. */
  deferred = 0;
  readonly steps: SkipStepRecord[] = [];
  private before: number | null = null;
  /** The last validation, while the model has not changed since (a skipped step's "after" is the next "before"). */
  private cached: number | null = null;

  constructor(
    private readonly method: string,
    readonly threshold: number | undefined,
    private readonly trainer: BudgetedTrainer,
    private readonly log: (message: string) => void,
  ) {}

  get enabled(): boolean {
    return this.threshold !== undefined;
  }

  /** Before a pruning step changes the model: its validation score (reused when nothing changed since the last one). */
  async beforePruning(model: Model): Promise<void> {
    if (!this.enabled) return;
    this.before = this.cached ?? (await this.trainer.validate(model));
  }

  /**
   * After a pruning step (0-based `index` of `steps`) whose plain share is `share`: the examples to fine-tune now — 0 when
   * the step is skipped (the share deferred), share + every deferred share at the last step, else `share`.
   */
  async afterPruning(model: Model, index: number, steps: number, share: number): Promise<number> {
    if (!this.enabled) return share;
    const after = await this.trainer.validate(model);
    const drop = this.before! - after;
    const last = index === steps - 1;
    const skipped = !last && share > 0 && drop < this.threshold!;
    const examples = skipped ? 0 : share + (last ? this.deferred : 0);
    const step = index + 1;
    if (skipped) {
      this.deferred += share;
      this.cached = after;
      this.log(`${this.method} step ${step}/${steps}: validation ${fmt(this.before!)} → ${fmt(after)} (drop ${fmt(drop)} < ${this.threshold}): fine-tuning skipped, ${share} examples deferred to the final fine-tuning`);
    } else {
      this.cached = null;
      this.log(`${this.method} step ${step}/${steps}: validation ${fmt(this.before!)} → ${fmt(after)} (drop ${fmt(drop)}): fine-tuning ${examples} examples${last && this.deferred > 0 ? ` (${this.deferred} deferred from skipped steps)` : ''}`);
    }
    this.steps.push({ step, validationBefore: this.before!, validationAfter: after, drop, skipped, examples });
    return examples;
  }

  /** For the record's details (absent when the rule is off). */
  details(): Record<string, unknown> {
    if (!this.enabled) return {};
    return { skipRule: { threshold: this.threshold, skippedSteps: this.steps.filter((s) => s.skipped).map((s) => s.step), steps: this.steps } };
  }
}

function fmt(value: number): string {
  return value.toFixed(4);
}
