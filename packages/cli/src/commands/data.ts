import { resolveCifar10 } from '@prunebench/data';
import { defaultDataSource } from '../paths.js';
import { ProgressBar } from '../progress.js';
import { EXIT_OK, UsageError, parseFlags, type CliIO } from '../usage.js';

export const DATA_HELP = `Usage: prunebench data fetch cifar10 [--source path]

Finds, verifies and caches a dataset (datasets/cache). Without --source: $PRUNEBENCH_CIFAR10,
$PRUNEBENCH_DATA, the cache, then a download of the official archive (md5-checked).
  --source <path>   a local cifar-10-binary.tar.gz, or the extracted folder
`;

export async function dataCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('data', args, { source: { type: 'string' } });
  if (values.help) return io.out(DATA_HELP), EXIT_OK;
  if (positionals[0] !== 'fetch' || positionals.length !== 2) throw new UsageError('data: expected "data fetch <dataset>"');
  if (positionals[1] !== 'cifar10') throw new UsageError(`data fetch: unknown dataset "${positionals[1]}"; known: cifar10`);
  const bars = new Map<string, ProgressBar>();
  const dir = await resolveCifar10({
    source: values.source ?? defaultDataSource(),
    onProgress: (done, total, phase) => {
      let bar = bars.get(phase);
      if (!bar) bars.set(phase, (bar = new ProgressBar(io.err, io.isTTY, phase, total, 'bytes')));
      bar.update(done);
    },
  });
  for (const bar of bars.values()) bar.done();
  io.out(`${dir}\n`);
  return EXIT_OK;
}
