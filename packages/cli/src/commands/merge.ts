import { mergeStores } from '@prunebench/harness';
import { EXIT_OK, UsageError, parseFlags, requireString, type CliIO } from '../usage.js';

export const MERGE_HELP = `Usage: prunebench merge <store...> --into <dir>

Combines run stores (e.g. one per --shard) into one. Completed records win over failed ones; a record
already completed in the target is kept; interrupted runs are not copied.
`;

export async function mergeCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('merge', args, { into: { type: 'string' } });
  if (values.help) return io.out(MERGE_HELP), EXIT_OK;
  const into = requireString('merge', values, 'into');
  if (positionals.length === 0) throw new UsageError('merge: name at least one store to merge');
  const outcome = mergeStores(positionals, into);
  io.out(`merged into ${into}: ${outcome.copied.length} copied, ${outcome.kept.length} already there, ${outcome.incomplete.length} incomplete skipped\n`);
  for (const id of outcome.conflicts) io.err(`warning: ${id} completed in two stores with different metrics; kept the first\n`);
  return EXIT_OK;
}
