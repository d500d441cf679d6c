import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineScoreMethod } from './score-method.js';
import { magnitudeScores } from './scores.js';
import { createToyModel, SimpleBudgetedTrainer, testMethodContext } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const magnitude = defineScoreMethod({ name: 'magnitude-test', description: 'test', options: {}, score: ({ model }, prunable) => magnitudeScores(model, prunable) });

/** validate() answers from a script (one value per call), so the test fixes every drop. */
class ScriptedTrainer extends SimpleBudgetedTrainer {
  readonly validations: number[] = [];
  constructor(totalExamples: number, private readonly script: number[]) {
    super({ totalExamples, seed: 1 });
  }
  override async validate(_model: Model): Promise<number> {
    const value = this.script[this.validations.length];
    if (value === undefined) throw new Error('validate called more often than scripted');
    this.validations.push(value);
    return value;
  }
}

async function run(options: Record<string, unknown>, trainer: SimpleBudgetedTrainer) {
  const model = createToyModel({ seed: 2 });
  const context = testMethodContext(magnitude, { model, trainer, target: { kind: 'compression', ratio: 4 }, options });
  const result = await magnitude.run(context);
  model.dispose();
  return { result, messages: context.messages };
}

describe('skipFinetuneBelow (ICE-pruning skip rule)', () => {
  it('skips the fine-tuning of steps whose validation drop is below the threshold; their shares go to the final fine-tuning', async () => {
    // Steps 1 and 3 drop 0.005 and 0.001 (< 0.01: skipped), step 2 drops 0.05; the last step always fine-tunes.
    // Calls: before 1, after 1, (before 2 = after 1, nothing changed), after 2, before 3, after 3, (before 4 = after 3), after 4.
    const trainer = new ScriptedTrainer(400, [0.9, 0.895, 0.845, 0.85, 0.849, 0.8]);
    const { result, messages } = await run({ schedule: 'iterative', rounds: 4, skipFinetuneBelow: 0.01 }, trainer);
    expect(trainer.validations).toHaveLength(6);
    expect(trainer.trainCalls.map((c) => [c.label, c.examples])).toEqual([['magnitude-test-step-2', 100], ['magnitude-test-step-4', 300]]);
    const skip = (result.details as { skipRule: { skippedSteps: number[]; steps: Array<{ drop: number; examples: number; skipped: boolean }> } }).skipRule;
    expect(skip.skippedSteps).toEqual([1, 3]);
    expect(skip.steps.map((s) => s.examples)).toEqual([0, 100, 0, 300]);
    expect(skip.steps[1].drop).toBeCloseTo(0.05, 12);
    expect(messages.filter((m) => m.includes('fine-tuning skipped'))).toHaveLength(2);
    expect(messages.some((m) => m.includes('(200 deferred from skipped steps)'))).toBe(true);
    expect(trainer.usedExamples()).toBe(400);
  });

  it('spends exactly the plain schedule\'s total budget, the same per step when nothing is skipped', async () => {
    const plain = new SimpleBudgetedTrainer({ totalExamples: 403, seed: 1 });
    await run({ schedule: 'iterative', rounds: 4 }, plain);
    // Threshold 1: every step but the last skipped, the last trains everything.
    const all = new ScriptedTrainer(403, [0.9, 0.5, 0.4, 0.3, 0.2]);
    await run({ schedule: 'iterative', rounds: 4, skipFinetuneBelow: 1 }, all);
    expect(all.usedExamples()).toBe(plain.usedExamples());
    expect(all.trainCalls.map((c) => c.examples)).toEqual([403]);
    // Threshold 0 with drops > 0: nothing skipped, the plain schedule's shares exactly.
    const none = new ScriptedTrainer(403, [0.9, 0.8, 0.8, 0.7, 0.7, 0.6, 0.6, 0.5]);
    await run({ schedule: 'iterative', rounds: 4, skipFinetuneBelow: 0 }, none);
    expect(none.trainCalls.map((c) => c.examples)).toEqual(plain.trainCalls.map((c) => c.examples));
    expect(plain.trainCalls.map((c) => c.examples)).toEqual([101, 101, 101, 100]);
  });

  it('is off by default (no validation, no details) and needs several steps with fine-tuning', async () => {
    const trainer = new ScriptedTrainer(100, []);
    const { result } = await run({ schedule: 'iterative', rounds: 2 }, trainer);
    expect(trainer.validations).toHaveLength(0);
    expect(result.details).not.toHaveProperty('skipRule');
    expect(magnitude.defaults).not.toHaveProperty('skipFinetuneBelow');
    expect(() => magnitude.parseOptions({ skipFinetuneBelow: 0.01 })).toThrow(/skipFinetuneBelow needs several pruning steps/);
    expect(() => magnitude.parseOptions({ schedule: 'iterative', finetune: false, skipFinetuneBelow: 0.01 })).toThrow(/skipFinetuneBelow needs finetune/);
    expect(() => magnitude.parseOptions({ schedule: 'iterative', skipFinetuneBelow: 2 })).toThrow(/option skipFinetuneBelow must be <= 1/);
  });
});
