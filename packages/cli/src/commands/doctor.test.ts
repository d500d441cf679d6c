import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES } from '@prunebench/engine';
import { EXECUTION_PROVIDERS, probeExecutionProvider } from '@prunebench/metrics';
import { main } from '../cli.js';
import { EXIT_OK, EXIT_USAGE, type CliIO } from '../usage.js';
import { formatDoctorReport, runDoctor } from './doctor.js';

async function cli(...argv: string[]) {
  const io = { stdout: '', stderr: '', isTTY: false, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) } satisfies CliIO & Record<string, unknown>;
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

describe('prunebench doctor', () => {
  it('lists every tfjs backend and ONNX Runtime provider with a status; cpu and wasm start', async () => {
    const report = await runDoctor(120_000);
    expect(report.tfjs.map((e) => e.name)).toEqual([...BACKEND_NAMES]);
    expect(report.onnxruntime.map((e) => e.name)).toEqual([...EXECUTION_PROVIDERS]);
    for (const entry of [...report.tfjs, ...report.onnxruntime]) {
      expect(typeof entry.ok, entry.name).toBe('boolean');
      expect(entry.detail.length, `${entry.kind} ${entry.name}: a device or a reason`).toBeGreaterThan(0);
    }
    const tfjs = Object.fromEntries(report.tfjs.map((e) => [e.name, e]));
    expect(tfjs.cpu).toMatchObject({ ok: true, version: expect.stringContaining('@tensorflow/tfjs-backend-cpu@') });
    expect(tfjs.wasm).toMatchObject({ ok: true, version: expect.stringContaining('@tensorflow/tfjs-backend-wasm@'), threads: expect.any(Number) });
    const ort = Object.fromEntries(report.onnxruntime.map((e) => [e.name, e]));
    expect(ort.cpu).toMatchObject({ ok: true, detail: expect.stringMatching(/logical cores/), version: expect.stringMatching(/^onnxruntime-node@\d/) });
    if (!ort.cuda.ok) expect(ort.cuda.detail).toMatch(/cuda|CUDA/);
    // tfjs webgpu and ORT webgpu see the same drivers: both start or neither does.
    expect(ort.webgpu.ok).toBe(tfjs.webgpu.ok);
    if (ort.webgpu.ok && /llvmpipe|lavapipe|swiftshader/i.test(ort.webgpu.detail)) expect(ort.webgpu.software).toBe(true);

    const table = formatDoctorReport(report);
    for (const entry of [...report.tfjs, ...report.onnxruntime]) {
      expect(table).toMatch(new RegExp(`^  ${entry.name} +${entry.ok ? 'starts' : 'fails'} `, 'm'));
    }
  }, 300_000);

  it('reports a probe that does not answer in time as failed, with the reason', async () => {
    const report = await runDoctor(1);
    for (const entry of [...report.tfjs, ...report.onnxruntime]) expect(entry).toMatchObject({ ok: false, detail: 'did not answer within 0.001 s (killed)' });
  }, 60_000);

  it('labels software adapters and gives each failure its reason in the table', () => {
    const entry = (kind: 'tfjs' | 'ort', name: string, ok: boolean, detail: string, extra = {}) => ({ kind, name, ok, detail, seconds: 1, ...extra });
    const table = formatDoctorReport({
      node: 'v20', platform: 'linux-x64', cpu: 'Test CPU (2 logical cores)', environment: { VK_ICD_FILENAMES: '/nonexistent' },
      tfjs: [entry('tfjs', 'webgpu', false, 'no WebGPU adapter on this machine'), entry('tfjs', 'wasm', true, 'Test CPU', { threads: 2, version: '@tensorflow/tfjs-backend-wasm@4.22.0' })],
      onnxruntime: [entry('ort', 'webgpu', true, 'mesa llvmpipe', { software: true, version: 'onnxruntime-node@1.30.0' })],
    });
    expect(table).toContain('environment: VK_ICD_FILENAMES=/nonexistent');
    expect(table).toMatch(/^ {2}webgpu +fails +no WebGPU adapter on this machine$/m);
    expect(table).toMatch(/^ {2}wasm +starts +Test CPU, 2 threads \[@tensorflow\/tfjs-backend-wasm@4\.22\.0\]$/m);
    expect(table).toMatch(/^ {2}webgpu +starts +mesa llvmpipe \(software adapter\) \[onnxruntime-node@1\.30\.0\]$/m);
    expect(table).toContain('never a GPU speed figure');
  });

  it('has --help and rejects bad usage with exit 2', async () => {
    const help = await cli('doctor', '--help');
    expect(help.code).toBe(EXIT_OK);
    expect(help.stdout).toMatch(/^Usage: prunebench doctor/);
    expect((await cli('--help')).stdout).toMatch(/^ {2}doctor {2,}/m);
    const timeout = await cli('doctor', '--timeout', '0');
    expect(timeout.code).toBe(EXIT_USAGE);
    expect(timeout.stderr).toContain('doctor: --timeout must be a positive number of seconds, got "0"');
    expect((await cli('doctor', 'now')).code).toBe(EXIT_USAGE);
  });
});

describe('prunebench run with latency providers', () => {
  it('stops before any training when a suite asks for a provider that cannot start, naming it and what to install', async () => {
    const cuda = await probeExecutionProvider('cuda');
    if (cuda.ok) return expect(cuda.device.length).toBeGreaterThan(0); // a CUDA machine: nothing to refuse
    const dir = mkdtempSync(join(tmpdir(), 'prunebench-latency-'));
    const suite = join(dir, 'suite.json');
    writeFileSync(suite, JSON.stringify({
      name: 'x', tasks: ['cifar10-resnet20'], methods: ['magnitude'], targets: [{ compression: 2 }], seeds: [0], budget: 10,
      latency: { providers: ['cpu', 'cuda'] },
    }));
    const run = await cli('run', suite, '--store', join(dir, 'runs'), '--data', join(dir, 'no-data'));
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.stderr).toContain('suite.latency.providers[1]: ONNX Runtime provider "cuda" cannot start here:');
    expect(run.stderr).toContain('npm run setup -- --cuda');
    expect(run.stderr).not.toContain('[1/'); // no run started
  }, 60_000);
});
