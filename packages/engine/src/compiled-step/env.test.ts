import { afterEach, describe, expect, it } from 'vitest';
import { compiledStepEnv } from './env.js';

describe('PRUNEBENCH_COMPILED_STEP', () => {
  const saved = process.env.PRUNEBENCH_COMPILED_STEP;
  afterEach(() => {
    if (saved === undefined) delete process.env.PRUNEBENCH_COMPILED_STEP;
    else process.env.PRUNEBENCH_COMPILED_STEP = saved;
  });

  it('reads 0, 1 and unset, and names the variable for anything else', () => {
    delete process.env.PRUNEBENCH_COMPILED_STEP;
    expect(compiledStepEnv()).toBeNull();
    process.env.PRUNEBENCH_COMPILED_STEP = '';
    expect(compiledStepEnv()).toBeNull();
    process.env.PRUNEBENCH_COMPILED_STEP = '0';
    expect(compiledStepEnv()).toBe('off');
    process.env.PRUNEBENCH_COMPILED_STEP = '1';
    expect(compiledStepEnv()).toBe('software-too');
    process.env.PRUNEBENCH_COMPILED_STEP = 'yes';
    expect(() => compiledStepEnv()).toThrow('env PRUNEBENCH_COMPILED_STEP: expected 0 or 1, got "yes"');
  });
});
