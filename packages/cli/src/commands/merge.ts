import { MERGE_PREFERENCES, mergeStores, type MergePreference } from '@prunebench/harness';
import { EXIT_OK, UsageError, parseFlags, requireString, type CliIO } from '../usage.js';

export const MERGE_HELP = `Usage: prunebench merge <store...> --into <dir> [--prefer first|last|newest]

Combines run stores (e.g. one per --shard) into one. Completed records win over failed ones; interrupted
runs and records that fail validation are not copied. When stores (the target first, then the stores in
the order given) hold completed records of one run with different metrics, that is a conflict: without
--prefer nothing is merged and the command exits 1 listing them; with it the record kept is
  first    the target's, else the earliest store's in argument order
  last     the latest store's in argument order
  newest   the one that finished last
and the kept record.json says so in its "merge" field.
`;

export async function mergeCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('merge', args, { into: { type: 'string' }, prefer: { type: 'string' } });
  if (values.help) return io.out(MERGE_HELP), EXIT_OK;
  const into = requireString('merge', values, 'into');
  if (positionals.length === 0) throw new UsageError('merge: name at least one store to merge');
  if (values.prefer !== undefined && !MERGE_PREFERENCES.includes(values.prefer as MergePreference)) {
    throw new UsageError(`merge: --prefer must be one of ${MERGE_PREFERENCES.join(', ')}, got "${values.prefer}"`);
  }
  const prefer = values.prefer as MergePreference | undefined;
  const outcome = mergeStores(positionals, into, prefer ? { prefer } : {});
  io.out(`merged into ${into}: ${outcome.copied.length} copied, ${outcome.kept.length} already there, ${outcome.incomplete.length} incomplete skipped, ${outcome.invalid.length} invalid skipped\n`);
  for (const id of outcome.conflicts) io.err(`prunebench merge: ${id} completed with different metrics in several stores; kept the ${prefer} (recorded in its record.json)\n`);
  for (const line of outcome.invalid) io.err(`prunebench merge: skipped ${line}\n`);
  return EXIT_OK;
}
