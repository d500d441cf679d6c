import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BackendRequestError, initEngine, parseBackendRequest, resolveBackendRequest } from './backend.js';

/** Whether an optional package can be imported here (tfjs-node and webgpu are optional dependencies). */
async function importable(name: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ name);
    return true;
  } catch {
    return false;
  }
}

describe('initEngine backend choice', () => {
  it('rejects unknown option names, listing the valid ones', async () => {
    await expect(initEngine({ backend: 'gpu' as never })).rejects.toThrow(/initEngine option backend: unknown backend 'gpu'; valid backends are auto, tensorflow, webgpu, wasm, cpu/);
    expect(() => parseBackendRequest('WASM', 'test')).toThrow(/unknown backend 'WASM'/);
    expect(parseBackendRequest('webgpu', 'test')).toBe('webgpu');
  });

  it('a forced tensorflow backend that is not installed fails fast, naming it and the packages', async () => {
    const hasTfjsNode = (await importable('@tensorflow/tfjs-node')) || (await importable('@tensorflow/tfjs-node-gpu'));
    const started = Date.now();
    const result = initEngine({ backend: 'tensorflow' });
    if (hasTfjsNode) {
      expect((await result).backend).toBe('tensorflow');
    } else {
      await expect(result).rejects.toThrow(/backend 'tensorflow' could not start: .*@tensorflow\/tfjs-node-gpu.*@tensorflow\/tfjs-node/);
      expect(Date.now() - started).toBeLessThan(5000);
    }
  });

  it('a forced webgpu backend either starts on a GPU adapter or says why not', async () => {
    try {
      const info = await initEngine({ backend: 'webgpu', webgpuTimeoutMs: 3000 });
      expect(info.backend).toBe('webgpu');
      expect(tf.getBackend()).toBe('webgpu');
    } catch (error) {
      expect((error as Error).message).toMatch(/backend 'webgpu' could not start: (no WebGPU adapter|the optional package 'webgpu'|navigator.gpu.requestAdapter)/);
    }
  });

  it("'auto' starts the first backend that works, never the slow cpu one here", async () => {
    const info = await initEngine({ backend: 'auto' });
    expect(['tensorflow', 'webgpu', 'wasm']).toContain(info.backend);
    expect(tf.getBackend()).toBe(info.backend);
    const hasTfjsNode = (await importable('@tensorflow/tfjs-node')) || (await importable('@tensorflow/tfjs-node-gpu'));
    if (!hasTfjsNode && info.backend === 'wasm') expect(info.customKernels).toContain('Conv2DBackpropFilter');
  });
});

describe('resolveBackendRequest: flag, then suite, then PRUNEBENCH_BACKEND, then auto', () => {
  const saved = process.env.PRUNEBENCH_BACKEND;
  const withEnv = <T>(value: string | undefined, fn: () => T): T => {
    if (value === undefined) delete process.env.PRUNEBENCH_BACKEND;
    else process.env.PRUNEBENCH_BACKEND = value;
    try {
      return fn();
    } finally {
      if (saved === undefined) delete process.env.PRUNEBENCH_BACKEND;
      else process.env.PRUNEBENCH_BACKEND = saved;
    }
  };

  it('takes the first that is given and says where it came from', () => {
    expect(withEnv('cpu', () => resolveBackendRequest({ flag: 'wasm', suite: 'webgpu' }))).toEqual({ request: 'wasm', source: '--backend' });
    expect(withEnv('cpu', () => resolveBackendRequest({ suite: 'webgpu' }))).toEqual({ request: 'webgpu', source: 'suite.backend' });
    expect(withEnv('cpu', () => resolveBackendRequest({}))).toEqual({ request: 'cpu', source: 'env PRUNEBENCH_BACKEND' });
    expect(withEnv(undefined, () => resolveBackendRequest())).toEqual({ request: 'auto', source: 'default' });
  });

  it('rejects an unknown name with a BackendRequestError naming its source (commands exit 2)', () => {
    expect(() => withEnv('foo', () => resolveBackendRequest({}))).toThrow(BackendRequestError);
    expect(() => withEnv('foo', () => resolveBackendRequest({}))).toThrow("env PRUNEBENCH_BACKEND: unknown backend 'foo'");
    expect(() => resolveBackendRequest({ flag: 'gpu' })).toThrow("--backend: unknown backend 'gpu'");
    // also when a higher source overrides it
    expect(() => withEnv('foo', () => resolveBackendRequest({ flag: 'wasm' }))).toThrow("env PRUNEBENCH_BACKEND: unknown backend 'foo'");
    expect(() => resolveBackendRequest({ flag: 'wasm', suite: 'gpu' })).toThrow("suite.backend: unknown backend 'gpu'");
  });
});

