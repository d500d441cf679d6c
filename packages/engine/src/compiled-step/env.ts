/**
 * PRUNEBENCH_COMPILED_STEP, read in one place: '0' = never use a compiled training step, '1' = use it on a software
 * adapter too, unset or empty = the caller's choice. Anything else is an error naming the variable.
 */
export function compiledStepEnv(): 'off' | 'software-too' | null {
  const value = process.env.PRUNEBENCH_COMPILED_STEP;
  if (value === undefined || value === '') return null;
  if (value === '0') return 'off';
  if (value === '1') return 'software-too';
  throw new Error(`env PRUNEBENCH_COMPILED_STEP: expected 0 or 1, got ${JSON.stringify(value)}`);
}
