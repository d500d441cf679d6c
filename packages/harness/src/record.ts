import type { ExecutionProvider, LatencyRecordShape } from '@prunebench/metrics';
import type { DistillationSettings, NmPatternCheck, PruningTarget } from '@prunebench/pruning';
import type { RunPhaseSeconds } from './phases.js';

/**
 * What one completed run writes to `reports/runs/<id>/record.json`: the report package reads only this.
 * Add fields freely; never rename or remove one (old stores must stay readable).
 */
export interface RunRecord {
  /** Experiment id: hash of the canonical run description (options at default left out). */
  id: string;
  description: RunDescription;
  status: 'completed' | 'failed';
  error?: string;
  /** Empty (`{}`) when status is `failed`: check the status before reading metrics. */
  metrics: RunMetrics;
  /**
   * Examples charged to the method, of its budget. With distillation, `teacherForwardExamples` counts the teacher's
   * forward passes (one per training example; not charged: docs/budget.md).
   */
  budget: { totalExamples: number; usedExamples: number; teacherForwardExamples?: number };
  wallTimeSeconds: number;
  /**
   * The training the trainer did in this process (a resumed run counts from its resume): optimizer steps, how many
   * ran on the model's compiled step (issue 16; 0 on wasm and on a software adapter by default), and the wall
   * seconds inside its train calls (so seconds per training example can be set beside the step benchmark's).
   * `batchSeconds`: of those, the seconds spent waiting for training batches (absent in records of earlier versions).
   */
  training?: { steps: number; compiledSteps: number; seconds: number; batchSeconds?: number };
  /**
   * Wall seconds of each phase of the run in this process (RUN_PHASES in phases.ts says what each counts; 0 where a
   * phase did not run; each second in one phase). Their sum falls short of `wallTimeSeconds` only by the run's
   * bookkeeping (store writes). `train` times the train calls from outside, so it is a little above `training.seconds`.
   * Records before it lack it.
   */
  phaseSeconds?: RunPhaseSeconds;
  environment: EnvironmentRecord;
  /** Per-layer density (nonzero / total) of every prunable parameter. */
  layerDensity: Record<string, number>;
  startedAt: string;
  finishedAt: string;
  /** Method-specific details the method returned (rounds, chosen candidates, ...). */
  details?: Record<string, unknown>;
  /** True when the run continued from checkpoints of an interrupted attempt. */
  resumed?: boolean;
  /** sha256 of the starting weights the run loaded (a completed run whose starting point changed is run again). */
  startingPoint?: { sha256: string };
  /** Set by `merge` when stores disagreed on this run: which record was kept, by which rule, out of which. */
  merge?: MergeChoice;
}

export interface MergeChoice {
  prefer: 'first' | 'last' | 'newest';
  /** Where the kept record came from. */
  keptFrom: string;
  /** Every store holding a different completed record for this id, in merge order, with its finish time. */
  candidates: Array<{ store: string; finishedAt: string }>;
}

export interface RunDescription {
  suite: string;
  task: string;
  /** `dense` for the unpruned baseline row. */
  method: string;
  /** Method options as given (defaults not included). */
  options: Record<string, unknown>;
  target: PruningTarget | null;
  seed: number;
  /** Budget in examples (forward + backward) granted to the method. */
  budgetExamples: number;
  /** Present when the suite gave the budget in epochs of the task's training split: budgetExamples = round(epochs × its size). */
  budgetEpochs?: number;
  /** Task sizing knobs that differ from the task's defaults (train subset, validation/test sizes). */
  taskOptions?: Record<string, unknown>;
  /**
   * Present when latency is measured: `true` at LATENCY_DEFAULTS, else the settings that differ from them (left out
   * of the id when absent, so suites with `"latency": true` keep their ids).
   */
  latency?: true | Partial<LatencySettings>;
  /** Flatness settings that differ from FLATNESS_DEFAULTS (left out of the id at the defaults); `false` = not measured. */
  flatness?: Partial<FlatnessSettings> | false;
  /**
   * Present when the suite has a `quantize` entry: post-training int8 quantization applied after the method (and to
   * the dense row), every setting written out (absent from the descriptions of suites without it, so their ids stay).
   */
  quantize?: QuantizeSettings;
  /** Present when the suite asks for the layer reconstruction error of each pruned run (unstructured methods). */
  reconstruction?: ReconstructionSettings;
  /** Present when the suite distils from the task's dense model in every pruned run's training (absent: ids unchanged). */
  distillation?: DistillationSettings;
}

/** A suite's `reconstruction` entry: calibration examples from the training split (the run seed's `reconstruction` fork). */
export interface ReconstructionSettings {
  examples: number;
}

/**
 * How well each pruned layer reproduces the dense layer's outputs on its inputs in the pruned model:
 * ‖(W − Ŵ)ᵀX̂‖² / ‖WᵀX̂‖² per layer (W dense, Ŵ final, X̂ the layer's inputs in the final model), and their sum.
 */
export interface ReconstructionRecord {
  examples: number;
  perLayer: Record<string, number>;
  sum: number;
  /** Prunable tensors without an input to reconstruct from (embedding tables), left out of the sum. */
  notMeasured?: string[];
}

/** A suite's `quantize` entry, resolved (docs/metrics.md, *Quantization*; defaults QUANTIZE_DEFAULTS). */
export interface QuantizeSettings {
  /** How activation ranges are calibrated: smallest/largest value, or the percentile and its mirror. */
  calibration: 'minmax' | 'percentile';
  /** Percentile of 'percentile' calibration (written only with it). */
  percentile?: number;
  /** Validation examples the activations are calibrated on (the first ones, fixed order). */
  examples: number;
}

/** What the int8 QDQ ONNX model of a run's final weights scored and cost (metrics.quantized). */
export interface QuantizedRecord {
  calibration: { method: 'minmax' | 'percentile'; percentile?: number; examples: number };
  /** The task's headline score of the int8 ONNX model (ONNX Runtime cpu) on the same test split as `quality`. */
  quality: number;
  qualityName: string;
  top1?: number;
  top5?: number;
  accuracy?: number;
  mcc?: number;
  f1?: number;
  /** The same score of the fp32 ONNX export of the same weights (separates quantization loss from export). */
  fp32Quality: number;
  /** Prunable-weight storage (docs/metrics.md): dense fp32, sparse fp32 (bitmap + values), dense int8, sparse int8. */
  sizes: {
    denseFp32Bytes: number;
    sparseFp32Bytes: number;
    denseInt8Bytes: number;
    sparseInt8Bytes: number;
    /** Bytes of the whole ONNX files. */
    onnxFp32Bytes: number;
    onnxInt8Bytes: number;
    /** Prunable tensors stored 8-bit (any other prunable tensor counts as fp32 in both int8 encodings). */
    int8Tensors: number;
    /** Nonzero prunable weights before / after int8 rounding (tiny weights may round to 0). */
    nonzeroFp32: number;
    nonzeroInt8: number;
  };
  /** int8 vs fp32 ONNX of the same weights on ONNX Runtime's cpu provider: `dense` and `speedupVsDense` here mean the fp32 model. */
  latency?: LatencyRecord;
  /** Operators ONNX Runtime runs in the optimised int8 graph, by type (QLinearConv, QGemm, MatMulIntegerToFloat, ...). */
  operators: Record<string, number>;
  /** Quantized activation tensors and ReLUs absorbed into them. */
  activations: number;
  absorbedRelus: number;
}

/**
 * How flatness is measured after every run: on the first `examples` validation examples (fixed), every prunable
 * weight tensor is moved by `radius`·‖w‖ (pruned weights stay 0) along `samples` random directions, and by
 * `gradientRadius`·‖w‖ along the gradient (one ascent step, the first-order worst case, as SAM's ascent per
 * tensor); the record keeps the loss increases.
 */
export interface FlatnessSettings {
  examples: number;
  radius: number;
  samples: number;
  gradientRadius: number;
}

export interface FlatnessRecord {
  radius: number;
  examples: number;
  samples: number;
  /** Cross-entropy of the final model on the fixed set. */
  baseLoss: number;
  /** Mean loss increase over the random directions. */
  lossIncrease: number;
  /** Largest loss increase among the random directions. */
  maxLossIncrease: number;
  /** Relative radius of the gradient-direction step. */
  gradientRadius: number;
  /** Loss increase along the normalised gradient (worst case to first order). */
  worstCaseLossIncrease: number;
}

export interface RunMetrics {
  /** The task's headline quality score on its test/dev split, final weights (never a best epoch). */
  quality: number;
  qualityName: string; // 'top1' | 'mcc' | 'f1' | 'accuracy'
  top1?: number;
  top5?: number;
  accuracy?: number;
  mcc?: number;
  f1?: number;
  /** nonzeroPrunable: nonzero weights among the final model's prunable tensors (records before it lack it). */
  params: { total: number; prunable: number; nonzero: number; nonzeroPrunable?: number };
  /** total / nonzero (ShrinkBench's definition). */
  compressionRatio: number;
  /**
   * Fraction of the starting model's prunable weights that are zero or cut away: 1 − nonzeroPrunable / the
   * starting model's prunable count (records before it lack it).
   */
  sparsity?: number;
  /** Conv + linear multiply-accumulates per example. */
  macs: { dense: number; effective: number };
  /** dense MACs of the starting model / effective MACs of the final model. */
  theoreticalSpeedup: number;
  /** The latency figure of the suite's first provider (the only one for suites on one provider). */
  latency?: LatencyRecord;
  /** Every provider's figure, by provider, in the suite's order (suites on several providers; see latencyFigures). */
  latencies?: Record<string, LatencyRecord>;
  /** Loss increase under weight perturbations of fixed relative norm (flatness; see FlatnessSettings). */
  flatness?: FlatnessRecord;
  /** N:M targets: the pattern checked on the final weights (violations must be 0; layers left dense listed). */
  nmPattern?: NmPatternCheck;
  /** Suites with `quantize`: the int8 QDQ ONNX model of the final weights (quality, sizes, latency int8 vs fp32). */
  quantized?: QuantizedRecord;
  /** Suites with `reconstruction`: the layer reconstruction errors of the final weights (ReconstructionRecord). */
  reconstruction?: ReconstructionRecord;
}

/** One provider's latency figure (fields documented in @prunebench/metrics: LatencyRecordShape). */
export type LatencyRecord = LatencyRecordShape;

/** How latency is measured (docs/metrics.md, *Latency*): ONNX Runtime providers, in column order; the first is `metrics.latency`. */
export interface LatencySettings {
  providers: ExecutionProvider[];
  /** Intra-op threads of every session. */
  threads: number;
  /** Batch of the throughput figure (latency is at batch 1). */
  throughputBatch: number;
  /** Interleaved rounds against the dense model, per batch size. */
  rounds: number;
}

export interface EnvironmentRecord {
  backend: string;
  device: string;
  versions: Record<string, string>;
  gitCommit: string | null;
  node: string;
  platform: string;
  cpus: number;
  /** Threads the backend computed with, where it says (wasm: XNNPACK's pool; results do not depend on it). */
  threads?: number;
  /**
   * The WebGPU adapter (webgpu backend only). `software: true` = a CPU rasterizer (llvmpipe, SwiftShader):
   * its numbers check correctness, its wall times are no GPU speed figure.
   */
  adapter?: { description: string; software: boolean };
}
