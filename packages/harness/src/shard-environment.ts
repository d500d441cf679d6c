import { parseShard } from './plan.js';

/** A shard (1-based index of count) and where it came from. */
export interface ResolvedShard {
  index: number;
  count: number;
  /** `--shard i/n`, or the environment variables it was read from. */
  source: string;
}

/** The environment variables `--shard auto` reads, in the order it tries them (README, *Shards*). */
export const SHARD_ENVIRONMENTS = [
  'PRUNEBENCH_SHARD_INDEX + PRUNEBENCH_SHARD_COUNT (1-based, e.g. a CI matrix)',
  'SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_MIN/MAX (+ SLURM_ARRAY_TASK_STEP) of a Slurm job array',
  'JOB_COMPLETION_INDEX (0-based) + PRUNEBENCH_SHARD_COUNT of a Kubernetes indexed Job',
  'CI_NODE_INDEX + CI_NODE_TOTAL of GitLab parallel jobs (1-based)',
] as const;

/** `--shard i/n` or `--shard auto` (from the environment: see shardFromEnvironment). */
export function resolveShard(text: string, env: NodeJS.ProcessEnv = process.env): ResolvedShard {
  if (text.trim() === 'auto') return shardFromEnvironment(env);
  return { ...parseShard(text), source: `--shard ${text.trim()}` };
}

/**
 * The shard of this process from the scheduler's variables: PRUNEBENCH_SHARD_INDEX/COUNT when set (they win), else a
 * Slurm job array (position of SLURM_ARRAY_TASK_ID in MIN..MAX by STEP; a COUNT that disagrees, as with a list like
 * --array=1,4,9, is an error), else a Kubernetes indexed Job (JOB_COMPLETION_INDEX, 0-based, with
 * PRUNEBENCH_SHARD_COUNT set to the Job's completions), else GitLab's CI_NODE_INDEX/CI_NODE_TOTAL.
 */
export function shardFromEnvironment(env: NodeJS.ProcessEnv): ResolvedShard {
  const has = (name: string) => env[name] !== undefined && env[name] !== '';
  const int = (name: string) => {
    const text = env[name]!.trim();
    if (!/^\d+$/.test(text)) throw new Error(`--shard auto: ${name} must be a non-negative integer, got "${env[name]}"`);
    return Number(text);
  };
  const shard = (index: number, count: number, source: string): ResolvedShard => {
    if (count < 1 || index < 1 || index > count) throw new Error(`--shard auto: ${source} gives shard ${index} of ${count}; need 1 <= i <= n`);
    return { index, count, source };
  };
  const needBoth = (a: string, b: string) => {
    if (has(a) !== has(b)) throw new Error(`--shard auto: ${has(a) ? a : b} is set but ${has(a) ? b : a} is not; set both`);
    return has(a);
  };

  if (has('PRUNEBENCH_SHARD_INDEX')) {
    if (!has('PRUNEBENCH_SHARD_COUNT')) throw new Error('--shard auto: PRUNEBENCH_SHARD_INDEX is set but PRUNEBENCH_SHARD_COUNT is not; set both');
    return shard(int('PRUNEBENCH_SHARD_INDEX'), int('PRUNEBENCH_SHARD_COUNT'), 'PRUNEBENCH_SHARD_INDEX/PRUNEBENCH_SHARD_COUNT');
  }
  if (has('SLURM_ARRAY_TASK_ID')) {
    for (const name of ['SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_MAX']) {
      if (!has(name)) throw new Error(`--shard auto: SLURM_ARRAY_TASK_ID is set but ${name} is not (is this a job array?)`);
    }
    const id = int('SLURM_ARRAY_TASK_ID');
    const min = int('SLURM_ARRAY_TASK_MIN');
    const max = int('SLURM_ARRAY_TASK_MAX');
    const step = has('SLURM_ARRAY_TASK_STEP') ? int('SLURM_ARRAY_TASK_STEP') : 1;
    if (step < 1 || max < min || id < min || id > max || (id - min) % step !== 0) {
      throw new Error(`--shard auto: SLURM_ARRAY_TASK_ID ${id} is not in the array ${min}-${max}:${step}`);
    }
    const count = Math.floor((max - min) / step) + 1;
    if (has('SLURM_ARRAY_TASK_COUNT') && int('SLURM_ARRAY_TASK_COUNT') !== count) {
      throw new Error(`--shard auto: the job array ${min}-${max}:${step} has ${count} positions but SLURM_ARRAY_TASK_COUNT is ${env.SLURM_ARRAY_TASK_COUNT}; use a range array (--array=${min}-${max})`);
    }
    return shard((id - min) / step + 1, count, 'SLURM_ARRAY_TASK_ID/MIN/MAX');
  }
  if (has('JOB_COMPLETION_INDEX')) {
    if (!has('PRUNEBENCH_SHARD_COUNT')) throw new Error('--shard auto: JOB_COMPLETION_INDEX is set but PRUNEBENCH_SHARD_COUNT is not; set it to the Job\'s completions');
    return shard(int('JOB_COMPLETION_INDEX') + 1, int('PRUNEBENCH_SHARD_COUNT'), 'JOB_COMPLETION_INDEX/PRUNEBENCH_SHARD_COUNT');
  }
  if (needBoth('CI_NODE_INDEX', 'CI_NODE_TOTAL')) return shard(int('CI_NODE_INDEX'), int('CI_NODE_TOTAL'), 'CI_NODE_INDEX/CI_NODE_TOTAL');
  if (has('PRUNEBENCH_SHARD_COUNT')) throw new Error('--shard auto: PRUNEBENCH_SHARD_COUNT is set but neither PRUNEBENCH_SHARD_INDEX nor JOB_COMPLETION_INDEX is');
  throw new Error(`--shard auto: no shard index in the environment; set one of: ${SHARD_ENVIRONMENTS.join('; ')}`);
}
