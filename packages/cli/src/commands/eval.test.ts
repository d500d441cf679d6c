import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '@prunebench/harness';
import { describe, expect, it } from 'vitest';
import { main } from '../cli.js';
import { EXIT_OK, EXIT_USAGE, type CliIO } from '../usage.js';
import { formatEvalReport, type EvalReport } from './eval.js';

async function cli(...argv: string[]) {
  const io = { stdout: '', stderr: '', isTTY: false, out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  const code = await main(argv, io as CliIO);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('prunebench eval: usage', () => {
  it('prints its help with exit 0', async () => {
    const help = await cli('eval', '--help');
    expect(help.code).toBe(EXIT_OK);
    expect(help.stdout).toMatch(/^Usage: prunebench eval --task <task> \[--run <id> \| --checkpoint <file.safetensors>\]/);
    expect((await cli('--help')).stdout).toContain('eval  ');
  });

  it('exits 2 naming the problem', async () => {
    const store = mkdtempSync(join(tmpdir(), 'prunebench-eval-store-'));
    const cases: Array<[string[], RegExp]> = [
      [['--task', 'cifar10-resnet20', '--run', 'abc', '--checkpoint', 'x.safetensors'], /eval: give --run or --checkpoint, not both/],
      [['--task', 'cifar10-resnet20', '--split', 'train'], /eval: --split must be "test" or "val", got "train"/],
      [['--task', 'cifar10-resnet20', '--test-size=-3'], /eval: --test-size must be an integer >= 0, got "-3"/],
      [['--task', 'cifar10-resnet20', '--test-size', 'many'], /eval: --test-size must be an integer >= 0, got "many"/],
      [['--task', 'nope'], /eval: unknown task "nope"; known: cifar10-resnet20/],
      [[], /eval: --task is required/],
      [['--run', '0123456789ab', '--store', store], /eval: run 0123456789ab is absent in .*, not completed|eval: --run: /],
      [['--task', 'cifar10-resnet20', '--checkpoint', join(store, 'missing.safetensors')], /eval: --checkpoint .*missing\.safetensors: no such file/],
      [['--task', 'cifar10-resnet20', 'extra'], /eval: unexpected argument "extra"/],
    ];
    for (const [args, message] of cases) {
      const result = await cli('eval', ...args);
      expect(result.code, args.join(' ')).toBe(EXIT_USAGE);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('formats every figure it measured', () => {
    const report: EvalReport = {
      task: 'cifar10-resnet20', model: 'the starting model', split: 'test',
      metrics: {
        quality: 0.9173, qualityName: 'top1', top1: 0.9173, top5: 0.9978,
        params: { total: 269_722, prunable: 268_336, nonzero: 81_886, nonzeroPrunable: 80_500 },
        compressionRatio: 269_722 / 81_886, sparsity: 0.7, macs: { dense: 40_551_040, effective: 12_164_608 }, theoreticalSpeedup: 40_551_040 / 12_164_608,
      },
      latency: {
        provider: 'cpu', device: 'test cpu', batch1Ms: { p50: 1.2, p90: 1.4, p99: 1.9, p50Low: 1.1, p50High: 1.3 }, throughputBatch: 128, throughputPerSecond: 900,
        speedupVsDense: {
          batch1: { p50: 1.01, low: 0.97, high: 1.05, confidence: 0.95, withinNoise: true },
          throughput: { p50: 1, low: 0.98, high: 1.02, confidence: 0.95, withinNoise: true },
        },
      },
    };
    expect(formatEvalReport(report)).toBe([
      'cifar10-resnet20: the starting model',
      '  quality      top1 91.73 %, top5 99.78 % (test split)',
      '  parameters   269,722 total, 268,336 prunable, 81,886 nonzero (80,500 of them prunable)',
      "  sparsity     70.00 % of the starting model's prunable weights; compression 3.294x",
      '  MACs         40.55 M dense, 12.16 M effective; theoretical speed-up 3.334x',
      '  latency      cpu (test cpu): batch 1 p50 1.200 ms [1.100, 1.300]; 1.010x the starting model [0.970, 1.050] (within noise)',
      '',
    ].join('\n'));
  });
});

const data = process.env.PRUNEBENCH_DATA;
const weights = process.env.PRUNEBENCH_WEIGHTS;
if (!data || !weights) console.warn('SKIPPED: prunebench eval on CIFAR-10 ResNet-20 (a task, a run, a checkpoint) needs PRUNEBENCH_DATA and PRUNEBENCH_WEIGHTS');

describe.skipIf(!data || !weights)('prunebench eval on CIFAR-10 ResNet-20 (real data)', () => {
  const backend = ['--backend', 'wasm'];

  it('reports a run exactly as its record does, and the starting model as dense', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prunebench-eval-'));
    const suite = join(dir, 'suite.json');
    writeFileSync(suite, JSON.stringify({
      name: 'eval-check', tasks: [{ id: 'cifar10-resnet20', trainPerClass: 10, valSize: 100, testSize: 200 }],
      methods: [{ name: 'magnitude', options: { allocation: 'layerwise', finetune: false } }], targets: [{ sparsity: 0.7 }], seeds: [0], budget: 0, flatness: false,
    }));
    const store = join(dir, 'runs');
    const ran = await cli('run', suite, '--store', store, ...backend);
    expect(ran.code, ran.stderr).toBe(EXIT_OK);
    const record = new RunStore(store).records().find((r) => r.description.method === 'magnitude')!;
    const id = record.id;
    expect(record.description.target).toEqual({ kind: 'sparsity', fraction: 0.7 });

    const evaluated = await cli('eval', '--run', id, '--store', store, '--json', ...backend);
    expect(evaluated.code, evaluated.stderr).toBe(EXIT_OK);
    const report = JSON.parse(evaluated.stdout) as EvalReport;
    expect(report.task).toBe('cifar10-resnet20');
    expect(report.metrics.quality).toBe(record.metrics.quality);
    expect(report.metrics.params).toEqual(record.metrics.params);
    expect(report.metrics.sparsity).toBe(record.metrics.sparsity);
    expect(report.metrics.compressionRatio).toBe(record.metrics.compressionRatio);
    expect(report.metrics.macs).toEqual(record.metrics.macs);

    const start = await cli('eval', '--task', 'cifar10-resnet20', '--test-size', '200', '--json', ...backend);
    expect(start.code, start.stderr).toBe(EXIT_OK);
    const dense = JSON.parse(start.stdout) as EvalReport;
    expect(dense.metrics.sparsity).toBe(0);
    expect(dense.metrics.compressionRatio).toBe(1);
    expect(dense.metrics.params.total).toBe(269_722);
    expect(dense.metrics.macs.dense).toBe(40_551_040);
    expect(dense.metrics.quality).toBeGreaterThan(report.metrics.quality - 0.0001);

    // The run's final weights as a checkpoint file give the same figures.
    const checkpoint = await cli('eval', '--task', 'cifar10-resnet20', '--checkpoint', join(store, id, 'model.safetensors'), '--test-size', '200', '--json', ...backend);
    expect(checkpoint.code, checkpoint.stderr).toBe(EXIT_OK);
    expect((JSON.parse(checkpoint.stdout) as EvalReport).metrics).toEqual(report.metrics);
  });
});
