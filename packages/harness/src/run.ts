import { BackendComputeError, SeededRng, takeBackendErrors } from '@prunebench/engine';
import { join } from 'node:path';
import { FINAL_MODEL_FILE } from './run-files.js';
import { saveSafetensors, type Model } from '@prunebench/models';
import {
  applyMasks,
  calibrationBatches,
  checkNmPattern,
  disposeBatches,
  disposeMasks,
  disposeSnapshot,
  reconstructionErrors,
  reportedLayers,
  takeSnapshot,
  type Masks,
} from '@prunebench/pruning';
import { measureRunFlatness, resolveFlatness } from './flatness.js';
import { resolveLatency } from './latency.js';
import { measureQuantized } from './quantize.js';
import { denseReference, measureModel } from './model-metrics.js';
import { CheckpointMismatchError, NonFiniteMetricError, NonFiniteWeightsError, RunInterruptedError, TargetNotMetError } from './errors.js';
import type { PlannedRun } from './plan.js';
import type { EnvironmentRecord, LatencyRecord, RunDescription, RunMetrics, RunRecord } from './record.js';
import { metricsDefect } from './record-validation.js';
import type { RunStore } from './store.js';
import type { LoadedTask } from './tasks/types.js';
import { PhaseClock, timedTrainer } from './phases.js';
import { HarnessTrainer } from './trainer.js';
import { inspectWeights } from './weights-fingerprint.js';

/** Relative slack when checking targets: counts are rounded to whole weights. */
export const TARGET_TOLERANCE = 0.005;
/** Upper bound of examples per log row / mid-call checkpoint (about 2 minutes of ResNet-20 training on 2 cores). */
export const MAX_CHUNK_EXAMPLES = 5000;
/** The final weights of a completed run, in its store folder (PyTorch layout, arch in the metadata). */

export interface RunContext {
  store: RunStore;
  /** The loaded task for a run (the suite runner caches one per task and sizing). */
  loadTask(run: PlannedRun): Promise<LoadedTask>;
  environment: EnvironmentRecord;
  /**
   * Measures inference latency of the final model (suites with `latency`), one figure per provider of the run's
   * settings, against the task's dense model (`task.startingModel()`).
   */
  measureLatency?: (model: Model, run: PlannedRun, task: LoadedTask) => Promise<LatencyRecord[]>;
  /** Examples per log row and checkpoint; default: one epoch of the training subset, at most MAX_CHUNK_EXAMPLES. */
  chunkExamples?: number;
  /** Aborting stops the run between training steps without recording it (it resumes next time). */
  signal?: AbortSignal;
  log(message: string): void;
  onProgress?(usedExamples: number, totalExamples: number): void;
}

/**
 * Runs one planned experiment and stores its record: starting point → method (with a budgeted trainer,
 * checkpointed for resume) → final weights on the test split (never a best epoch) → parameters,
 * compression, MACs, per-layer density, flatness, optional latency. The record keeps the hash of the starting weights.
 * Non-finite starting or final weights, losses or metrics fail the run. Never throws for a failure of the run itself:
 * it returns (and stores) a record with status `failed` and the error; only an interruption (the
 * context's signal) propagates, leaving the run resumable.
 */
export async function executeRun(run: PlannedRun, ctx: RunContext): Promise<RunRecord> {
  const { id, description } = run;
  const startedAt = new Date().toISOString();
  const started = Date.now();
  ctx.store.writeDescription(id, description);
  let resumed = ctx.store.hasCheckpoints(id);
  const models: Model[] = [];
  let masks: Masks | undefined;
  let trainer: HarnessTrainer | null = null;
  let startingPoint: RunRecord['startingPoint'];
  const clock = new PhaseClock();
  const finish = (partial: Pick<RunRecord, 'status' | 'metrics'> & Partial<RunRecord>): RunRecord => {
    const record: RunRecord = {
      id,
      description,
      layerDensity: {},
      ...partial,
      budget: {
        totalExamples: description.budgetExamples,
        usedExamples: trainer?.usedExamples() ?? 0,
        ...(description.distillation ? { teacherForwardExamples: trainer?.teacherForwardExamples() ?? 0 } : {}),
      },
      wallTimeSeconds: (Date.now() - started) / 1000,
      ...(trainer ? { training: trainer.trainingWork() } : {}),
      phaseSeconds: clock.totals(),
      environment: ctx.environment,
      startedAt,
      finishedAt: new Date().toISOString(),
      ...(resumed ? { resumed: true } : {}),
      ...(startingPoint ? { startingPoint } : {}),
    };
    ctx.store.writeRecord(record);
    return record;
  };

  try {
    takeBackendErrors();
    const { task, model, dense, startingWeights } = await clock.time('load', async () => {
      const task = await ctx.loadTask(run);
      checkEpochBudget(description, task);
      const model = await task.startingModel();
      models.push(model);
      const start = await inspectWeights(model);
      startingPoint = { sha256: start.sha256 };
      if (start.nonFinite.length > 0) throw new NonFiniteWeightsError('starting', start.nonFinite);
      if (run.method && ctx.store.bindCheckpoints(id, start.sha256)) {
        ctx.log('its checkpoints were made from other starting weights; removed, the run starts afresh');
        resumed = false;
      }
      const dense = await denseReference(task, model);
      // The starting weights, kept only to measure how well the pruned layers reconstruct them.
      const startingWeights = description.reconstruction && run.method && !run.method.structured ? takeSnapshot(model) : null;
      return { task, model, dense, startingWeights };
    });
    let finalModel = model;
    let details: Record<string, unknown> | undefined;

    if (run.method) await clock.time('method', async () => {
      const method = run.method!;
      const seedRng = new SeededRng(description.seed);
      // Distillation's teacher: the task's dense starting model, a copy of its own (the student's weights change).
      const teacher = description.distillation ? await task.startingModel() : null;
      if (teacher) models.push(teacher);
      trainer = new HarnessTrainer({
        task,
        recipe: run.task.recipe,
        totalExamples: description.budgetExamples,
        rng: seedRng.fork('trainer'),
        chunkExamples: ctx.chunkExamples ?? Math.max(1, Math.min(task.trainExamples, MAX_CHUNK_EXAMPLES)),
        checkpoints: ctx.store.checkpoints(id, ctx.log),
        onChunk: (rows) => ctx.store.writeLog(id, rows),
        onProgress: ctx.onProgress,
        signal: ctx.signal,
        ...(teacher ? { distillation: { ...description.distillation!, teacher } } : {}),
      });
      const result = await method.run({
        model,
        options: run.parsedOptions,
        target: description.target!,
        trainer: timedTrainer(trainer, clock),
        rng: seedRng.fork('method'),
        prunable: task.prunable(model),
        log: ctx.log,
      });
      finalModel = result.model;
      if (finalModel !== model) models.push(finalModel);
      masks = result.masks;
      details = result.details;
      if (masks) applyMasks(finalModel, masks);
    });

    // Ctrl-C after the last training step stops here (the run resumes from its checkpoints), not after evaluation.
    await checkInterrupt(ctx.signal);
    const prunable = task.prunable(finalModel);
    const measured = await clock.time('evaluation', async () => {
      const measured = await measureModel(task, finalModel, dense, { masks, split: 'test' });
      checkTargets(run, measured.metrics, trainer, prunable.length);
      return measured;
    });
    const metrics: RunMetrics = measured.metrics;
    const densities = measured.layerDensity;
    if (startingWeights) await clock.time('reconstruction', async () => {
      await checkInterrupt(ctx.signal);
      const examples = description.reconstruction!.examples;
      const batches = calibrationBatches(task, new SeededRng(description.seed).fork('reconstruction'), examples, RECONSTRUCTION_BATCH_SIZE);
      try {
        // Only layers that multiply an input have an output to reconstruct (not BERT's embedding tables).
        const measured = reportedLayers(finalModel, batches[0], prunable);
        const perLayer = await reconstructionErrors(startingWeights.params, finalModel, batches, measured);
        const notMeasured = prunable.filter((name) => !measured.includes(name));
        metrics.reconstruction = {
          examples,
          perLayer: Object.fromEntries(perLayer),
          sum: [...perLayer.values()].reduce((a, b) => a + b, 0),
          ...(notMeasured.length ? { notMeasured } : {}),
        };
      } finally {
        disposeBatches(batches);
        disposeSnapshot(startingWeights);
      }
    });
    const target = description.target;
    if (target?.kind === 'n-of-m') await clock.time('evaluation', async () => {
      metrics.nmPattern = await checkNmPattern(finalModel, prunable, target);
      if (metrics.nmPattern.violations > 0) {
        throw new TargetNotMetError(`target not met: ${metrics.nmPattern.violations} of ${metrics.nmPattern.groups} groups hold more than ${target.n} of ${target.m} nonzero weights`);
      }
    });
    const flatness = resolveFlatness(description.flatness);
    if (flatness) await clock.time('flatness', async () => {
      await checkInterrupt(ctx.signal);
      metrics.flatness = await measureRunFlatness({
        model: finalModel, task, prunable, masks, settings: flatness, rng: new SeededRng(description.seed).fork('flatness'),
      });
    });
    await clock.time('evaluation', async () => {
      const defect = metricsDefect(metrics);
      if (defect) throw new NonFiniteMetricError(defect);
      const final = await inspectWeights(finalModel);
      if (final.nonFinite.length > 0) throw new NonFiniteWeightsError('final', final.nonFinite);
    });
    if (description.latency && ctx.measureLatency) await clock.time('latency', async () => {
      await checkInterrupt(ctx.signal);
      const figures = await ctx.measureLatency!(finalModel, run, task);
      if (figures.length === 0) throw new Error('latency: no figure was measured');
      metrics.latency = figures[0];
      if (figures.length > 1) metrics.latencies = Object.fromEntries(figures.map((figure) => [figure.provider, figure]));
    });
    const quantize = description.quantize;
    if (quantize) await clock.time('quantization', async () => {
      await checkInterrupt(ctx.signal);
      // int8 latency beside fp32 only where the run measures latency (with the same settings, cpu provider)
      const latency = ctx.measureLatency ? resolveLatency(description.latency) : null;
      metrics.quantized = await measureQuantized(finalModel, task, run.task, quantize, latency, ctx.log);
    });
    const backendErrors = takeBackendErrors();
    if (backendErrors.length > 0) throw new BackendComputeError(backendErrors);
    // The final weights (masks applied) for `prunebench export --run <id>`; written before the record.
    await clock.time('export', () => saveSafetensors(join(ctx.store.runDir(id), FINAL_MODEL_FILE), finalModel, { experiment: id }));
    const record = finish({
      status: 'completed',
      metrics,
      layerDensity: Object.fromEntries(densities),
      ...(details ? { details } : {}),
    });
    ctx.store.clearCheckpoints(id);
    return record;
  } catch (error) {
    if (error instanceof RunInterruptedError) throw error;
    // A changed method cannot continue from old checkpoints; start it afresh next time.
    if (error instanceof CheckpointMismatchError) ctx.store.clearCheckpoints(id);
    const err = error as Error;
    return finish({ status: 'failed', metrics: {} as RunMetrics, error: `${err.name}: ${err.message}` });
  } finally {
    disposeMasks(masks);
    for (const m of models) m.dispose();
  }
}

/** Examples per forward pass of the reconstruction-error measure. */
const RECONSTRUCTION_BATCH_SIZE = 32;

/** An epoch budget was counted at plan time from the sizing; the loaded training split must have that size. */
function checkEpochBudget(description: RunDescription, task: LoadedTask): void {
  const epochs = description.budgetEpochs;
  if (epochs === undefined || Math.round(epochs * task.trainExamples) === description.budgetExamples) return;
  throw new Error(`budget: ${epochs} epochs of ${task.trainExamples} training examples is ${Math.round(epochs * task.trainExamples)} examples, but the plan counted ${description.budgetExamples}`);
}

/** Lets a pending Ctrl-C handler run (a macrotask turn), then stops the run, resumable, when it asked to. */
async function checkInterrupt(signal: AbortSignal | undefined): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (signal?.aborted) throw new RunInterruptedError();
}

function checkTargets(run: PlannedRun, metrics: RunMetrics, trainer: HarnessTrainer | null, prunableLayers: number): void {
  const { target, budgetExamples } = run.description;
  if (trainer && trainer.usedExamples() > budgetExamples) {
    throw new Error(`budget check: used ${trainer.usedExamples()} examples, budget ${budgetExamples}`);
  }
  if (!target) return;
  // Met when within the relative tolerance, or when nonzero is at most the rounded count the target implies
  // (tiny models cannot hit a ratio exactly).
  const allowedNonzero = Math.round((metrics.compressionRatio * metrics.params.nonzero) / (target?.kind === 'compression' ? target.ratio : 1));
  if (target.kind === 'compression' && metrics.compressionRatio < target.ratio * (1 - TARGET_TOLERANCE) && metrics.params.nonzero > allowedNonzero) {
    throw new TargetNotMetError(`target not met: compression ${metrics.compressionRatio.toFixed(3)} < ${target.ratio} requested`);
  }
  // A sparsity target is rounded per layer (round(s · nᵢ) pruned), so the whole may fall short of s · P by
  // up to half a weight per layer.
  if (target.kind === 'sparsity') {
    const { prunable, nonzeroPrunable } = metrics.params;
    const shortfall = target.fraction * prunable - (prunable - nonzeroPrunable!);
    if (metrics.sparsity! < target.fraction * (1 - TARGET_TOLERANCE) && shortfall > prunableLayers / 2) {
      throw new TargetNotMetError(`target not met: sparsity ${metrics.sparsity!.toFixed(4)} < ${target.fraction} requested`);
    }
  }
  if (target.kind === 'flops-reduction') {
    const reduction = 1 - metrics.macs.effective / metrics.macs.dense;
    if (reduction < target.fraction * (1 - TARGET_TOLERANCE)) {
      throw new TargetNotMetError(`target not met: MACs reduced by ${(reduction * 100).toFixed(2)} %, ${target.fraction * 100} % requested`);
    }
  }
}
