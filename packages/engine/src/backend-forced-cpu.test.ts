import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { getEngineInfo, initEngine } from './backend.js';

describe('initEngine({ backend: "cpu" })', () => {
  it('throws from getEngineInfo before the engine starts', () => {
    expect(() => getEngineInfo()).toThrow(/initEngine/);
  });

  it('starts cpu, describes it, and is idempotent', async () => {
    const info = await initEngine({ backend: 'cpu' });
    expect(tf.getBackend()).toBe('cpu');
    expect(info.backend).toBe('cpu');
    expect(info.threads).toBe(1);
    expect(info.device).toMatch(/cores/);
    expect(info.versions.tfjs).toBe(tf.version.tfjs);
    expect(info.versions.backendPackage).toBe(`@tensorflow/tfjs-backend-cpu@${tf.version.tfjs}`);
    expect(info.versions.node).toBe(process.version);
    expect(info.customKernels).toEqual([]);
    const again = await initEngine({ backend: 'cpu' });
    expect(again).toBe(info);
    expect(getEngineInfo()).toEqual(info);
    expect(tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0]).toBe(5);
  });

  it('switches when a different backend is named later', async () => {
    const info = await initEngine({ backend: 'wasm' });
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(getEngineInfo().backend).toBe('wasm');
  });
});
