import type { DistillationSettings, PruningMethod, PruningTarget } from '@prunebench/pruning';
import { hashId, withoutDefaults } from './canonical.js';
import { DENSE_METHOD, describeTarget } from './labels.js';
import type { FlatnessSettings, LatencySettings, QuantizeSettings, ReconstructionSettings, RunDescription } from './record.js';
import type { Suite, SuiteBudget, SuiteRegistries } from './suite.js';
import type { TaskDefinition, TaskSizing } from './tasks/types.js';

/** The name of the unpruned baseline row each task gets. */

export interface PlannedRun {
  id: string;
  description: RunDescription;
  task: TaskDefinition;
  /** The task's defaults with the suite's sizing applied. */
  sizing: TaskSizing;
  /** null for the dense row. */
  method: PruningMethod<any> | null;
  /** Options as the method will see them (defaults merged in). */
  parsedOptions: Record<string, unknown>;
}

export interface SuitePlan {
  suite: string;
  runs: PlannedRun[];
  /** Combinations left out, with the reason (e.g. a FLOP target for an unstructured-only method). */
  skipped: string[];
}

/**
 * The experiment id: the first 12 hex chars of sha256 over the canonical description. The suite name is
 * a label and is left out, so the same run listed in two suites is run once; options and task sizing
 * at their defaults are already absent from the description, so adding an option keeps old ids.
 */
export function experimentId(description: RunDescription): string {
  const { suite: _suite, ...identity } = description;
  return hashId(identity);
}

/** Builds a run description with defaults stripped from method options and task sizing. */
export function describeRun(args: {
  suite: string;
  task: TaskDefinition;
  sizing: Partial<TaskSizing>;
  method: PruningMethod<any> | null;
  options: Record<string, unknown>;
  target: PruningTarget | null;
  seed: number;
  budgetExamples: number;
  /** The epochs the budget was given in, if it was (budgetExamples is then their example count). */
  budgetEpochs?: number;
  /** false: not measured; true or {}: LATENCY_DEFAULTS; else the settings that differ from them. */
  latency: boolean | Partial<LatencySettings>;
  /** Settings that differ from FLATNESS_DEFAULTS, or false; absent/empty = the defaults (left out of the id). */
  flatness?: Partial<FlatnessSettings> | false;
  /** Post-training int8 quantization after the method; absent/false: none (and absent from the description). */
  quantize?: QuantizeSettings | false;
  /** Layer reconstruction error of the pruned run; absent/false: not measured (and absent from the description). */
  reconstruction?: ReconstructionSettings | false;
  /** Distillation in the pruned run's training; absent/false: none (and absent from the description). */
  distillation?: DistillationSettings | false;
}): RunDescription {
  const taskOptions = withoutDefaults(args.sizing, args.task.defaultSizing as unknown as Record<string, unknown>);
  const options = args.method ? withoutDefaults(args.method.parseOptions(args.options), args.method.defaults) : {};
  return {
    suite: args.suite,
    task: args.task.id,
    method: args.method ? args.method.name : DENSE_METHOD,
    options,
    target: args.target,
    seed: args.seed,
    budgetExamples: args.budgetExamples,
    ...(args.budgetEpochs !== undefined ? { budgetEpochs: args.budgetEpochs } : {}),
    ...(Object.keys(taskOptions).length > 0 ? { taskOptions } : {}),
    ...(args.latency === false ? {} : { latency: args.latency === true || Object.keys(args.latency).length === 0 ? true as const : args.latency }),
    ...(args.flatness === false || (args.flatness && Object.keys(args.flatness).length > 0) ? { flatness: args.flatness } : {}),
    ...(args.quantize ? { quantize: args.quantize } : {}),
    ...(args.reconstruction && args.method ? { reconstruction: args.reconstruction } : {}),
    ...(args.distillation && args.method ? { distillation: args.distillation } : {}),
  };
}

/** Expands a suite into runs: per task a dense row, then seeds × methods × targets, in a stable order. */
export function planSuite(suite: Suite, registries: SuiteRegistries): SuitePlan {
  const runs: PlannedRun[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  const add = (run: PlannedRun) => {
    if (seen.has(run.id)) return; // a suite listing the same method twice with equivalent options
    seen.add(run.id);
    runs.push(run);
  };
  for (const taskEntry of suite.tasks) {
    const task = registries.tasks.get(taskEntry.id);
    if (!task) throw new Error(`suite.tasks: unknown task "${taskEntry.id}"`);
    const sizing: TaskSizing = { ...task.defaultSizing, ...taskEntry.sizing };
    const common = { suite: suite.name, task, sizing: taskEntry.sizing, latency: suite.latency, flatness: suite.flatness, quantize: suite.quantize, reconstruction: suite.reconstruction, distillation: suite.distillation };
    const budget = budgetForTask(suite.budget, task, sizing);
    const dense = describeRun({ ...common, method: null, options: {}, target: null, seed: 0, budgetExamples: 0 });
    add({ id: experimentId(dense), description: dense, task, sizing, method: null, parsedOptions: {} });
    for (const seed of suite.seeds) {
      for (const methodEntry of suite.methods) {
        const method = registries.methods.get(methodEntry.name);
        if (!method) throw new Error(`suite.methods: unknown method "${methodEntry.name}"`);
        for (const target of suite.targets) {
          if (!method.targetKinds.includes(target.kind)) {
            skipped.push(`${task.id} × ${method.name} × ${describeTarget(target)}: ${method.name} accepts only ${method.targetKinds.join(', ')} targets`);
            continue;
          }
          const description = describeRun({ ...common, method, options: methodEntry.options, target, seed, ...budget });
          add({ id: experimentId(description), description, task, sizing, method, parsedOptions: method.parseOptions(methodEntry.options) });
        }
      }
    }
  }
  return { suite: suite.name, runs, skipped: [...new Set(skipped)] };
}

/** A suite budget in a task's terms: examples, or epochs of its training split counted in examples (rounded). */
export function budgetForTask(budget: SuiteBudget, task: TaskDefinition, sizing: TaskSizing): { budgetExamples: number; budgetEpochs?: number } {
  if ('examples' in budget) return { budgetExamples: budget.examples };
  if (!task.trainExamples) throw new Error(`suite.budget.epochs: task ${task.id} cannot count an epoch before loading its data; give the budget in examples`);
  return { budgetExamples: Math.round(budget.epochs * task.trainExamples(sizing)), budgetEpochs: budget.epochs };
}

/** Parses `--shard i/n` (1-based): 1 <= i <= n. */
export function parseShard(text: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) throw new Error(`--shard must look like i/n (for example 1/4), got "${text}"`);
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || index < 1 || index > count) throw new Error(`--shard ${text}: need 1 <= i <= n`);
  return { index, count };
}

/**
 * The runs of shard i of n: runs are dealt round-robin in plan order, so every run lands in exactly one
 * shard and expensive tasks spread over all shards. Shards are stable as long as the suite is unchanged.
 */
export function shardRuns<T>(runs: readonly T[], shard: { index: number; count: number }): T[] {
  return runs.filter((_, i) => i % shard.count === shard.index - 1);
}
