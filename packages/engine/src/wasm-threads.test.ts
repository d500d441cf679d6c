import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRepoRoot } from './repo-root.js';
import { MAX_WASM_THREADS, wasmThreadsRequested } from './wasm-threads.js';

describe('wasmThreadsRequested', () => {
  it('defaults to the core count, at most 8', () => {
    expect(wasmThreadsRequested({})).toBe(Math.max(1, Math.min(os.cpus().length, MAX_WASM_THREADS)));
    expect(wasmThreadsRequested({ PRUNEBENCH_WASM_THREADS: ' ' })).toBe(Math.max(1, Math.min(os.cpus().length, MAX_WASM_THREADS)));
  });

  it('takes an integer from 1 to 8 from PRUNEBENCH_WASM_THREADS', () => {
    expect(wasmThreadsRequested({ PRUNEBENCH_WASM_THREADS: '1' })).toBe(1);
    expect(wasmThreadsRequested({ PRUNEBENCH_WASM_THREADS: '3' })).toBe(3);
    expect(wasmThreadsRequested({ PRUNEBENCH_WASM_THREADS: '8' })).toBe(8);
  });

  it.each(['0', '9', '1.5', 'two', '-1'])('rejects %j, naming the variable', (value) => {
    expect(() => wasmThreadsRequested({ PRUNEBENCH_WASM_THREADS: value })).toThrow(
      `env PRUNEBENCH_WASM_THREADS: expected an integer from 1 to 8, got '${value}'`);
  });
});

describe('the threaded wasm build', () => {
  const root = findRepoRoot()!;
  const fingerprint = (threads: number) => {
    const child = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'packages/engine/src/testing/threads-fingerprint.ts')], {
      env: { ...process.env, PRUNEBENCH_WASM_THREADS: String(threads) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    // A child that hangs (a worker keeping Node alive) is killed by the timeout and fails here.
    expect(child.status, `child with ${threads} thread(s): ${child.stderr}`).toBe(0);
    return JSON.parse(child.stdout.trim().split('\n').pop()!) as { threads: number; backendPackage: string; sha256: string };
  };

  it('computes bitwise the same forward and backward pass with 1, 2 and 3 threads, and exits on its own', () => {
    const one = fingerprint(1);
    const two = fingerprint(2);
    const three = fingerprint(3);
    expect(one.threads).toBe(1);
    expect(one.backendPackage).not.toContain('threaded');
    expect(two.threads).toBe(2);
    expect(two.backendPackage).toContain('(threaded-SIMD build)');
    expect(three.threads).toBe(3);
    expect(two.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(two.sha256).toBe(one.sha256);
    expect(three.sha256).toBe(one.sha256);
  });
});
