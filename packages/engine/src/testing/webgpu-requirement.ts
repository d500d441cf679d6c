import { probeWebgpuAdapter } from '../backend.js';
import type { TestRequirement } from './required-in-ci.js';

/**
 * The requirement of tests that run on tfjs's webgpu backend: a WebGPU adapter (a software one counts: CI
 * installs Mesa's lavapipe). Resolved once per test file, at collection time (top-level await).
 */
export async function webgpuRequirement(): Promise<TestRequirement> {
  const probe = await probeWebgpuAdapter(10_000);
  return {
    what: 'a WebGPU adapter',
    missing: probe.ok ? undefined : probe.reason,
    install: 'npm run setup (installs Mesa\'s software Vulkan driver, lavapipe), or a GPU with a Vulkan driver',
  };
}
