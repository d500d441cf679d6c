// Synthetic run records for the report's tests: plausible numbers, built from a few knobs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_FILE, type LatencyRecord, type RunDescription, type RunRecord } from '@prunebench/harness';

type PruningTarget = NonNullable<RunDescription['target']>;

export interface SyntheticRun {
  task?: string;
  method: string;
  target: PruningTarget | null;
  seed: number;
  quality: number;
  options?: Record<string, unknown>;
  latencyP50Ms?: number;
  /** Full latency figures, one per provider (replaces latencyP50Ms): the first becomes `latency`, all `latencies` when several. */
  latencies?: LatencyRecord[];
  /** Loss increase under random perturbations; the gradient direction gets 4× as much. */
  flatnessIncrease?: number;
  status?: 'completed' | 'failed';
  error?: string;
  budgetExamples?: number;
  usedExamples?: number;
}

const DENSE_PARAMS = 853_018;
const DENSE_MACS = 125_485_706;

export function syntheticRecord(run: SyntheticRun): RunRecord {
  const ratio = run.target?.kind === 'compression' ? run.target.ratio : run.target && 'fraction' in run.target ? 1 / (1 - run.target.fraction * 0.9) : 1;
  const speedup = run.target?.kind === 'flops-reduction' ? 1 / (1 - run.target.fraction) : Math.sqrt(ratio);
  const budgetExamples = run.budgetExamples ?? (run.method === 'dense' ? 0 : 50_000);
  const task = run.task ?? 'cifar10-resnet56';
  const id = `${task}-${run.method}-${run.target ? JSON.stringify(run.target).replace(/\W+/g, '') : 'dense'}-s${run.seed}${
    run.options ? `-${JSON.stringify(run.options).replace(/\W+/g, '')}` : ''
  }`;
  return {
    id,
    description: {
      suite: 'smoke',
      task,
      method: run.method,
      options: run.options ?? {},
      target: run.target,
      seed: run.seed,
      budgetExamples,
    },
    status: run.status ?? 'completed',
    ...(run.error ? { error: run.error } : {}),
    // The harness writes empty metrics for a failed run.
    metrics: run.status === 'failed' ? ({} as RunRecord['metrics']) : {
      quality: run.quality,
      qualityName: 'top1',
      top1: run.quality,
      top5: Math.min(1, run.quality + 0.05),
      params: { total: DENSE_PARAMS, prunable: DENSE_PARAMS - 650, nonzero: Math.round(DENSE_PARAMS / ratio) },
      compressionRatio: ratio,
      macs: { dense: DENSE_MACS, effective: Math.round(DENSE_MACS / speedup) },
      theoreticalSpeedup: speedup,
      ...(run.flatnessIncrease !== undefined
        ? {
            flatness: {
              radius: 0.05, examples: 500, samples: 3, baseLoss: 0.3, gradientRadius: 0.005,
              lossIncrease: run.flatnessIncrease, maxLossIncrease: run.flatnessIncrease * 1.5, worstCaseLossIncrease: run.flatnessIncrease * 4,
            },
          }
        : {}),
      ...(run.latencies
        ? { latency: run.latencies[0], ...(run.latencies.length > 1 ? { latencies: Object.fromEntries(run.latencies.map((l) => [l.provider, l])) } : {}) }
        : {}),
      ...(run.latencyP50Ms !== undefined && !run.latencies
        ? {
            latency: {
              provider: 'cpu',
              threads: 2,
              device: 'test-cpu',
              batch1Ms: { p50: run.latencyP50Ms, p90: run.latencyP50Ms * 1.2, p99: run.latencyP50Ms * 1.5 },
              throughputBatch: 64,
              throughputPerSecond: 1000 / run.latencyP50Ms,
            },
          }
        : {}),
    },
    budget: { totalExamples: budgetExamples, usedExamples: run.usedExamples ?? Math.round(budgetExamples * 0.96) },
    wallTimeSeconds: 12.5,
    environment: {
      backend: 'tensorflow',
      device: 'test-cpu',
      versions: { '@tensorflow/tfjs': '4.22.0', prunebench: '0.1.0' },
      gitCommit: 'abc1234',
      node: 'v22.0.0',
      platform: 'linux-x64',
      cpus: 2,
    },
    layerDensity: { 'conv1.weight': 1 / ratio },
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:12.500Z',
  };
}

export const COMPRESSION_RATIOS = [2, 4, 8, 16, 32];

/**
 * A small suite: dense baseline (3 seeds), magnitude and random at five compression ratios (3 seeds),
 * magnitude falling off slowly and random fast, with latency measured; plus one failed run.
 */
export function syntheticSuite(options: { latency?: boolean; task?: string } = {}): RunRecord[] {
  const task = options.task ?? 'cifar10-resnet56';
  const latency = options.latency ?? true;
  const records: RunRecord[] = [];
  const seedNoise = [0, 0.002, -0.002];
  for (const seed of [0, 1, 2]) {
    records.push(syntheticRecord({ task, method: 'dense', target: null, seed, quality: 0.9339 + seedNoise[seed], latencyP50Ms: latency ? 4 : undefined }));
    for (const ratio of COMPRESSION_RATIOS) {
      const target: PruningTarget = { kind: 'compression', ratio };
      const step = Math.log2(ratio);
      records.push(
        syntheticRecord({ task, method: 'magnitude', target, seed, quality: 0.93 - 0.004 * step + seedNoise[seed], latencyP50Ms: latency ? 4 - 0.3 * step : undefined }),
        syntheticRecord({ task, method: 'random', target, seed, quality: 0.92 - 0.04 * step + seedNoise[seed], latencyP50Ms: latency ? 4 - 0.2 * step : undefined }),
      );
    }
  }
  records.push(syntheticRecord({ task, method: 'snip', target: { kind: 'compression', ratio: 8 }, seed: 0, quality: 0, status: 'failed', error: 'BudgetExceededError: requested 512 examples, 0 of 50000 remain' }));
  return records;
}

/** Writes `records` as a run store under `store`, plus one corrupt record.json; returns the corrupt file's path. */
export function writeSyntheticStore(store: string, records: RunRecord[]): { store: string; corruptFile: string } {
  for (const record of records) {
    mkdirSync(join(store, record.id), { recursive: true });
    writeFileSync(join(store, record.id, RECORD_FILE), JSON.stringify(record, null, 2));
  }
  mkdirSync(join(store, 'broken-run'), { recursive: true });
  const corruptFile = join(store, 'broken-run', 'record.json');
  writeFileSync(corruptFile, '{ "id": "broken-run", "metrics": { "quality": 0.9');
  return { store, corruptFile };
}
