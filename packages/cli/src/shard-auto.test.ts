import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { EXIT_OK, EXIT_USAGE, type CliIO } from './usage.js';

const SHARD_VARIABLES = ['PRUNEBENCH_SHARD_INDEX', 'PRUNEBENCH_SHARD_COUNT', 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_MAX',
  'SLURM_ARRAY_TASK_STEP', 'SLURM_ARRAY_TASK_COUNT', 'JOB_COMPLETION_INDEX', 'CI_NODE_INDEX', 'CI_NODE_TOTAL'];
const saved = Object.fromEntries(SHARD_VARIABLES.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of SHARD_VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

async function dryRun(env: Record<string, string>) {
  for (const name of SHARD_VARIABLES) delete process.env[name];
  Object.assign(process.env, env);
  const io = { stdout: '', stderr: '', isTTY: false, out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  const store = mkdtempSync(join(tmpdir(), 'prunebench-shard-auto-'));
  const code = await main(['run', 'benchmarks/suites/smoke.json', '--dry-run', '--store', store, '--shard', 'auto'], io as CliIO);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('prunebench run --shard auto', () => {
  it('takes the shard of a Slurm array task, the same runs as --shard i/n', async () => {
    const slurm = await dryRun({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '1', SLURM_ARRAY_TASK_COUNT: '2' });
    expect(slurm.code, slurm.stderr).toBe(EXIT_OK);
    expect(slurm.stdout).toContain('suite smoke (shard 2/2 from SLURM_ARRAY_TASK_ID/MIN/MAX): ');
    const matrix = await dryRun({ PRUNEBENCH_SHARD_INDEX: '2', PRUNEBENCH_SHARD_COUNT: '2' });
    const runLines = (text: string) => text.split('\n').filter((line) => /^ {2}[0-9a-f]{12} /.test(line));
    expect(runLines(matrix.stdout)).toEqual(runLines(slurm.stdout));
    expect(runLines(slurm.stdout).length).toBeGreaterThan(0);
  });

  it('is a usage error naming the variables when none is set', async () => {
    const none = await dryRun({});
    expect(none.code).toBe(EXIT_USAGE);
    expect(none.stderr).toContain('run: --shard auto: no shard index in the environment; set one of: PRUNEBENCH_SHARD_INDEX + PRUNEBENCH_SHARD_COUNT');
  });
});
