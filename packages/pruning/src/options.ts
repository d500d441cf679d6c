/**
 * Typed method options: defaults merged with user options, each field checked by a validator, unknown
 * fields rejected. Every error names the method and the field.
 */
export type OptionValidator<T> = (value: unknown, field: string) => T;

export type OptionValidators<O> = { [K in keyof O]-?: OptionValidator<O[K]> };

export function parseMethodOptions<O extends Record<string, unknown>>(
  method: string,
  defaults: O,
  options: Record<string, unknown> | undefined,
  validators: OptionValidators<O>,
): O {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new Error(`${method}: options must be an object, got ${JSON.stringify(options)}`);
  }
  const known = Object.keys(validators);
  for (const key of Object.keys(options ?? {})) {
    if (!known.includes(key)) throw new Error(`${method}: unknown option "${key}" (known: ${known.join(', ')})`);
  }
  const merged: Record<string, unknown> = { ...defaults, ...(options ?? {}) };
  const out: Record<string, unknown> = {};
  for (const key of known) {
    const value = merged[key];
    try {
      const parsed = (validators as Record<string, OptionValidator<unknown>>)[key](value, key);
      if (parsed !== undefined) out[key] = parsed;
    } catch (err) {
      throw new Error(`${method}: ${(err as Error).message}`);
    }
  }
  return out as O;
}

export function numberOption(range: { min?: number; max?: number; minExclusive?: number; maxExclusive?: number; integer?: boolean } = {}): OptionValidator<number> {
  return (value, field) => {
    const bad = (why: string) => new Error(`option ${field} must be ${why}, got ${JSON.stringify(value)}`);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('a finite number');
    if (range.integer && !Number.isInteger(value)) throw bad('an integer');
    if (range.min !== undefined && value < range.min) throw bad(`>= ${range.min}`);
    if (range.max !== undefined && value > range.max) throw bad(`<= ${range.max}`);
    if (range.minExclusive !== undefined && value <= range.minExclusive) throw bad(`> ${range.minExclusive}`);
    if (range.maxExclusive !== undefined && value >= range.maxExclusive) throw bad(`< ${range.maxExclusive}`);
    return value;
  };
}

export function booleanOption(): OptionValidator<boolean> {
  return (value, field) => {
    if (typeof value !== 'boolean') throw new Error(`option ${field} must be true or false, got ${JSON.stringify(value)}`);
    return value;
  };
}

export function enumOption<T extends string>(choices: readonly T[]): OptionValidator<T> {
  return (value, field) => {
    if (typeof value !== 'string' || !choices.includes(value as T)) {
      throw new Error(`option ${field} must be one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${JSON.stringify(value)}`);
    }
    return value as T;
  };
}

/** Name → number map, every value checked by `each`. */
export function recordOption(each: OptionValidator<number>): OptionValidator<Record<string, number>> {
  return (value, field) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`option ${field} must be an object of name → number, got ${JSON.stringify(value)}`);
    }
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(value)) out[k] = each(v, `${field}["${k}"]`);
    return out;
  };
}

/** Accepts undefined (option left out) or whatever `inner` accepts. */
export function optionalOption<T>(inner: OptionValidator<T>): OptionValidator<T | undefined> {
  return (value, field) => (value === undefined ? undefined : inner(value, field));
}

/** The first validator that accepts the value wins; the error lists every alternative's complaint. */
export function oneOfOption<T>(...alternatives: OptionValidator<T>[]): OptionValidator<T> {
  return (value, field) => {
    const errors: string[] = [];
    for (const alt of alternatives) {
      try {
        return alt(value, field);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    throw new Error(errors.join('; or '));
  };
}
