import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initEngine, parseBackendRequest } from './backend.js';

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
