import { describe, expect, it } from 'vitest';
import { booleanOption, enumOption, numberOption, oneOfOption, optionalOption, parseMethodOptions, recordOption } from './options.js';

type Opts = { rate: number; mode: 'a' | 'b'; flag: boolean; ratios?: Record<string, number>; floor: number | { fraction: number } };
const defaults: Opts = { rate: 0.2, mode: 'a', flag: true, floor: 1 };
const fraction = (v: unknown, field: string) => {
  if (!v || typeof v !== 'object') throw new Error(`option ${field} must be { fraction }`);
  return { fraction: numberOption({ min: 0, max: 1 })((v as { fraction: unknown }).fraction, `${field}.fraction`) };
};
const validators = {
  rate: numberOption({ minExclusive: 0, maxExclusive: 1 }),
  mode: enumOption(['a', 'b'] as const),
  flag: booleanOption(),
  ratios: optionalOption(recordOption(numberOption({ min: 0 }))),
  floor: oneOfOption<number | { fraction: number }>(numberOption({ min: 0, integer: true }), fraction),
};

describe('parseMethodOptions', () => {
  it('merges over the defaults', () => {
    expect(parseMethodOptions('m', defaults, undefined, validators)).toEqual(defaults);
    expect(parseMethodOptions('m', defaults, { mode: 'b', ratios: { x: 1 }, floor: { fraction: 0.1 } }, validators)).toEqual({
      ...defaults,
      mode: 'b',
      ratios: { x: 1 },
      floor: { fraction: 0.1 },
    });
  });

  it('names the method and the field in every error', () => {
    expect(() => parseMethodOptions('m', defaults, { rate: 1 }, validators)).toThrow(/^m: option rate must be < 1/);
    expect(() => parseMethodOptions('m', defaults, { mode: 'c' }, validators)).toThrow(/option mode must be one of "a", "b"/);
    expect(() => parseMethodOptions('m', defaults, { flag: 'yes' }, validators)).toThrow(/option flag/);
    expect(() => parseMethodOptions('m', defaults, { ratios: { x: -1 } }, validators)).toThrow(/ratios\["x"\]/);
    expect(() => parseMethodOptions('m', defaults, { floor: { fraction: 3 } }, validators)).toThrow(/floor.fraction/);
    expect(() => parseMethodOptions('m', defaults, { typo: 1 }, validators)).toThrow(/unknown option "typo"/);
    expect(() => parseMethodOptions('m', defaults, [] as unknown as Record<string, unknown>, validators)).toThrow(/options must be an object/);
  });
});
