import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { adapterDeviceName, probeWebgpuAdapter } from '@prunebench/engine';
import { createOrtSession, deviceName, type ExecutionProvider } from './session.js';
import { tinyConvOnnx } from './tiny-onnx.js';

/** How to get the provider libraries onnxruntime-node does not bundle (its install script downloads them). */
export const GPU_PROVIDER_INSTALL = "npm run setup -- --cuda (runs onnxruntime-node's install with ONNXRUNTIME_NODE_INSTALL=cuda12; needs CUDA 12 and cuDNN 9)";

/** The device an execution provider computes on, as recorded beside each latency figure. */
export interface ProviderDevice {
  device: string;
  /** A software adapter (llvmpipe, SwiftShader, a fallback adapter) runs on the CPU: never a GPU speed figure. */
  software: boolean;
}

export type ProviderProbe = ({ ok: true } & ProviderDevice) | { ok: false; reason: string };

/** The shared libraries a non-bundled provider needs beside onnxruntime-node's binding. */
const PROVIDER_LIBRARIES: Partial<Record<ExecutionProvider, string[]>> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'],
};

/**
 * Whether a provider starts here: its libraries are present and a session over a tiny conv model runs once on it.
 * Says why not (naming what to install for cuda/tensorrt). Nothing stays open afterwards.
 */
export async function probeExecutionProvider(provider: ExecutionProvider): Promise<ProviderProbe> {
  const missing = missingProviderLibraries(provider);
  if (missing.length > 0) {
    return { ok: false, reason: `onnxruntime-node has no ${provider} provider libraries here (missing ${missing.join(', ')}); install them with ${GPU_PROVIDER_INSTALL}` };
  }
  const previousLevel = ort.env.logLevel;
  ort.env.logLevel = 'fatal'; // the reason is returned; onnxruntime's own log line would only repeat it
  try {
    const session = await createOrtSession(tinyConvOnnx(), { provider, threads: 1 });
    try {
      await session.run({ x: new ort.Tensor('float32', new Float32Array(3 * 8 * 8), [1, 3, 8, 8]) });
    } finally {
      await session.release();
    }
  } catch (error) {
    const reason = (error as Error).message
      .replace(/^onnxruntime-node could not create a session with provider "[a-z]+": /, '')
      .replace(/^\/onnxruntime_src\/\S+ .*? was false\. /, ''); // the failed check's source location
    const hint = provider === 'webgpu' && /adapter/i.test(reason)
      ? ' (install a Vulkan GPU driver, or Mesa\'s lavapipe for a software adapter; VK_ICD_FILENAMES / VK_DRIVER_FILES choose the drivers)'
      : '';
    return { ok: false, reason: `${firstLine(reason)}${hint}` };
  } finally {
    ort.env.logLevel = previousLevel;
  }
  return { ok: true, ...(await providerDevice(provider)) };
}

/**
 * The device a provider runs on. webgpu: the adapter Dawn (the `webgpu` package) offers on this machine, the one
 * onnxruntime's own Dawn picks from the same drivers, labelled "(software adapter)" when it is a CPU rasterizer.
 */
export async function providerDevice(provider: ExecutionProvider): Promise<ProviderDevice> {
  if (provider !== 'webgpu') return { device: deviceName(provider), software: false };
  const probe = await probeWebgpuAdapter();
  if (!probe.ok) return { device: `webgpu adapter unknown (${probe.reason})`, software: false };
  return { device: adapterDeviceName(probe.adapter), software: probe.adapter.software };
}

/** The providers onnxruntime-node lists, with whether its package bundles them. */
export function listedProviders(): Array<{ name: string; bundled: boolean }> {
  return ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
}

function missingProviderLibraries(provider: ExecutionProvider): string[] {
  const needed = PROVIDER_LIBRARIES[provider] ?? [];
  if (needed.length === 0) return [];
  const bindingDir = onnxruntimeBindingDir();
  return needed.filter((file) => !existsSync(join(bindingDir, file)));
}

/** onnxruntime-node's native folder (bin/napi-v6/<platform>/<arch>), where it loads provider libraries from. */
function onnxruntimeBindingDir(): string {
  const packageDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
}

function firstLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).find((line) => line.length > 0) ?? text;
}
