import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initEngine } from './backend.js';

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
