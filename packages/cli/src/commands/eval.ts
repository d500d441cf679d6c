import { existsSync } from 'node:fs';
import {
  LATENCY_DEFAULTS,
  describeTarget,
  formatQuality,
  latencyAgainstDense,
  denseReference,
  measureModel,
  type LatencyRecord,
  type LoadedTask,
  type ModelMetrics,
  type TaskDefinition,
  type TaskSizing,
} from '@prunebench/harness';
import { loadModelFromSafetensors, loadStateDict, readSafetensorsFile, safetensorsToFloat32, type Model } from '@prunebench/models';
import { EXIT_OK, UsageError, parseFlags, type CliIO } from '../usage.js';
import { formatMacs } from './list.js';
import { TASK_FLAGS, completedRunWeights, loadTaskFromFlags } from './task-loading.js';

export const EVAL_HELP = `Usage: prunebench eval --task <task> [--run <id> | --checkpoint <file.safetensors>] [options]

Measures one model of a task without writing a suite: the task's metric on its test split (top-1 for CIFAR-10;
MCC, F1 or accuracy for GLUE), parameters (total, prunable, nonzero), sparsity and compression against the
task's starting model, MACs and the theoretical speed-up, and with --latency ONNX Runtime latency timed
interleaved with the starting model. The model is
  (default)              the task's dense starting model
  --run <id>             the final model of a completed run in the store (its task and test subset are the run's)
  --checkpoint <file>    a .safetensors file: one prunebench wrote (its arch is in the file), or a state dict
                         with the starting model's shapes
Options:
  --task <id>            task id (prunebench list tasks); with --run, defaults to the run's task
  --store <dir>          run store for --run (default reports/runs)
  --split test|val       evaluate on the test split (default) or the validation split carved from train
  --test-size <n>        evaluate on a fixed subset of n test examples (0 = all); default: the task's, or the run's
  --latency              also time the model with ONNX Runtime (cpu, 2 threads, 10 rounds against the dense model)
  --json                 print one JSON object instead of text
  --data, --weights, --vocab, --glue, --cache, --backend   as for run
`;

const EVAL_FLAGS = {
  ...TASK_FLAGS,
  run: { type: 'string' }, store: { type: 'string' }, checkpoint: { type: 'string' }, split: { type: 'string' },
  'test-size': { type: 'string' }, latency: { type: 'boolean' }, json: { type: 'boolean' },
} as const;

/** What `prunebench eval` reports (the JSON form of --json). */
export interface EvalReport {
  task: string;
  model: string;
  split: 'test' | 'val';
  metrics: ModelMetrics;
  latency?: LatencyRecord;
}

export async function evalCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('eval', args, EVAL_FLAGS);
  if (values.help) return io.out(EVAL_HELP), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`eval: unexpected argument "${positionals[0]}"`);
  if (values.run !== undefined && values.checkpoint !== undefined) throw new UsageError('eval: give --run or --checkpoint, not both');
  const split = values.split ?? 'test';
  if (split !== 'test' && split !== 'val') throw new UsageError(`eval: --split must be "test" or "val", got "${split}"`);
  const sizing: Partial<TaskSizing> = {};
  let source = 'the starting model';
  let weightsFile: string | null = null;

  if (values.run !== undefined) {
    const run = completedRunWeights('eval', values.run, values.store, values.task);
    const d = run.record.description;
    values.task = d.task;
    Object.assign(sizing, d.taskOptions ?? {});
    weightsFile = run.weightsFile;
    source = `the final model of run ${values.run} (${d.method} ${describeTarget(d.target ?? null)} seed ${d.seed})`;
  } else if (values.checkpoint !== undefined) {
    if (!existsSync(values.checkpoint)) throw new UsageError(`eval: --checkpoint ${values.checkpoint}: no such file`);
    weightsFile = values.checkpoint;
    source = `checkpoint ${values.checkpoint}`;
  }
  if (values['test-size'] !== undefined) {
    const n = Number(values['test-size']);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`eval: --test-size must be an integer >= 0, got "${values['test-size']}"`);
    sizing.testSize = n;
  }

  const { definition, task } = await loadTaskFromFlags('eval', values, io, sizing);
  const models: Model[] = [];
  try {
    const starting = await task.startingModel();
    models.push(starting);
    const dense = await denseReference(task, starting);
    const model = weightsFile ? await loadEvalModel(weightsFile, task) : starting;
    if (model !== starting) models.push(model);
    const { metrics } = await measureModel(task, model, dense, { split });
    const report: EvalReport = { task: values.task as string, model: source, split, metrics };
    if (values.latency) report.latency = await latencyAgainstStart(model, starting, definition.latencyInputs);
    io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatEvalReport(report));
  } finally {
    for (const m of models) m.dispose();
    task.dispose();
  }
  return EXIT_OK;
}

/** A model from a .safetensors file: its own arch when prunebench wrote it, else the starting model's shapes. */
async function loadEvalModel(path: string, task: LoadedTask): Promise<Model> {
  const file = await readSafetensorsFile(path);
  if (file.metadata.arch) return loadModelFromSafetensors(path);
  const model = await task.startingModel();
  try {
    loadStateDict(model, safetensorsToFloat32(file), { strict: true });
  } catch (error) {
    model.dispose();
    throw new Error(`eval: --checkpoint ${path} has no arch metadata and does not fit the task's model: ${(error as Error).message}`);
  }
  return model;
}

/** Batch-1 latency of `model`, interleaved with the starting model, at the suites' default settings. */
async function latencyAgainstStart(model: Model, starting: Model, latencyInputs: TaskDefinition['latencyInputs']): Promise<LatencyRecord> {
  return (await latencyAgainstDense(model, starting, latencyInputs, LATENCY_DEFAULTS))[0]!;
}

export function formatEvalReport(report: EvalReport): string {
  const m = report.metrics;
  const score = (name: string, value: number | undefined) =>
    value === undefined ? null : formatQuality(name, value, 4);
  const scores = [score(m.qualityName, m.quality), ...(['top1', 'top5', 'accuracy', 'mcc', 'f1'] as const)
    .filter((k) => k !== m.qualityName).map((k) => score(k, m[k]))].filter((s) => s !== null);
  const count = (n: number) => n.toLocaleString('en-US');
  const lines = [
    `${report.task}: ${report.model}`,
    `  quality      ${scores.join(', ')} (${report.split} split)`,
    `  parameters   ${count(m.params.total)} total, ${count(m.params.prunable)} prunable, ${count(m.params.nonzero)} nonzero (${count(m.params.nonzeroPrunable!)} of them prunable)`,
    `  sparsity     ${(m.sparsity! * 100).toFixed(2)} % of the starting model's prunable weights; compression ${m.compressionRatio.toFixed(3)}x`,
    `  MACs         ${formatMacs(m.macs.dense)} dense, ${formatMacs(m.macs.effective)} effective; theoretical speed-up ${m.theoreticalSpeedup.toFixed(3)}x`,
  ];
  const l = report.latency;
  if (l) {
    const interval = l.batch1Ms.p50Low !== undefined ? ` [${l.batch1Ms.p50Low.toFixed(3)}, ${l.batch1Ms.p50High!.toFixed(3)}]` : '';
    const speedup = l.speedupVsDense
      ? `; ${l.speedupVsDense.batch1.p50.toFixed(3)}x the starting model [${l.speedupVsDense.batch1.low.toFixed(3)}, ${l.speedupVsDense.batch1.high.toFixed(3)}]${l.speedupVsDense.batch1.withinNoise ? ' (within noise)' : ''}`
      : '';
    lines.push(`  latency      ${l.provider} (${l.device}${l.softwareDevice ? ', software' : ''}): batch 1 p50 ${l.batch1Ms.p50.toFixed(3)} ms${interval}${speedup}`);
  }
  return `${lines.join('\n')}\n`;
}
