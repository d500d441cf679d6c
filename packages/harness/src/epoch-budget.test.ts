// Budgets in epochs of the task's training split: planned as examples, recorded as both.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectEnvironment } from './environment.js';
import { SuiteValidationError } from './errors.js';
import { createMethodRegistry } from './methods.js';
import { planSuite } from './plan.js';
import { runSuite } from './run-suite.js';
import { RunStore } from './store.js';
import { describeBudget, validateSuite } from './suite.js';
import type { TaskDefinition } from './tasks/types.js';
import { fakeIterativeMagnitude } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The fake task trains on 48 examples, or trainPerClass × 3 classes.
const counted = (task: TaskDefinition, perEpoch = (trainPerClass: number) => (trainPerClass > 0 ? 3 * trainPerClass : 48)): TaskDefinition =>
  ({ ...task, trainExamples: (sizing) => perEpoch(sizing.trainPerClass) });
const registriesWith = (task: TaskDefinition) => ({ tasks: new Map([[task.id, task]]), methods: createMethodRegistry([fakeIterativeMagnitude]) });
const suiteJson = (budget: unknown, tasks: unknown[] = [{ id: 'fake-blobs', testSize: 30 }]) => ({
  name: 'epochs', tasks, methods: ['fake-iterative'], targets: [{ compression: 2 }], seeds: [0], budget,
});

function problems(input: unknown, task: TaskDefinition): string[] {
  try {
    validateSuite(input, registriesWith(task));
  } catch (error) {
    return (error as SuiteValidationError).problems;
  }
  throw new Error('expected a validation error');
}

describe('an epoch budget', () => {
  const task = counted(fakeTask());

  it('is read beside the example count, and a bad one names the field', () => {
    expect(validateSuite(suiteJson({ epochs: 2.5 }), registriesWith(task)).budget).toEqual({ epochs: 2.5 });
    expect(validateSuite(suiteJson(64), registriesWith(task)).budget).toEqual({ examples: 64 });
    expect(describeBudget({ epochs: 30 })).toBe('30 epochs');
    expect(describeBudget({ examples: 1024 })).toBe('1024 examples');
    expect(problems(suiteJson({ epochs: 0 }), task)).toEqual([`suite.budget.epochs: must be a number > 0 (epochs of the task's training split), got 0`]);
    expect(problems(suiteJson({ steps: 10 }), task)).toEqual(['suite.budget: must be a number of training examples or { "epochs": n }, got {"steps":10}']);
    expect(problems(suiteJson(-1), task)).toEqual(['suite.budget: must be a non-negative integer number of training examples, or { "epochs": n }, got -1']);
  });

  it('plans epochs × the training split of each task sizing, recorded as both; example budgets keep their ids', () => {
    const other = counted(fakeTask('fake-other'));
    const registries = { ...registriesWith(task), tasks: new Map([[task.id, task], [other.id, other]]) };
    const plan = planSuite(validateSuite(suiteJson({ epochs: 2.5 }, [{ id: 'fake-blobs' }, { id: 'fake-other', trainPerClass: 5 }]), registries), registries);
    const pruned = plan.runs.filter((r) => r.description.method !== 'dense');
    expect(pruned.map((r) => [r.description.budgetExamples, r.description.budgetEpochs])).toEqual([[120, 2.5], [38, 2.5]]);
    const examples = planSuite(validateSuite(suiteJson(120, [{ id: 'fake-blobs' }]), registries), registries).runs;
    expect(examples[1].description).not.toHaveProperty('budgetEpochs');
    expect(examples[1].id).not.toBe(pruned[0].id);
    // The dense row spends no budget either way, so it keeps its id.
    expect(examples[0].id).toBe(plan.runs[0].id);
  });

  it('runs with that many examples and fails clearly when the loaded split has another size', async () => {
    const run = async (definition: TaskDefinition) => {
      const registries = registriesWith(definition);
      const runs = planSuite(validateSuite(suiteJson({ epochs: 1 }), registries), registries).runs;
      return runSuite({
        runs, store: new RunStore(mkdtempSync(join(tmpdir(), 'prunebench-epochs-'))),
        environment: collectEnvironment({ backend: 'cpu', device: 'test', versions: {} }),
        taskEnvironment: { cacheDir: '/nonexistent', log: () => {} }, chunkExamples: 8,
      });
    };
    const good = await run(task);
    expect(good.failed).toEqual([]);
    const pruned = good.completed.find((r) => r.description.method === 'fake-iterative')!;
    expect(pruned.description.budgetEpochs).toBe(1);
    expect(pruned.budget.totalExamples).toBe(48);

    const miscounted = await run(counted(fakeTask(), () => 50));
    expect(miscounted.failed.map((r) => r.error)).toEqual([
      'Error: budget: 1 epochs of 48 training examples is 48 examples, but the plan counted 50',
    ]);
  });

  it('needs a task that can count an epoch before loading', () => {
    const registries = registriesWith(fakeTask());
    expect(() => planSuite(validateSuite(suiteJson({ epochs: 1 }), registries), registries)).toThrow(
      'suite.budget.epochs: task fake-blobs cannot count an epoch before loading its data; give the budget in examples',
    );
  });
});
