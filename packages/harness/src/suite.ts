import { checkDistillationSettings, parseNmPattern, type DistillationSettings, type PruningMethod, type PruningTarget } from '@prunebench/pruning';
import { readJsonFile } from '@prunebench/engine';
import { canonicalJson, withoutDefaults } from './canonical.js';
import { FLATNESS_DEFAULTS } from './flatness.js';
import { validateLatency } from './latency.js';
import { validateQuantize } from './quantize.js';
import type { FlatnessSettings, LatencySettings, QuantizeSettings, ReconstructionSettings } from './record.js';
import { SuiteValidationError } from './errors.js';
import type { TaskDefinition, TaskSizing } from './tasks/types.js';

/** A suite as written in benchmarks/suites/*.json (see benchmarks/README.md). */
export interface SuiteFile {
  name: string;
  description?: string;
  tasks: Array<string | ({ id: string } & Partial<TaskSizing>)>;
  methods: Array<string | { name: string; options?: Record<string, unknown> }>;
  targets: Array<{ compression: number } | { sparsity: number } | { flopsReduction: number }>;
  seeds: number[];
  /** Training budget per run: examples passed forward and backward, or epochs of the task's training split. */
  budget: number | { epochs: number };
  /** true: latency at LATENCY_DEFAULTS; an object: settings over them; false/absent: not measured. */
  latency?: boolean | Partial<LatencySettings>;
  /** Flatness settings over FLATNESS_DEFAULTS, or false to skip the measure. */
  flatness?: Partial<FlatnessSettings> | false;
  /** Post-training int8 quantization after each run's method (and of the dense row); see validateQuantize. */
  quantize?: boolean | Partial<QuantizeSettings>;
  /** true or { examples }: record each unstructured run's layer reconstruction error (RECONSTRUCTION_DEFAULTS). */
  reconstruction?: boolean | Partial<ReconstructionSettings>;
  /** Knowledge distillation from the task's dense model in every pruned run's training: { alpha, temperature }. */
  distillation?: DistillationSettings;
  backend?: string;
}

/** A validated suite in the harness's terms. */
export interface Suite {
  name: string;
  description?: string;
  tasks: Array<{ id: string; sizing: Partial<TaskSizing> }>;
  methods: Array<{ name: string; options: Record<string, unknown> }>;
  targets: PruningTarget[];
  seeds: number[];
  budget: SuiteBudget;
  /** Only the settings that differ from LATENCY_DEFAULTS ({} = the defaults); false = not measured. */
  latency: Partial<LatencySettings> | false;
  /** Only the settings that differ from FLATNESS_DEFAULTS; false = not measured. */
  flatness: Partial<FlatnessSettings> | false;
  /** Resolved quantize entry; false = no quantization (left out of run descriptions). */
  quantize: QuantizeSettings | false;
  /** Resolved reconstruction entry; false = not measured (left out of run descriptions). */
  reconstruction: ReconstructionSettings | false;
  /** Distillation settings; absent = none (left out of run descriptions, so suites without it keep their ids). */
  distillation?: DistillationSettings;
  backend?: string;
}

/** A suite's budget per pruned run: examples (forward + backward), or epochs of each task's training split. */
export type SuiteBudget = { examples: number } | { epochs: number };

export interface SuiteRegistries {
  tasks: ReadonlyMap<string, TaskDefinition>;
  methods: ReadonlyMap<string, PruningMethod<any>>;
}

export const KNOWN_BACKENDS = ['wasm', 'cpu', 'tensorflow', 'webgpu'] as const;
const SUITE_FIELDS = ['$schema', 'name', 'description', 'tasks', 'methods', 'targets', 'seeds', 'budget', 'latency', 'flatness', 'quantize', 'reconstruction', 'distillation', 'backend'];
const SIZING_FIELDS: Array<keyof TaskSizing> = ['trainPerClass', 'valSize', 'testSize', 'evalBatchSize'];

export function loadSuiteFile(path: string, registries: SuiteRegistries): Suite {
  let parsed: unknown;
  try {
    parsed = readJsonFile(path);
  } catch (error) {
    throw new SuiteValidationError([(error as Error).message]);
  }
  return validateSuite(parsed, registries, path);
}

/** Checks a parsed suite file; every problem is reported at once, each naming its field. */
export function validateSuite(input: unknown, registries: SuiteRegistries, file?: string): Suite {
  const problems: string[] = [];
  const fail = (path: string, message: string) => problems.push(`${path}: ${message}`);
  if (!isObject(input)) throw new SuiteValidationError(['suite: must be a JSON object'], file);
  for (const key of Object.keys(input)) if (!SUITE_FIELDS.includes(key)) fail(`suite.${key}`, `unknown field; allowed: ${SUITE_FIELDS.slice(1).join(', ')}`);

  const name = input.name;
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(name)) fail('suite.name', 'must be a non-empty name of letters, digits, ".", "_" or "-"');
  if (input.description !== undefined && typeof input.description !== 'string') fail('suite.description', 'must be a string');

  const knownTasks = [...registries.tasks.keys()].join(', ');
  const tasks: Suite['tasks'] = [];
  forEachOf(input.tasks, 'suite.tasks', fail, (entry, path) => {
    const spec = typeof entry === 'string' ? { id: entry } : entry;
    if (!isObject(spec)) return fail(path, 'must be a task id or an object { "id": ..., sizing fields }');
    if (typeof spec.id !== 'string') return fail(`${path}.id`, 'must be a task id string');
    if (!registries.tasks.has(spec.id)) return fail(`${path}.id`, `unknown task "${spec.id}"; known: ${knownTasks}`);
    const sizing: Partial<TaskSizing> = {};
    for (const [key, value] of Object.entries(spec)) {
      if (key === 'id') continue;
      if (!(SIZING_FIELDS as string[]).includes(key)) {
        fail(`${path}.${key}`, `unknown field; allowed: id, ${SIZING_FIELDS.join(', ')}`);
        continue;
      }
      const min = key === 'evalBatchSize' ? 1 : 0;
      if (!Number.isInteger(value) || (value as number) < min) fail(`${path}.${key}`, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
      else sizing[key as keyof TaskSizing] = value as number;
    }
    if (tasks.some((t) => t.id === spec.id)) return fail(`${path}.id`, `task "${spec.id}" is listed twice`);
    tasks.push({ id: spec.id, sizing });
  });

  const knownMethods = [...registries.methods.keys()].join(', ');
  const methods: Suite['methods'] = [];
  const seenMethods = new Map<string, string>();
  forEachOf(input.methods, 'suite.methods', fail, (entry, path) => {
    const spec = typeof entry === 'string' ? { name: entry } : entry;
    if (!isObject(spec)) return fail(path, 'must be a method name or an object { "name": ..., "options": {...} }');
    for (const key of Object.keys(spec)) if (key !== 'name' && key !== 'options') fail(`${path}.${key}`, 'unknown field; allowed: name, options');
    const methodName = spec.name;
    if (typeof methodName !== 'string') return fail(`${path}.name`, 'must be a method name string');
    const method = registries.methods.get(methodName);
    if (!method) return fail(`${path}.name`, `unknown method "${methodName}"; known: ${knownMethods}`);
    if (spec.options !== undefined && !isObject(spec.options)) return fail(`${path}.options`, 'must be an object');
    const options = (spec.options ?? {}) as Record<string, unknown>;
    try {
      method.parseOptions(options);
    } catch (error) {
      return fail(`${path}.options`, (error as Error).message);
    }
    // Entries that make the same runs would be merged silently.
    const methodKey = `${methodName} ${canonicalJson(withoutDefaults(method.parseOptions(options), method.defaults))}`;
    if (seenMethods.has(methodKey)) return fail(path, `repeats ${seenMethods.get(methodKey)} (the same method with the same options)`);
    seenMethods.set(methodKey, path);
    methods.push({ name: methodName, options });
  });

  const targets: PruningTarget[] = [];
  const seenTargets = new Map<string, string>();
  forEachOf(input.targets, 'suite.targets', fail, (entry, path) => {
    if (!isObject(entry) || Object.keys(entry).length !== 1) {
      return fail(path, 'must be exactly one of { "compression": ratio > 1 }, { "sparsity": fraction in (0, 1) }, { "flopsReduction": fraction in (0, 1) } or { "nm": "N:M" }');
    }
    const targetKey = canonicalJson(entry);
    if (seenTargets.has(targetKey)) return fail(path, `repeats ${seenTargets.get(targetKey)} (the same target)`);
    seenTargets.set(targetKey, path);
    if ('compression' in entry) {
      const ratio = entry.compression;
      if (typeof ratio !== 'number' || !(ratio > 1) || !Number.isFinite(ratio)) return fail(`${path}.compression`, `must be a number > 1, got ${JSON.stringify(ratio)}`);
      targets.push({ kind: 'compression', ratio });
    } else if ('sparsity' in entry) {
      const fraction = entry.sparsity;
      if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) return fail(`${path}.sparsity`, `must be a number in (0, 1) (the fraction of prunable weights set to zero), got ${JSON.stringify(fraction)}`);
      targets.push({ kind: 'sparsity', fraction });
    } else if ('flopsReduction' in entry) {
      const fraction = entry.flopsReduction;
      if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) return fail(`${path}.flopsReduction`, `must be a number in (0, 1), got ${JSON.stringify(fraction)}`);
      targets.push({ kind: 'flops-reduction', fraction });
    } else if ('nm' in entry) {
      try {
        targets.push({ kind: 'n-of-m', ...parseNmPattern(entry.nm, `${path}.nm`) });
      } catch (err) {
        return fail(`${path}.nm`, (err as Error).message.replace(`${path}.nm `, ''));
      }
    } else {
      fail(`${path}.${Object.keys(entry)[0]}`, 'unknown target; use "compression", "sparsity", "flopsReduction" or "nm"');
    }
  });

  const seeds: number[] = [];
  forEachOf(input.seeds, 'suite.seeds', fail, (seed, path) => {
    if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 0xffffffff) return fail(path, `must be an integer in [0, 2^32), got ${JSON.stringify(seed)}`);
    if (seeds.includes(seed as number)) return fail(path, `seed ${seed} is listed twice`);
    seeds.push(seed as number);
  });

  const budget = validateBudget(input.budget, fail);
  const latency = validateLatency(input.latency, fail);
  const flatness = validateFlatness(input.flatness, fail);
  const quantize = validateQuantize(input.quantize, fail);
  const reconstruction = validateReconstruction(input.reconstruction, fail);
  let distillation: DistillationSettings | false = false;
  if (input.distillation !== undefined) {
    try {
      distillation = checkDistillationSettings(input.distillation, 'suite.distillation');
    } catch (error) {
      const message = (error as Error).message;
      const colon = message.indexOf(': ');
      fail(message.slice(0, colon), message.slice(colon + 2));
    }
  }
  if (input.backend !== undefined && !(KNOWN_BACKENDS as readonly unknown[]).includes(input.backend)) {
    fail('suite.backend', `unknown backend ${JSON.stringify(input.backend)}; known: ${KNOWN_BACKENDS.join(', ')}`);
  }

  if (problems.length > 0) throw new SuiteValidationError(problems, file);
  return {
    name: name as string,
    ...(typeof input.description === 'string' ? { description: input.description } : {}),
    tasks, methods, targets, seeds,
    budget,
    latency,
    flatness,
    quantize,
    reconstruction,
    ...(distillation ? { distillation } : {}),
    ...(typeof input.backend === 'string' ? { backend: input.backend } : {}),
  };
}

export const RECONSTRUCTION_DEFAULTS: ReconstructionSettings = { examples: 128 };

function validateReconstruction(value: unknown, fail: (path: string, message: string) => void): ReconstructionSettings | false {
  if (value === undefined || value === false) return false;
  if (value === true) return { ...RECONSTRUCTION_DEFAULTS };
  if (!isObject(value)) {
    fail('suite.reconstruction', 'must be true, false or an object { "examples": integer in [1, 100000] }');
    return false;
  }
  for (const key of Object.keys(value)) if (key !== 'examples') fail(`suite.reconstruction.${key}`, 'unknown field; allowed: examples');
  const examples = value.examples ?? RECONSTRUCTION_DEFAULTS.examples;
  if (!Number.isInteger(examples) || (examples as number) < 1 || (examples as number) > 100_000) {
    fail('suite.reconstruction.examples', `must be an integer in [1, 100000], got ${JSON.stringify(examples)}`);
    return false;
  }
  return { examples: examples as number };
}

const FLATNESS_LIMITS: Record<keyof FlatnessSettings, { integer: boolean; min: number; max: number }> = {
  examples: { integer: true, min: 1, max: 1_000_000 },
  radius: { integer: false, min: 0, max: 10 },
  samples: { integer: true, min: 1, max: 1000 },
  gradientRadius: { integer: false, min: 0, max: 10 },
};

function validateFlatness(value: unknown, fail: (path: string, message: string) => void): Partial<FlatnessSettings> | false {
  if (value === undefined) return {};
  if (value === false) return false;
  if (!isObject(value)) {
    fail('suite.flatness', 'must be false or an object { "examples", "radius", "samples", "gradientRadius" }');
    return {};
  }
  const out: Partial<FlatnessSettings> = {};
  for (const [key, v] of Object.entries(value)) {
    const limits = FLATNESS_LIMITS[key as keyof FlatnessSettings];
    if (!limits) {
      fail(`suite.flatness.${key}`, `unknown field; allowed: ${Object.keys(FLATNESS_LIMITS).join(', ')}`);
    } else if (typeof v !== 'number' || !Number.isFinite(v) || (limits.integer && !Number.isInteger(v)) || v < limits.min || v > limits.max) {
      fail(`suite.flatness.${key}`, `must be ${limits.integer ? 'an integer' : 'a number'} in [${limits.min}, ${limits.max}], got ${JSON.stringify(v)}`);
    } else if (v !== FLATNESS_DEFAULTS[key as keyof FlatnessSettings]) {
      out[key as keyof FlatnessSettings] = v;
    }
  }
  return out;
}

/** `1024 examples` or `30 epochs`, as a suite gives it. */
export function describeBudget(budget: SuiteBudget): string {
  return 'examples' in budget ? `${budget.examples} examples` : `${budget.epochs} epochs`;
}

function validateBudget(value: unknown, fail: (path: string, message: string) => void): SuiteBudget {
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length !== 1 || keys[0] !== 'epochs') {
      fail('suite.budget', `must be a number of training examples or { "epochs": n }, got ${JSON.stringify(value)}`);
    } else if (typeof value.epochs !== 'number' || !Number.isFinite(value.epochs) || !(value.epochs > 0)) {
      fail('suite.budget.epochs', `must be a number > 0 (epochs of the task's training split), got ${JSON.stringify(value.epochs)}`);
    } else {
      return { epochs: value.epochs };
    }
    return { examples: 0 };
  }
  if (!Number.isInteger(value) || (value as number) < 0) {
    fail('suite.budget', `must be a non-negative integer number of training examples, or { "epochs": n }, got ${JSON.stringify(value)}`);
    return { examples: 0 };
  }
  return { examples: value as number };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function forEachOf(list: unknown, path: string, fail: (path: string, message: string) => void, visit: (entry: any, path: string) => void): void {
  if (!Array.isArray(list) || list.length === 0) {
    fail(path, 'must be a non-empty array');
    return;
  }
  list.forEach((entry, i) => visit(entry, `${path}[${i}]`));
}
