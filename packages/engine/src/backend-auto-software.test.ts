// In a file of its own: the first engine start of this process is the 'auto' one under test.
import { describe, expect, it } from 'vitest';
import { initEngine, isSoftwareAdapter, probeWebgpuAdapter } from './backend.js';

describe("'auto' and software WebGPU adapters", () => {
  it('never picks a software adapter (llvmpipe, SwiftShader, fallback adapters) over wasm', async () => {
    const probe = await probeWebgpuAdapter(5000);
    const info = await initEngine({ backend: 'auto' });
    if (probe.ok && probe.adapter.software) expect(info.backend).toBe('wasm');
    else if (probe.ok) expect(info.backend).toBe('webgpu');
    else expect(info.backend).not.toBe('webgpu');
  });

  it('recognises software adapters by the fallback flag, architecture or name', () => {
    expect(isSoftwareAdapter({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', description: 'SwiftShader Device (Subzero)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }, true)).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' })).toBe(false);
  });
});
