import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import os from 'node:os';
import * as ort from 'onnxruntime-node';

export type ExecutionProvider = 'cpu' | 'webgpu' | 'cuda' | 'tensorrt';
export const EXECUTION_PROVIDERS: ReadonlyArray<ExecutionProvider> = ['cpu', 'webgpu', 'cuda', 'tensorrt'];

/** The session settings every latency figure is measured with (also used by direct timing loops, for comparison). */
export interface OrtSessionSettings {
  provider: ExecutionProvider;
  /** Intra-op threads (the CPU thread pool; also used by CPU fallback ops under GPU providers). */
  threads: number;
  /**
   * Whether idle intra-op threads busy-wait for work (onnxruntime's `session.intra_op.allow_spinning`).
   * Default false: on a shared machine spinning threads fight other jobs for the cores (measured on 2 busy
   * cores: ResNet-56 batch-1 p50 10.7 ms spinning vs 3.0 ms not). Turn on for a dedicated machine.
   */
  spinning?: boolean;
}

/** The fixed session options: given intra-op threads and spinning, one inter-op thread, sequential execution, all graph optimisations. */
export function ortSessionOptions(settings: OrtSessionSettings): ort.InferenceSession.SessionOptions {
  if (!EXECUTION_PROVIDERS.includes(settings.provider)) {
    throw new Error(`provider must be one of ${EXECUTION_PROVIDERS.join(', ')}, got "${settings.provider}"`);
  }
  if (!Number.isInteger(settings.threads) || settings.threads < 1) throw new Error(`threads must be a positive integer, got ${settings.threads}`);
  return {
    // By name only: onnxruntime-node's binding reads nothing but `deviceId` from a provider object, and for tensorrt
    // it fills the V2 provider options, with which TensorRT also ignores ORT_TENSORRT_* environment variables. So
    // `trt_sparsity_enable` (2:4 kernels) cannot be turned on from here: N:M latency is dense latency on every provider.
    executionProviders: [settings.provider],
    intraOpNumThreads: settings.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: settings.spinning ? '1' : '0' } } },
  };
}

/** An onnxruntime-node session over ONNX bytes with the fixed latency settings. */
export async function createOrtSession(onnxBytes: Uint8Array, settings: OrtSessionSettings): Promise<ort.InferenceSession> {
  if (!(onnxBytes instanceof Uint8Array) || onnxBytes.length === 0) throw new Error('onnxBytes must be a non-empty Uint8Array');
  const options = ortSessionOptions(settings);
  try {
    return await ort.InferenceSession.create(onnxBytes, options);
  } catch (error) {
    throw new Error(`onnxruntime-node could not create a session with provider "${settings.provider}": ${(error as Error).message}`);
  }
}

/** Versions recorded with every latency figure. */
export function latencyToolVersions(): Record<string, string> {
  return { onnxruntimeNode: ort.env.versions.node ?? 'unknown', tinybench: tinybenchVersion(), node: process.version };
}

function tinybenchVersion(): string {
  try {
    // tinybench's exports map hides package.json; read it beside the resolved entry (dist/index.js).
    const entry = createRequire(import.meta.url).resolve('tinybench');
    return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The device a provider runs on: the CPU model for 'cpu', the NVIDIA GPU name (from nvidia-smi) when one is visible for GPU providers. */
export function deviceName(provider: ExecutionProvider): string {
  const cpu = `${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'} (${os.cpus().length} logical cores)`;
  if (provider === 'cpu') return cpu;
  let gpu = 'GPU name unknown';
  try {
    gpu = execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000 }).trim().split('\n')[0] || gpu;
  } catch {
    // no nvidia-smi: the adapter is whatever the provider picked
  }
  return `${provider} on ${gpu}; host ${cpu}`;
}
