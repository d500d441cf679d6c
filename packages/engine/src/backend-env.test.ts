import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initEngine } from './backend.js';

describe('PRUNEBENCH_WASM_THREADS', () => {
  it('rejects a bad value before any backend is tried, so "auto" does not fall through to cpu', async () => {
    const saved = process.env.PRUNEBENCH_WASM_THREADS;
    process.env.PRUNEBENCH_WASM_THREADS = 'many';
    try {
      await expect(initEngine({ backend: 'auto' })).rejects.toThrow("env PRUNEBENCH_WASM_THREADS: expected an integer from 1 to 8, got 'many'");
    } finally {
      if (saved === undefined) delete process.env.PRUNEBENCH_WASM_THREADS;
      else process.env.PRUNEBENCH_WASM_THREADS = saved;
    }
  });
});

describe('PRUNEBENCH_BACKEND', () => {
  const saved = process.env.PRUNEBENCH_BACKEND;
  afterAll(() => {
    if (saved === undefined) delete process.env.PRUNEBENCH_BACKEND;
    else process.env.PRUNEBENCH_BACKEND = saved;
  });

  it('rejects an unknown name from the environment, naming the variable and the valid backends', async () => {
    process.env.PRUNEBENCH_BACKEND = 'cuda';
    await expect(initEngine()).rejects.toThrow("env PRUNEBENCH_BACKEND: unknown backend 'cuda'; valid backends are auto, tensorflow, webgpu, wasm, cpu");
  });

  it('picks the backend named by the environment when no option is given', async () => {
    process.env.PRUNEBENCH_BACKEND = 'cpu';
    const info = await initEngine();
    expect(info.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('lets the option win over the environment', async () => {
    process.env.PRUNEBENCH_BACKEND = 'cpu';
    const info = await initEngine({ backend: 'wasm' });
    expect(info.backend).toBe('wasm');
  });
});
