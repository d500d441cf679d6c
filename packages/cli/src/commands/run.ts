import { initEngine, getEngineInfo, resolveBackendRequest } from '@prunebench/engine';
import {
  latencyAgainstDense,
  RunInterruptedError,
  RunStore,
  TASKS,
  collectEnvironment,
  describeBudget,
  describeTarget,
  formatQuality,
  loadSuiteFile,
  resolveShard,
  planSuite,
  runSuite,
  shardRuns,
  resolveLatency,
  type LatencyRecord,
  type LoadedTask,
  type PlannedRun,
  type Suite,
  type ResolvedShard,
} from '@prunebench/harness';
import { probeExecutionProvider } from '@prunebench/metrics';
import type { Model } from '@prunebench/models';
import { METHODS } from '../methods.js';
import { ProgressBar, formatDuration } from '../progress.js';
import { defaultCheckpointCache, defaultDataSource, defaultStoreDir, defaultWeightsDir } from '../paths.js';
import { defaultGlueDir, defaultVocabDir } from './task-loading.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILURES, UsageError, parseFlags, type CliIO } from '../usage.js';

export const RUN_HELP = `Usage: prunebench run <suite.json> [options]

Runs every (task, method, target, seed) of a suite, plus a dense row per task. Completed runs in the
store are skipped; interrupted ones resume from their last checkpoint; failed ones are retried. A
completed run is run again when its record fails validation or its starting weights changed (the
record keeps their sha256); a checkpoint that fails its checksum is set aside (*.corrupt-<time>) and
the run resumes from the last good one. Each run is locked while worked on (lock.json: pid, host,
start), so several processes on one store share the work; locks of dead processes are taken over.
Ctrl-C stops after the current training step (resume later); a second Ctrl-C kills at once.

Suites with "latency" measure each final model on every ONNX Runtime provider they list, interleaved with
the task's dense model; each provider is started once before any training, and one that cannot start is a
usage error naming it and why (prunebench doctor lists what starts here).

Options:
  --shard i/n        run only shard i of n (round-robin over the plan; merge the stores afterwards)
  --shard auto       i and n from the environment: PRUNEBENCH_SHARD_INDEX/COUNT (1-based), a Slurm job array
                     (SLURM_ARRAY_TASK_ID/MIN/MAX), a Kubernetes indexed Job (JOB_COMPLETION_INDEX with
                     PRUNEBENCH_SHARD_COUNT) or GitLab parallel jobs (CI_NODE_INDEX/CI_NODE_TOTAL)
  --dry-run          print the plan, its budget and a time estimate; run nothing
  --store <dir>      run store (default reports/runs)
  --backend <name>   tfjs backend: auto | tensorflow | webgpu | wasm | cpu (default: the suite's, else auto)
  --data <path>      CIFAR-10: a .tar.gz, the cifar-10-batches-bin folder or its parent
  --weights <dir>    folder with pretrained weights (resnet-cifar10/resnet20.safetensors, ...)
  --vocab <dir>      BERT vocabulary folder (bert-base-uncased/vocab.txt; default $PRUNEBENCH_VOCAB)
  --glue <dir>       GLUE data: a folder holding SST-2/, CoLA/, MRPC/, RTE/ (default $PRUNEBENCH_GLUE, $PRUNEBENCH_DATA/glue)
  --cache <dir>      dense-training checkpoint cache (default datasets/cache/checkpoints)
  -h, --help         this help

Environment: PRUNEBENCH_BACKEND (as --backend), PRUNEBENCH_WASM_THREADS (wasm threads, 1-8; default one per
core; results do not depend on it), PRUNEBENCH_DATA, PRUNEBENCH_WEIGHTS, PRUNEBENCH_VOCAB, PRUNEBENCH_GLUE.

Exit codes: 0 all runs completed, 1 some run failed (recorded; the suite went on), 2 usage error,
130 interrupted (run the same command again to resume).
`;

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('run', args, {
    shard: { type: 'string' }, 'dry-run': { type: 'boolean' }, store: { type: 'string' }, backend: { type: 'string' },
    data: { type: 'string' }, weights: { type: 'string' }, cache: { type: 'string' }, vocab: { type: 'string' }, glue: { type: 'string' },
  });
  if (values.help) return io.out(RUN_HELP), EXIT_OK;
  if (positionals.length !== 1) throw new UsageError('run: expected exactly one suite file (prunebench run <suite.json>)');
  let shard: ResolvedShard | undefined;
  try {
    shard = values.shard !== undefined ? resolveShard(values.shard) : undefined;
  } catch (error) {
    throw new UsageError(`run: ${(error as Error).message}`);
  }
  const suite = loadSuiteFile(positionals[0], { tasks: TASKS, methods: METHODS });
  const plan = planSuite(suite, { tasks: TASKS, methods: METHODS });
  const runs = shard ? shardRuns(plan.runs, shard) : plan.runs;
  const store = new RunStore(values.store ?? defaultStoreDir());
  const shardText = shard ? ` (shard ${shard.index}/${shard.count}${shard.source.startsWith('--shard') ? '' : ` from ${shard.source}`})` : '';

  if (values['dry-run']) {
    printPlan(io, suite, runs, store, plan.skipped, shardText);
    return EXIT_OK;
  }
  const backendRequest = resolveBackendRequest({ flag: values.backend, suite: suite.backend });
  await checkLatencyProviders(suite, io);
  const engine = await initEngine({ backend: backendRequest.request });
  const info = getEngineInfo();
  const environment = collectEnvironment({
    backend: info.backend, device: info.device,
    versions: { tfjs: info.versions.tfjs, backendPackage: info.versions.backendPackage, node: info.versions.node },
    ...(info.threads !== undefined ? { threads: info.threads } : {}),
    ...(info.adapter ? { adapter: info.adapter } : {}),
  });
  const threadsText = info.threads !== undefined ? `, ${info.threads} thread${info.threads === 1 ? '' : 's'}` : '';
  io.err(`prunebench: suite ${suite.name}${shardText}: ${runs.length} runs on ${engine.backend} (${engine.device}${threadsText}); store ${store.root}\n`);

  const abort = new AbortController();
  const killNow = () => process.exit(EXIT_INTERRUPTED);
  const onSignal = () => {
    io.err('\nprunebench: stopping after the current training step (Ctrl-C again to kill at once)\n');
    abort.abort();
    process.off('SIGINT', onSignal);
    // With no listener left the next Ctrl-C kills at the default action even while compute blocks the event loop.
    if (process.listenerCount('SIGINT') > 0) process.once('SIGINT', killNow);
  };
  process.on('SIGINT', onSignal);
  let bar: ProgressBar | null = null;
  try {
    const outcome = await runSuite({
      runs, store, environment, signal: abort.signal,
      taskEnvironment: {
        dataDir: values.data ?? defaultDataSource(),
        weightsDir: values.weights ?? defaultWeightsDir(),
        vocabDir: values.vocab ?? defaultVocabDir(),
        glueDir: values.glue ?? defaultGlueDir(),
        cacheDir: values.cache ?? defaultCheckpointCache(),
        log: (message) => io.err(`  ${message}\n`),
      },
      measureLatency: suite.latency ? latencyOf : undefined,
      log: (message) => {
        bar?.done();
        io.err(`  ${message}\n`);
      },
      progress: {
        runSkipped: (run, i, n) => io.err(`[${i + 1}/${n}] ${label(run)}: already completed, skipped\n`),
        runStarted: (run, i, n, resumed) => {
          io.err(`[${i + 1}/${n}] ${label(run)} (${run.id})${resumed ? ' resuming' : ''}\n`);
          bar = run.description.budgetExamples > 0 ? new ProgressBar(io.err, io.isTTY, run.id, run.description.budgetExamples) : null;
        },
        runProgress: (_run, used) => bar?.update(used),
        runFinished: (_run, record) => {
          bar?.done();
          bar = null;
          const m = record.metrics;
          io.err(record.status === 'completed'
            ? `  done in ${formatDuration(record.wallTimeSeconds)}: ${formatQuality(m.qualityName, m.quality)}, compression ${m.compressionRatio.toFixed(2)}x, speedup ${m.theoreticalSpeedup.toFixed(2)}x, budget ${record.budget.usedExamples}/${record.budget.totalExamples}\n`
            : `  FAILED: ${record.error}\n`);
        },
      },
    });
    io.out(`suite ${suite.name}${shardText}: ${outcome.completed.length} completed, ${outcome.skipped.length} already done, ${outcome.failed.length} failed; store ${store.root}\n`);
    for (const failed of outcome.failed) io.out(`  failed ${failed.id} (${failed.description.task} ${failed.description.method} ${describeTarget(failed.description.target)}): ${failed.error}\n`);
    if (abort.signal.aborted) return io.err('prunebench: interrupted\n'), EXIT_INTERRUPTED;
    return outcome.failed.length > 0 ? EXIT_RUN_FAILURES : EXIT_OK;
  } catch (error) {
    if (error instanceof RunInterruptedError) {
      (bar as ProgressBar | null)?.done();
      io.err(`prunebench: ${error.message}\n`);
      return EXIT_INTERRUPTED;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGINT', killNow);
  }
}

/**
 * Latency of the exported final model on each provider of the run's settings, interleaved with the task's dense
 * model in the same process: at the task's inputs (BERT: token inputs at its sequence length), else a CIFAR image.
 */
async function latencyOf(model: Model, run: PlannedRun, task: LoadedTask): Promise<LatencyRecord[]> {
  const settings = resolveLatency(run.description.latency);
  if (!settings) throw new Error('latency: the run does not measure latency');
  const dense = await task.startingModel();
  try {
    return await latencyAgainstDense(model, dense, run.task.latencyInputs, settings);
  } finally {
    dense.dispose();
  }
}

/** Every latency provider of the suite must start here, before any training: else a usage error saying why. */
async function checkLatencyProviders(suite: Suite, io: CliIO): Promise<void> {
  const settings = resolveLatency(suite.latency);
  if (!settings) return;
  const problems: string[] = [];
  const started: string[] = [];
  for (const [i, provider] of settings.providers.entries()) {
    const probe = await probeExecutionProvider(provider);
    if (probe.ok) started.push(`${provider} on ${probe.device}`);
    else problems.push(`suite.latency.providers[${i}]: ONNX Runtime provider "${provider}" cannot start here: ${probe.reason}`);
  }
  if (problems.length > 0) throw new UsageError(`run: ${problems.join('\n')}\n(prunebench doctor lists what starts on this machine)`);
  io.err(`prunebench: latency on ${started.join('; ')}\n`);
}

function label(run: PlannedRun): string {
  const d = run.description;
  const options = Object.keys(d.options).length ? ` ${JSON.stringify(d.options)}` : '';
  return `${d.task} ${d.method}${options}${d.target ? ` ${describeTarget(d.target)}` : ''} seed ${d.seed}`;
}

function printPlan(io: CliIO, suite: Suite, runs: PlannedRun[], store: RunStore, skipped: string[], shardText: string): void {
  io.out(`suite ${suite.name}${shardText}: ${runs.length} runs, budget ${describeBudget(suite.budget)} per pruned run\n`);
  let pending = 0;
  let pendingBudget = 0;
  let seconds = 0;
  let estimated = true;
  for (const run of runs) {
    let state: string;
    try {
      state = store.state(run.id);
    } catch {
      state = 'corrupt';
    }
    if (state === 'interrupted' && store.hasCheckpoints(run.id)) state = 'resume';
    const todo = state !== 'completed';
    io.out(`  ${run.id}  ${state.padEnd(11)} ${label(run)}  budget ${run.description.budgetExamples}\n`);
    if (!todo) continue;
    pending++;
    pendingBudget += run.description.budgetExamples;
    const hint = run.task.throughputHint;
    if (!hint) estimated = false;
    else {
      const evalExamples = run.sizing.testSize || 10_000; // 0 = the whole CIFAR-10 test split
      seconds += run.description.budgetExamples / hint.trainPerSecond + evalExamples / hint.evalPerSecond;
    }
  }
  for (const note of skipped) io.out(`  not run: ${note}\n`);
  io.out(`to do: ${pending} runs, ${pendingBudget} training examples in all`);
  io.out(estimated && pending > 0 ? `, about ${formatDuration(seconds)} on ${runs[0].task.throughputHint!.backend} (2 CPU cores; excludes method-specific evaluation)\n` : '\n');
}
