import { describe, expect, it } from 'vitest';
import { environmentSummary } from './environment-summary.js';
import { syntheticRecord } from './synthetic-records.js';

describe('environmentSummary', () => {
  it('shows the backend, device and WebGPU adapter of the runs, labelling a software adapter', () => {
    const base = syntheticRecord({ method: 'dense', target: null, seed: 0, quality: 0.9 });
    const env = { versions: {}, gitCommit: null, node: 'v20', platform: 'linux-x64', cpus: 2 };
    const records = [
      { ...base, environment: { ...env, backend: 'webgpu', device: 'llvmpipe (software adapter)', adapter: { description: 'llvmpipe', software: true } } },
      { ...base, environment: { ...env, backend: 'wasm', device: 'AMD EPYC (2 cores, x64)' } },
    ];
    const summary = new Map(environmentSummary(records).map((e) => [e.field, e.values]));
    expect(summary.get('backend')).toEqual(['wasm', 'webgpu']);
    expect(summary.get('WebGPU adapter')).toEqual(['llvmpipe (software adapter: correctness only, its times are no GPU speed figure)']);
  });
});
