import { writeFileAtomic } from '@prunebench/engine';
import { sensitivityAnalysis, sensitivityCsv } from '@prunebench/pruning';
import { EXIT_OK, UsageError, parseFlags, requireString, type CliIO } from '../usage.js';
import { TASK_FLAGS, loadTaskFromFlags } from './task-loading.js';

export const SENSITIVITY_HELP = `Usage: prunebench sensitivity --task <task> --sparsities 0.5,0.9 [--layers a,b] [--val-size n] --out <file.csv>

Per-layer sensitivity (Han et al. 2015): prunes one layer at a time by magnitude at each sparsity and
measures validation quality of the starting model (no training). Writes layer,sparsity,score rows.
  --layers <names>      comma-separated parameter names (default: every prunable parameter)
  --sparsities <list>   comma-separated values in [0, 1]
  --out <file>          CSV to write
  --val-size <n>        validation examples carved from the training split (default: the task's, 5000 for CIFAR-10)
  --task, --data, --weights, --backend   as for export
`;

export async function sensitivityCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('sensitivity', args, { ...TASK_FLAGS, layers: { type: 'string' }, sparsities: { type: 'string' }, out: { type: 'string' }, 'val-size': { type: 'string' } });
  if (values.help) return io.out(SENSITIVITY_HELP), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`sensitivity: unexpected argument "${positionals[0]}"`);
  const out = requireString('sensitivity', values, 'out');
  const sparsities = requireString('sensitivity', values, 'sparsities').split(',').map((text) => {
    const value = Number(text);
    if (text.trim() === '' || !(value >= 0 && value <= 1)) throw new UsageError(`sensitivity: --sparsities: "${text}" is not a number in [0, 1]`);
    return value;
  });
  const valSizeText = values['val-size'];
  const valSize = valSizeText === undefined ? undefined : Number(valSizeText);
  if (valSize !== undefined && !(Number.isInteger(valSize) && valSize >= 1)) throw new UsageError(`sensitivity: --val-size: "${valSizeText}" is not a positive integer`);
  const { task } = await loadTaskFromFlags('sensitivity', values, io, valSize === undefined ? {} : { valSize });
  const model = await task.startingModel();
  try {
    const prunable = task.prunable(model);
    const layers = values.layers ? values.layers.split(',').map((s) => s.trim()) : prunable;
    for (const layer of layers) if (!prunable.includes(layer)) throw new UsageError(`sensitivity: --layers: "${layer}" is not a prunable parameter; known: ${prunable.join(', ')}`);
    const rows = await sensitivityAnalysis({ model, layers, sparsities, evaluate: async (m) => (await task.evaluate(m, 'val')).quality });
    writeFileAtomic(out, sensitivityCsv(rows));
  } finally {
    model.dispose();
    task.dispose();
  }
  io.out(`${out}\n`);
  return EXIT_OK;
}
