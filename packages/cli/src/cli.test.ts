import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionRows } from '@prunebench/pruning';
import { main } from './cli.js';
import { BUILTIN_METHODS } from './methods.js';
import { EXIT_OK, EXIT_USAGE, type CliIO } from './usage.js';

function capture(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', isTTY: false, out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  return io;
}

async function cli(...argv: string[]) {
  const io = capture();
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

function suiteFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'prunebench-cli-')), 'suite.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('prunebench CLI', () => {
  it('prints help for the tool and for every command with exit 0', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(EXIT_OK);
    expect(top.stdout).toContain('Usage: prunebench <command>');
    for (const command of ['run', 'list', 'report', 'merge', 'data', 'export', 'sensitivity']) {
      const help = await cli(command, '--help');
      expect(help.code, command).toBe(EXIT_OK);
      expect(help.stdout, command).toMatch(new RegExp(`^Usage: prunebench ${command}`));
    }
  });

  it('exits 2 on usage errors, naming the problem', async () => {
    expect((await cli()).code).toBe(EXIT_USAGE);
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(EXIT_USAGE);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const flag = await cli('run', 'x.json', '--bogus');
    expect(flag.code).toBe(EXIT_USAGE);
    expect(flag.stderr).toContain("run: Unknown option '--bogus'");
    const shard = await cli('run', suiteFile({}), '--shard', '3/2');
    expect(shard.code).toBe(EXIT_USAGE);
    expect(shard.stderr).toContain('--shard 3/2: need 1 <= i <= n');
    expect((await cli('list', 'things')).stderr).toContain('list: expected "tasks" or "methods"');
    expect((await cli('merge', 'a')).stderr).toContain('merge: --into is required');
    expect((await cli('data', 'fetch', 'imagenet')).stderr).toContain('unknown dataset "imagenet"');
    const valSize = await cli('sensitivity', '--task', 'cifar10-resnet20', '--sparsities', '0.5', '--out', 'x.csv', '--val-size', '0');
    expect(valSize.code).toBe(EXIT_USAGE);
    expect(valSize.stderr).toContain('sensitivity: --val-size: "0" is not a positive integer');
  });

  it('rejects a malformed suite and an unknown method with the field named', async () => {
    const bad = await cli('run', suiteFile({
      name: 'x', tasks: ['cifar10-resnet20'], methods: ['magnitude', 'magnitud'], targets: [{ compression: 2 }], seeds: [0], budget: 10,
    }), '--dry-run');
    expect(bad.code).toBe(EXIT_USAGE);
    expect(bad.stderr).toMatch(/suite\.methods\[1\]\.name: unknown method "magnitud"; known: magnitude, random, lth, snip, safe, hrank, cka-hybrid/);
    const broken = await cli('run', suiteFile('{"name": "x", '), '--dry-run');
    expect(broken.code).toBe(EXIT_USAGE);
    expect(broken.stderr).toMatch(/suite\.json is not valid JSON/);
    const missing = await cli('run', '/nonexistent/suite.json', '--dry-run');
    expect(missing.code).toBe(EXIT_USAGE);
    expect(missing.stderr).toContain('cannot read /nonexistent/suite.json');
  });

  it('prints the plan and its budget on --dry-run without running anything', async () => {
    const store = mkdtempSync(join(tmpdir(), 'prunebench-cli-store-'));
    const result = await cli('run', 'benchmarks/suites/smoke.json', '--dry-run', '--store', store, '--shard', '1/2');
    expect(result.code).toBe(EXIT_OK);
    expect(result.stdout).toContain('suite smoke (shard 1/2): 6 runs');
    expect(result.stdout).toMatch(/to do: 6 runs, 5120 training examples in all, about \d+:\d\d on wasm/);
  });

  it('lists tasks and methods', async () => {
    const tasks = await cli('list', 'tasks');
    expect(tasks.stdout).toContain('cifar10-resnet20');
    expect(tasks.stdout).toContain('cifar10-resnet110');
    const methods = await cli('list', 'methods');
    for (const name of ['magnitude', 'random', 'lth', 'snip', 'safe', 'hrank', 'cka-hybrid']) expect(methods.stdout).toContain(`${name}`);
    // Every option of every method, from its declaration: default, type, doc.
    expect(methods.stdout).toContain('  pruneFraction = 0.2  (number in (0, 1)) Fraction of the remaining prunable weights');
    expect(methods.stdout).toContain('  rounds = 1 / 5 / 10  (integer ≥ 1) Pruning steps');
    for (const method of BUILTIN_METHODS) {
      for (const row of optionRows(method.options)) expect(methods.stdout).toContain(`  ${row.name} = ${row.default}  (${row.type}) ${row.doc}\n`);
    }
  });
});
