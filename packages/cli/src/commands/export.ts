import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@prunebench/engine';
import { exportOnnx, loadModelFromSafetensors, type Model } from '@prunebench/models';
import { EXIT_OK, UsageError, parseFlags, requireString, type CliIO } from '../usage.js';
import { TASK_FLAGS, completedRunWeights, loadTaskFromFlags } from './task-loading.js';

export const EXPORT_HELP = `Usage: prunebench export --task <task> [--run <id>] [--store dir] --out <file.onnx>

Exports a model to ONNX (NCHW float32 input, normalised; logits out): the task's dense starting model,
or with --run the final model of a completed run in the store (masked weights, or the smaller model
that structured pruning left, rebuilt from the arch saved with it).
  --task <id>      task id (prunebench list tasks)
  --run <id>       experiment id of a completed run
  --store <dir>    run store (default reports/runs)
  --out <file>     where to write the .onnx file
  --data, --weights, --backend   as for run
`;

export async function exportCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('export', args, { ...TASK_FLAGS, run: { type: 'string' }, store: { type: 'string' }, out: { type: 'string' } });
  if (values.help) return io.out(EXPORT_HELP), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`export: unexpected argument "${positionals[0]}"`);
  const out = requireString('export', values, 'out');
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`export: --out ${out} is a folder; name the .onnx file to write (for example ${join(out, 'model.onnx')})`);
  let weightsFile: string | null = null;
  if (values.run !== undefined) {
    const run = completedRunWeights('export', values.run, values.store, values.task);
    values.task = run.record.description.task;
    weightsFile = run.weightsFile;
  }
  const { task } = await loadTaskFromFlags('export', values, io);
  let model: Model | undefined;
  try {
    model = weightsFile ? await loadModelFromSafetensors(weightsFile) : await task.startingModel();
    writeFileAtomic(out, await exportOnnx(model));
  } finally {
    model?.dispose();
    task.dispose();
  }
  io.out(`${out}\n`);
  return EXIT_OK;
}
