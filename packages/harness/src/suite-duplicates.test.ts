import { describe, expect, it } from 'vitest';
import { SuiteValidationError } from './errors.js';
import { createMethodRegistry } from './methods.js';
import { validateSuite } from './suite.js';
import { fakeGreedy, fakeIterativeMagnitude } from './testing/fake-methods.js';
import { fakeTask } from './testing/fake-task.js';

const registries = { tasks: new Map([['fake-blobs', fakeTask()]]), methods: createMethodRegistry([fakeIterativeMagnitude, fakeGreedy]) };
const suite = (methods: unknown[], targets: unknown[]) => ({ name: 'dup', tasks: ['fake-blobs'], methods, targets, seeds: [0], budget: 8 });

function problems(input: unknown): string[] {
  try {
    validateSuite(input, registries, 'suite.json');
  } catch (error) {
    expect(error).toBeInstanceOf(SuiteValidationError);
    return (error as SuiteValidationError).problems;
  }
  return [];
}

describe('duplicate entries in a suite', () => {
  it('are an error naming both entries, also when options only spell out defaults', () => {
    expect(problems(suite(['fake-iterative', { name: 'fake-iterative', options: { rounds: 2 } }, 'fake-greedy'], [{ compression: 2 }, { compression: 2 }]))).toEqual([
      'suite.methods[1]: repeats suite.methods[0] (the same method with the same options)',
      'suite.targets[1]: repeats suite.targets[0] (the same target)',
    ]);
  });

  it('are not confused with the same method under other options', () => {
    expect(problems(suite(['fake-iterative', { name: 'fake-iterative', options: { rounds: 3 } }], [{ compression: 2 }, { compression: 4 }]))).toEqual([]);
  });
});
