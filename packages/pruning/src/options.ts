/**
 * Method options, declared once: each option is one declaration (its type, default, range and a one-line doc).
 * From a method's declarations come its TypeScript options type (`OptionsOf`), its defaults, the validation of
 * suite input (every error names the method and the field, unknown fields are rejected), `prunebench list
 * methods` and the option table of the method's README (`optionTable`, checked against the README by a test).
 */
export type OptionValidator<T> = (value: unknown, field: string) => T;

export interface OptionDeclaration<T> {
  /** What the value is, for docs and errors: `integer ≥ 1`, `"global" | "layerwise"`, `true | false`. */
  readonly type: string;
  /** The value when the option is left out; undefined = the option may be left out and has no value then. */
  readonly default: T | undefined;
  /** Shown instead of the default in docs when it depends on other options (`1 / 5 / 10`). */
  readonly defaultText?: string;
  /** One line: what the option does. */
  readonly doc: string;
  readonly parse: OptionValidator<T>;
}

/** A declaration with a default: the parsed options always have this field. */
export type DefaultedOption<T> = OptionDeclaration<T> & { readonly default: T };
/** A declaration without a default: the field may be absent from the parsed options. */
export type OmittableOption<T> = OptionDeclaration<T> & { readonly default: undefined };

export type OptionSchema = Readonly<Record<string, OptionDeclaration<any>>>;

type ValueOf<D> = D extends { readonly parse: OptionValidator<infer T> } ? T : never;
type OmittableKeys<S extends OptionSchema> = { [K in keyof S]: undefined extends S[K]['default'] ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The options type a schema declares: defaulted fields required, the others optional. */
export type OptionsOf<S extends OptionSchema> = Simplify<
  { [K in Exclude<keyof S, OmittableKeys<S>>]: ValueOf<S[K]> } & { [K in OmittableKeys<S>]?: ValueOf<S[K]> }
>;

interface Described {
  doc: string;
  defaultText?: string;
}

function declare<T>(type: string, spec: Described & { default?: T }, parse: OptionValidator<T>): OptionDeclaration<T> {
  const declaration: OptionDeclaration<T> = { type, default: spec.default, defaultText: spec.defaultText, doc: spec.doc, parse };
  if (spec.default !== undefined) parse(spec.default, 'default');
  return declaration;
}

export interface NumberRange {
  min?: number;
  max?: number;
  minExclusive?: number;
  maxExclusive?: number;
  integer?: boolean;
}

/** `number ≥ 0`, `integer ≥ 1`, `number in (0, 1)`. */
function describeRange(range: NumberRange): string {
  const kind = range.integer ? 'integer' : 'number';
  const low = range.min !== undefined ? `[${range.min}` : range.minExclusive !== undefined ? `(${range.minExclusive}` : undefined;
  const high = range.max !== undefined ? `${range.max}]` : range.maxExclusive !== undefined ? `${range.maxExclusive})` : undefined;
  if (low && high) return `${kind} in ${low}, ${high}`;
  if (range.min !== undefined) return `${kind} ≥ ${range.min}`;
  if (range.minExclusive !== undefined) return `${kind} > ${range.minExclusive}`;
  if (range.max !== undefined) return `${kind} ≤ ${range.max}`;
  if (range.maxExclusive !== undefined) return `${kind} < ${range.maxExclusive}`;
  return kind;
}

export function numberValidator(range: NumberRange = {}): OptionValidator<number> {
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

export function numberOption(spec: NumberRange & Described & { default: number }): DefaultedOption<number>;
export function numberOption(spec: NumberRange & Described & { default?: undefined }): OmittableOption<number>;
export function numberOption(spec: NumberRange & Described & { default?: number }): OptionDeclaration<number> {
  return declare(describeRange(spec), spec, numberValidator(spec));
}

export function booleanOption(spec: Described & { default: boolean }): DefaultedOption<boolean> {
  return declare('true | false', spec, (value, field) => {
    if (typeof value !== 'boolean') throw new Error(`option ${field} must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }) as DefaultedOption<boolean>;
}

export function enumOption<T extends string>(choices: readonly T[], spec: Described & { default: NoInfer<T> }): DefaultedOption<T>;
export function enumOption<T extends string>(choices: readonly T[], spec: Described & { default?: undefined }): OmittableOption<T>;
export function enumOption<T extends string>(choices: readonly T[], spec: Described & { default?: T }): OptionDeclaration<T> {
  const quoted = choices.map((c) => `"${c}"`);
  return declare(quoted.join(' | '), spec, (value, field) => {
    if (typeof value !== 'string' || !choices.includes(value as T)) {
      throw new Error(`option ${field} must be one of ${quoted.join(', ')}, got ${JSON.stringify(value)}`);
    }
    return value as T;
  });
}

/** A name → number map (e.g. per-layer ratios), every value in `each`; no default (left out = not used). */
export function recordOption(spec: Described & { each: NumberRange }): OmittableOption<Record<string, number>> {
  const each = numberValidator(spec.each);
  return declare<Record<string, number>>(`{ name: ${describeRange(spec.each)} }`, spec, (value, field) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`option ${field} must be an object of name → number, got ${JSON.stringify(value)}`);
    }
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(value)) out[k] = each(v, `${field}["${k}"]`);
    return out;
  }) as OmittableOption<Record<string, number>>;
}

/** Any other shape: the type text for docs and the validator are the caller's. */
export function customOption<T>(spec: Described & { type: string; default: T; parse: OptionValidator<T> }): DefaultedOption<T> {
  return declare(spec.type, spec, spec.parse) as DefaultedOption<T>;
}

/** The declared defaults (options without one are absent). */
export function optionDefaults<S extends OptionSchema>(schema: S): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, declaration] of Object.entries(schema)) if (declaration.default !== undefined) out[name] = declaration.default;
  return out as OptionsOf<S>;
}

/** Defaults merged with the user's options, each field checked by its declaration, unknown fields rejected. */
export function parseOptions<S extends OptionSchema>(method: string, schema: S, options: Record<string, unknown> | undefined): OptionsOf<S> {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new Error(`${method}: options must be an object, got ${JSON.stringify(options)}`);
  }
  const known = Object.keys(schema);
  for (const key of Object.keys(options ?? {})) {
    if (!known.includes(key)) throw new Error(`${method}: unknown option "${key}" (known: ${known.join(', ')})`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, declaration] of Object.entries(schema)) {
    const value = options && options[key] !== undefined ? options[key] : declaration.default;
    if (value === undefined) continue;
    try {
      out[key] = declaration.parse(value, key);
    } catch (err) {
      throw new Error(`${method}: ${(err as Error).message}`);
    }
  }
  return out as OptionsOf<S>;
}

export interface OptionRow {
  name: string;
  type: string;
  /** The default as suite JSON (`"global"`, `0.2`), its `defaultText`, or `—` when there is none. */
  default: string;
  doc: string;
}

export function optionRows(schema: OptionSchema): OptionRow[] {
  return Object.entries(schema).map(([name, d]) => ({
    name,
    type: d.type,
    default: d.defaultText ?? (d.default === undefined ? '—' : JSON.stringify(d.default)),
    doc: d.doc,
  }));
}

/** The README option table of a method (markdown), generated from its declarations. */
export function optionTable(schema: OptionSchema): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const lines = ['| option | type | default | meaning |', '| --- | --- | --- | --- |'];
  for (const [name, d] of Object.entries(schema)) {
    const shown = d.defaultText ?? (d.default === undefined ? '—' : `\`${JSON.stringify(d.default)}\``);
    lines.push(`| \`${name}\` | ${cell(d.type)} | ${cell(shown)} | ${cell(d.doc)} |`);
  }
  return lines.join('\n');
}
