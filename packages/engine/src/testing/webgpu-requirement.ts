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

/**
 * Timeout of a test that dispatches compiled-step kernels for the first time: lavapipe compiles a compute shader
 * at its first dispatch, 8–14 s per tiled-GEMM kernel on two busy cores with an empty shader cache
 * (~/.cache/mesa_shader_cache_db), and such a test meets tens of them. A warm cache takes seconds.
 */
export const FIRST_DISPATCH_TIMEOUT_MS = 900_000;
