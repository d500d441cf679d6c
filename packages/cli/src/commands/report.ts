import { generateReport } from '@prunebench/report';
import { defaultReportDir, defaultStoreDir } from '../paths.js';
import { EXIT_OK, UsageError, parseFlags, type CliIO } from '../usage.js';

export const REPORT_HELP = `Usage: prunebench report [--store dir] [--out dir] [--allow-empty]

Writes runs.csv, leaderboards, charts and index.html from a run store. The report is built in a
temporary folder and renamed into place as a whole: the output folder is replaced, never mixed, so it
must be new, empty or an earlier report (index.html or runs.csv in it), and must not hold the store.
  --store <dir>   run store (default reports/runs)
  --out <dir>     output folder (default reports/latest)
  --allow-empty   write a report even when the store holds no usable record (otherwise: exit 1)
`;

export async function reportCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('report', args, { store: { type: 'string' }, out: { type: 'string' }, 'allow-empty': { type: 'boolean' } });
  if (values.help) return io.out(REPORT_HELP), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`report: unexpected argument "${positionals[0]}"`);
  const result = await generateReport(values.store ?? defaultStoreDir(), values.out ?? defaultReportDir(), {
    onProblem: (p) => io.err(`prunebench report: skipped ${p.file}: ${p.message}\n`),
    allowEmpty: values['allow-empty'] === true,
  });
  for (const file of result.files) io.out(`${file}\n`);
  return EXIT_OK;
}
