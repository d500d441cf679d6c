// Every suite shipped in benchmarks/suites plans without error; the sparsity suite plans what it says.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { EXIT_OK, type CliIO } from './usage.js';

async function dryRun(suite: string) {
  const io = { stdout: '', stderr: '', isTTY: false, out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  const store = mkdtempSync(join(tmpdir(), 'prunebench-suites-'));
  const code = await main(['run', suite, '--dry-run', '--store', store], io as CliIO);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('benchmarks/suites', () => {
  const suites = readdirSync('benchmarks/suites').filter((name) => name.endsWith('.json'));

  it('every suite file validates and plans', async () => {
    expect(suites.length).toBeGreaterThan(5);
    for (const name of suites) {
      const result = await dryRun(join('benchmarks/suites', name));
      expect(result.code, `${name}: ${result.stderr}`).toBe(EXIT_OK);
    }
  });

  it('cifar10-resnet-sparsity: ResNet-20 and ResNet-56 at sparsity 0.5, 0.7 and 0.9 for every unstructured method', async () => {
    const result = await dryRun('benchmarks/suites/cifar10-resnet-sparsity.json');
    expect(result.code).toBe(EXIT_OK);
    expect(result.stdout).toContain('suite cifar10-resnet-sparsity: 38 runs');
    for (const task of ['cifar10-resnet20', 'cifar10-resnet56']) {
      for (const method of ['magnitude', 'magnitude {"allocation":"layerwise"}', 'random', 'lth', 'snip', 'safe']) {
        for (const sparsity of ['50% sparse', '70% sparse', '90% sparse']) expect(result.stdout).toContain(`${task} ${method} ${sparsity} seed 0`);
      }
    }
  });
});
