import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  booleanOption,
  customOption,
  enumOption,
  numberOption,
  optionDefaults,
  optionRows,
  optionTable,
  parseOptions,
  recordOption,
  type OptionsOf,
} from './options.js';

const schema = {
  rate: numberOption({ default: 0.2, minExclusive: 0, maxExclusive: 1, doc: 'a rate' }),
  mode: enumOption(['a', 'b'] as const, { default: 'a', doc: 'a mode' }),
  flag: booleanOption({ default: true, doc: 'a | flag' }),
  ratios: recordOption({ each: { min: 0 }, doc: 'per-name ratios' }),
  steps: numberOption({ min: 1, integer: true, defaultText: '1 / 5', doc: 'steps' }),
  floor: customOption<number | { fraction: number }>({
    type: 'count or { fraction }',
    default: 1,
    doc: 'a floor',
    parse: (value, field) => {
      if (typeof value === 'number') return value;
      if (value && typeof value === 'object' && typeof (value as { fraction?: unknown }).fraction === 'number') {
        const fraction = (value as { fraction: number }).fraction;
        if (fraction <= 1) return { fraction };
      }
      throw new Error(`option ${field}.fraction must be <= 1`);
    },
  }),
};

describe('option declarations', () => {
  it('give the options type: defaulted fields required, the others optional', () => {
    expectTypeOf<OptionsOf<typeof schema>>().toEqualTypeOf<{
      rate: number;
      mode: 'a' | 'b';
      flag: boolean;
      floor: number | { fraction: number };
      ratios?: Record<string, number>;
      steps?: number;
    }>();
  });

  it('give the defaults: fields without one are absent', () => {
    expect(optionDefaults(schema)).toEqual({ rate: 0.2, mode: 'a', flag: true, floor: 1 });
  });

  it('merge over the defaults', () => {
    expect(parseOptions('m', schema, undefined)).toEqual({ rate: 0.2, mode: 'a', flag: true, floor: 1 });
    expect(parseOptions('m', schema, { mode: 'b', ratios: { x: 1 }, floor: { fraction: 0.1 }, steps: 3 })).toEqual({
      rate: 0.2,
      mode: 'b',
      flag: true,
      ratios: { x: 1 },
      floor: { fraction: 0.1 },
      steps: 3,
    });
  });

  it('name the method and the field in every error', () => {
    expect(() => parseOptions('m', schema, { rate: 1 })).toThrow(/^m: option rate must be < 1, got 1$/);
    expect(() => parseOptions('m', schema, { rate: 0 })).toThrow(/^m: option rate must be > 0/);
    expect(() => parseOptions('m', schema, { mode: 'c' })).toThrow(/^m: option mode must be one of "a", "b", got "c"/);
    expect(() => parseOptions('m', schema, { flag: 'yes' })).toThrow(/^m: option flag must be true or false/);
    expect(() => parseOptions('m', schema, { ratios: { x: -1 } })).toThrow(/^m: option ratios\["x"\] must be >= 0/);
    expect(() => parseOptions('m', schema, { steps: 1.5 })).toThrow(/^m: option steps must be an integer/);
    expect(() => parseOptions('m', schema, { floor: { fraction: 3 } })).toThrow(/^m: option floor.fraction/);
    expect(() => parseOptions('m', schema, { typo: 1 })).toThrow(/^m: unknown option "typo" \(known: rate, mode, flag, ratios, steps, floor\)/);
    expect(() => parseOptions('m', schema, [] as unknown as Record<string, unknown>)).toThrow(/^m: options must be an object/);
  });

  it('refuse a default outside their own range', () => {
    expect(() => numberOption({ default: 2, max: 1, doc: 'x' })).toThrow(/option default must be <= 1/);
  });

  it('describe themselves for docs: type from the range, default as suite JSON', () => {
    expect(optionRows(schema)).toEqual([
      { name: 'rate', type: 'number in (0, 1)', default: '0.2', doc: 'a rate' },
      { name: 'mode', type: '"a" | "b"', default: '"a"', doc: 'a mode' },
      { name: 'flag', type: 'true | false', default: 'true', doc: 'a | flag' },
      { name: 'ratios', type: '{ name: number ≥ 0 }', default: '—', doc: 'per-name ratios' },
      { name: 'steps', type: 'integer ≥ 1', default: '1 / 5', doc: 'steps' },
      { name: 'floor', type: 'count or { fraction }', default: '1', doc: 'a floor' },
    ]);
    const table = optionTable(schema).split('\n');
    expect(table[0]).toBe('| option | type | default | meaning |');
    expect(table[3]).toBe('| `mode` | "a" \\| "b" | `"a"` | a mode |');
    expect(table[4]).toBe('| `flag` | true \\| false | `true` | a \\| flag |');
    expect(table[5]).toBe('| `ratios` | { name: number ≥ 0 } | — | per-name ratios |');
    expect(table[6]).toBe('| `steps` | integer ≥ 1 | 1 / 5 | steps |');
  });
});
