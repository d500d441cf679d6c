import { describe, expect, it } from 'vitest';
import { resolveShard, shardFromEnvironment } from './shard-environment.js';

describe('--shard auto', () => {
  it('reads PRUNEBENCH_SHARD_INDEX/COUNT first (1-based), then Slurm, Kubernetes and GitLab', () => {
    expect(shardFromEnvironment({ PRUNEBENCH_SHARD_INDEX: '2', PRUNEBENCH_SHARD_COUNT: '3', SLURM_ARRAY_TASK_ID: '0' }))
      .toEqual({ index: 2, count: 3, source: 'PRUNEBENCH_SHARD_INDEX/PRUNEBENCH_SHARD_COUNT' });
    // sbatch --array=0-3: task 2 is the third of four.
    expect(shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '3', SLURM_ARRAY_TASK_COUNT: '4' }))
      .toEqual({ index: 3, count: 4, source: 'SLURM_ARRAY_TASK_ID/MIN/MAX' });
    // --array=1-9:4 → tasks 1, 5, 9.
    expect(shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '9', SLURM_ARRAY_TASK_STEP: '4', SLURM_ARRAY_TASK_COUNT: '3' }))
      .toMatchObject({ index: 2, count: 3 });
    expect(shardFromEnvironment({ JOB_COMPLETION_INDEX: '0', PRUNEBENCH_SHARD_COUNT: '4' }))
      .toEqual({ index: 1, count: 4, source: 'JOB_COMPLETION_INDEX/PRUNEBENCH_SHARD_COUNT' });
    expect(shardFromEnvironment({ CI_NODE_INDEX: '4', CI_NODE_TOTAL: '4' })).toEqual({ index: 4, count: 4, source: 'CI_NODE_INDEX/CI_NODE_TOTAL' });
  });

  it('keeps --shard i/n, and names what is missing or wrong', () => {
    expect(resolveShard('1/2', {})).toEqual({ index: 1, count: 2, source: '--shard 1/2' });
    expect(resolveShard('auto', { CI_NODE_INDEX: '1', CI_NODE_TOTAL: '2' })).toMatchObject({ index: 1, count: 2 });
    expect(() => shardFromEnvironment({})).toThrow(/^--shard auto: no shard index in the environment; set one of: PRUNEBENCH_SHARD_INDEX \+ PRUNEBENCH_SHARD_COUNT/);
    expect(() => shardFromEnvironment({ PRUNEBENCH_SHARD_INDEX: '1' })).toThrow('--shard auto: PRUNEBENCH_SHARD_INDEX is set but PRUNEBENCH_SHARD_COUNT is not; set both');
    expect(() => shardFromEnvironment({ PRUNEBENCH_SHARD_INDEX: '0', PRUNEBENCH_SHARD_COUNT: '2' })).toThrow(/gives shard 0 of 2; need 1 <= i <= n/);
    expect(() => shardFromEnvironment({ PRUNEBENCH_SHARD_INDEX: 'x', PRUNEBENCH_SHARD_COUNT: '2' })).toThrow('--shard auto: PRUNEBENCH_SHARD_INDEX must be a non-negative integer, got "x"');
    expect(() => shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '3' })).toThrow('--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN is not (is this a job array?)');
    // --array=1,4,9: MIN/MAX span 9 positions but there are 3 tasks.
    expect(() => shardFromEnvironment({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '9', SLURM_ARRAY_TASK_COUNT: '3' }))
      .toThrow(/has 9 positions but SLURM_ARRAY_TASK_COUNT is 3; use a range array/);
    expect(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: '2' })).toThrow(/JOB_COMPLETION_INDEX is set but PRUNEBENCH_SHARD_COUNT is not/);
    expect(() => shardFromEnvironment({ PRUNEBENCH_SHARD_COUNT: '2' })).toThrow('--shard auto: PRUNEBENCH_SHARD_COUNT is set but neither PRUNEBENCH_SHARD_INDEX nor JOB_COMPLETION_INDEX is');
    expect(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: '4', PRUNEBENCH_SHARD_COUNT: '4' })).toThrow(/gives shard 5 of 4/);
  });
});
