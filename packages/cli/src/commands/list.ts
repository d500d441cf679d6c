import { TASKS, type ModelSize } from '@prunebench/harness';
import { optionRows } from '@prunebench/pruning';
import { METHODS } from '../methods.js';
import { EXIT_OK, UsageError, parseFlags, type CliIO } from '../usage.js';

export const LIST_HELP = `Usage: prunebench list tasks|methods

  tasks     the task registry: dataset, model, starting point, metric, fine-tuning recipe, default sizing, and the
            model's parameters (of them prunable) and MACs per example, from its architecture
  methods   the registered pruning methods, their target kinds, and every option: default, type and meaning
`;

export async function listCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('list', args, {});
  if (values.help) return io.out(LIST_HELP), EXIT_OK;
  const what = positionals[0];
  if (positionals.length !== 1 || (what !== 'tasks' && what !== 'methods')) throw new UsageError('list: expected "tasks" or "methods"');
  if (what === 'tasks') {
    for (const task of TASKS.values()) {
      const r = task.recipe;
      io.out(`${task.id}\n  ${task.description}\n`);
      io.out(`  metric ${task.qualityName}; fine-tuning: ${r.optimizer === 'adamw' ? `AdamW betas ${(r.betas ?? [0.9, 0.999]).join('/')}` : `SGD momentum ${r.momentum}`}, lr ${r.learningRate} (${r.schedule}${r.warmupFraction ? `, ${r.warmupFraction * 100} % warm-up` : ''}), weight decay ${r.weightDecay}, batch ${r.batchSize}${r.augment ? ', crop+flip' : ''}\n`);
      io.out(`  sizing defaults ${JSON.stringify(task.defaultSizing)}\n`);
      if (task.modelSize) io.out(`  model ${describeModelSize(await task.modelSize())}\n`);
    }
  } else {
    if (METHODS.size === 0) io.out('(no methods registered)\n');
    for (const method of METHODS.values()) {
      io.out(`${method.name}${method.structured ? ' (structured)' : ''}: ${method.description}\n  targets: ${method.targetKinds.join(', ')}\n`);
      for (const row of optionRows(method.options)) io.out(`  ${row.name} = ${row.default}  (${row.type}) ${row.doc}\n`);
    }
  }
  return EXIT_OK;
}

/** `269,722 parameters (268,336 prunable), 40.55 M MACs per example`. */
export function describeModelSize(size: ModelSize): string {
  return `${size.parameters.toLocaleString('en-US')} parameters (${size.prunable.toLocaleString('en-US')} prunable), ${formatMacs(size.macs)} MACs per example`;
}

/** MACs in M (or G from 10⁹), two decimals. */
export function formatMacs(macs: number): string {
  return macs >= 1e9 ? `${(macs / 1e9).toFixed(2)} G` : `${(macs / 1e6).toFixed(2)} M`;
}
