import { EXECUTION_PROVIDERS, interleavedLatencyRecord, measureLatencyAgainstDense, type ExecutionProvider } from '@prunebench/metrics';
import { exportOnnx, type Model } from '@prunebench/models';
import type { LatencyRecord, LatencySettings, RunMetrics } from './record.js';
import type { TaskDefinition } from './tasks/types.js';

/**
 * Latency settings of a suite with `"latency": true` (and of records that say `latency: true`): ONNX Runtime's cpu
 * provider, 2 intra-op threads, throughput at batch 128, 10 interleaved rounds. A suite's object overrides some.
 */
export const LATENCY_DEFAULTS: LatencySettings = { providers: ['cpu'], threads: 2, throughputBatch: 128, rounds: 10 };

/** Fewest rounds whose order-statistic interval of the median reaches 95 % coverage. */
export const MIN_LATENCY_ROUNDS = 6;

const LATENCY_LIMITS = {
  threads: { min: 1, max: 256 },
  throughputBatch: { min: 1, max: 65_536 },
  rounds: { min: MIN_LATENCY_ROUNDS, max: 1000 },
} as const;

/** The settings a run uses (null: latency not measured). `true` and `{}` are the defaults. */
export function resolveLatency(setting: true | Partial<LatencySettings> | false | undefined): LatencySettings | null {
  if (setting === undefined || setting === false) return null;
  return { ...LATENCY_DEFAULTS, ...(setting === true ? {} : setting) };
}

/**
 * Checks a suite's `latency` field: true/false, or an object of LatencySettings fields. Returns false (not
 * measured) or the fields that differ from LATENCY_DEFAULTS ({} = the defaults), so run ids only change when a
 * setting does.
 */
export function validateLatency(value: unknown, fail: (path: string, message: string) => void): Partial<LatencySettings> | false {
  if (value === undefined || value === false) return false;
  if (value === true) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('suite.latency', 'must be true, false or an object { "providers", "threads", "throughputBatch", "rounds" }');
    return false;
  }
  const out: Partial<LatencySettings> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'providers') {
      const providers = validateProviders(v, fail);
      if (providers && providers.join() !== LATENCY_DEFAULTS.providers.join()) out.providers = providers;
      continue;
    }
    const limits = LATENCY_LIMITS[key as keyof typeof LATENCY_LIMITS];
    if (!limits) {
      fail(`suite.latency.${key}`, `unknown field; allowed: providers, ${Object.keys(LATENCY_LIMITS).join(', ')}`);
    } else if (!Number.isInteger(v) || (v as number) < limits.min || (v as number) > limits.max) {
      fail(`suite.latency.${key}`, `must be an integer in [${limits.min}, ${limits.max}], got ${JSON.stringify(v)}`);
    } else if (v !== LATENCY_DEFAULTS[key as keyof typeof LATENCY_LIMITS]) {
      out[key as keyof typeof LATENCY_LIMITS] = v as number;
    }
  }
  return out;
}

function validateProviders(value: unknown, fail: (path: string, message: string) => void): ExecutionProvider[] | null {
  if (!Array.isArray(value) || value.length === 0) {
    fail('suite.latency.providers', `must be a non-empty array of ONNX Runtime execution providers (${EXECUTION_PROVIDERS.join(', ')})`);
    return null;
  }
  const providers: ExecutionProvider[] = [];
  value.forEach((provider, i) => {
    if (!(EXECUTION_PROVIDERS as readonly unknown[]).includes(provider)) {
      fail(`suite.latency.providers[${i}]`, `unknown execution provider ${JSON.stringify(provider)}; known: ${EXECUTION_PROVIDERS.join(', ')}`);
    } else if (providers.includes(provider)) {
      fail(`suite.latency.providers[${i}]`, `provider "${provider}" is listed twice`);
    } else {
      providers.push(provider);
    }
  });
  return providers.length === value.length ? providers : null;
}

/**
 * Every latency figure of a run's metrics, in the suite's provider order: `latencies` (one per provider) where the
 * record has it, else the single `latency` of records measured on one provider.
 */
export function latencyFigures(metrics: Pick<RunMetrics, 'latency' | 'latencies'> | undefined): LatencyRecord[] {
  if (!metrics) return [];
  if (metrics.latencies) return Object.values(metrics.latencies);
  return metrics.latency ? [metrics.latency] : [];
}

/**
 * Batch-1 latency of `model` on each provider of `settings`, interleaved round by round with `dense` (the task's
 * dense model) in the same process, at the task's inputs (BERT: token inputs at its sequence length), else a
 * CIFAR image. One figure per provider, in the settings' order.
 */
export async function latencyAgainstDense(
  model: Model,
  dense: Model,
  latencyInputs: TaskDefinition['latencyInputs'],
  settings: LatencySettings,
): Promise<LatencyRecord[]> {
  const [modelBytes, denseBytes] = [await exportOnnx(model), await exportOnnx(dense)];
  const inputs = latencyInputs ? { inputs: latencyInputs } : { inputShape: [3, 32, 32] };
  const figures: LatencyRecord[] = [];
  for (const provider of settings.providers) {
    const report = await measureLatencyAgainstDense(modelBytes, denseBytes, {
      ...inputs, provider, threads: settings.threads, batchSizes: { latency: 1, throughput: settings.throughputBatch }, rounds: settings.rounds,
    });
    figures.push(interleavedLatencyRecord(report));
  }
  return figures;
}
