import { BackendRequestError } from '@prunebench/engine';
import { SuiteValidationError } from '@prunebench/harness';
import { dataCommand } from './commands/data.js';
import { evalCommand } from './commands/eval.js';
import { doctorCommand } from './commands/doctor.js';
import { exportCommand } from './commands/export.js';
import { listCommand } from './commands/list.js';
import { mergeCommand } from './commands/merge.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { sensitivityCommand } from './commands/sensitivity.js';
import { EXIT_OK, EXIT_RUN_FAILURES, EXIT_USAGE, UsageError, processIO, type CliIO } from './usage.js';

export const MAIN_HELP = `prunebench: a standardized benchmark for neural-network pruning

Usage: prunebench <command> [options]      (prunebench <command> --help for each)

Commands:
  run <suite.json>        run a suite (--shard i/n, --dry-run, --store, --backend, --data, --weights)
  list tasks|methods      the registered tasks and pruning methods
  report                  leaderboards, charts and HTML from a run store
  merge <store...>        combine run stores (--into dir), e.g. after sharded runs
  data fetch cifar10      find, verify and cache a dataset
  export                  a model to ONNX (--task, --run, --out)
  eval                    metric, parameters, MACs (and --latency) of a task's model, a run's, or a checkpoint
  sensitivity             per-layer pruning sensitivity to CSV
  doctor                  which tfjs backends and ONNX Runtime providers start here, on what device, and why not

Main command: prunebench run benchmarks/suites/smoke.json
`;

const COMMANDS: Record<string, (args: string[], io: CliIO) => Promise<number>> = {
  run: runCommand,
  list: listCommand,
  report: reportCommand,
  merge: mergeCommand,
  data: dataCommand,
  export: exportCommand,
  eval: evalCommand,
  sensitivity: sensitivityCommand,
  doctor: doctorCommand,
};

/** The whole CLI as a function: argv (without node and script) in, exit code out. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(MAIN_HELP);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const handler = COMMANDS[command];
  if (!handler) {
    io.err(`prunebench: unknown command "${command}"; commands: ${Object.keys(COMMANDS).join(', ')} (prunebench --help)\n`);
    return EXIT_USAGE;
  }
  try {
    return await handler(rest, io);
  } catch (error) {
    if (error instanceof UsageError || error instanceof SuiteValidationError || error instanceof BackendRequestError) {
      io.err(`prunebench ${error.message}\n(prunebench ${command} --help)\n`);
      return EXIT_USAGE;
    }
    io.err(`prunebench ${command}: ${(error as Error).message}\n`);
    return EXIT_RUN_FAILURES;
  }
}
