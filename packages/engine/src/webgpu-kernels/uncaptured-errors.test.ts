import * as tf from '@tensorflow/tfjs';
import { describe, expect } from 'vitest';
import { BackendComputeError, initEngine, takeBackendErrors } from '../backend.js';
import { itRequires, webgpuRequirement } from '../testing/index.js';

const requirement = await webgpuRequirement();

describe('webgpu errors', () => {
  itRequires(requirement, 'an invalid GPU program is collected (not only printed), so a run can fail on it', async () => {
    await initEngine({ backend: 'webgpu' });
    takeBackendErrors();
    const device = (tf.backend() as unknown as { device: GPUDeviceLike }).device;
    device.createShaderModule({ code: 'fn main( {' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const errors = takeBackendErrors();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/WGSL/);
    expect(takeBackendErrors()).toEqual([]);
    expect(new BackendComputeError(errors).message).toMatch(/^the webgpu backend reported \d+ error\(s\) during the run, so its results are invalid: /);
  });
});

interface GPUDeviceLike {
  createShaderModule(descriptor: { code: string }): unknown;
}
