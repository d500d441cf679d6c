/**
 * Starting tfjs on the best backend this machine has: tensorflow (libtensorflow through tfjs-node[-gpu],
 * optional, often not installable), webgpu (Dawn for Node via the optional `webgpu` package, only where a
 * GPU adapter exists), wasm (XNNPACK, the practical CPU backend; gets prunebench's training kernels), cpu.
 * tfjs is a process-global singleton, so this module is too.
 */
import { compiledStepEnv } from './compiled-step/env.js';
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { registerWasmTrainingKernels, wasmTrainingKernelNames } from './wasm-kernels/register.js';
import { registerThreadedWasmBackend, wasmThreadsRequested } from './wasm-threads.js';
import { registerWebgpuKernels, webgpuKernelNames } from './webgpu-kernels/register.js';

export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendRequest = 'auto' | BackendName;

export interface EngineInfo {
  backend: BackendName;
  /** CPU model (cpu, wasm, tensorflow) or the GPU adapter's description (webgpu). */
  device: string;
  versions: {
    tfjs: string;
    /** The npm package that provides the backend, as `name@version`. */
    backendPackage: string;
    node: string;
  };
  /** Threads the backend computes with, where it says (wasm: XNNPACK's pool, env PRUNEBENCH_WASM_THREADS; cpu: 1). */
  threads?: number;
  /** prunebench kernels registered for this backend (wasm: training kernels; webgpu: replaced kernels). */
  customKernels: string[];
  /** The WebGPU adapter (webgpu only); `software` marks a CPU rasterizer (llvmpipe, SwiftShader, fallback adapters). */
  adapter?: WebgpuAdapterDescription;
}

export interface WebgpuAdapterDescription {
  description: string;
  /** A software adapter runs on the CPU: good for correctness and host-side costs, never a GPU speed figure. */
  software: boolean;
}

export interface InitEngineOptions {
  /** Which backend to start; default: env `PRUNEBENCH_BACKEND`, else 'auto' (see resolveBackendRequest). */
  backend?: BackendRequest;
  /** How long 'webgpu' may take to answer for a GPU adapter (default 5000 ms). */
  webgpuTimeoutMs?: number;
}

type Attempt = { ok: true; info: EngineInfo } | { ok: false; reason: string };

const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let current: EngineInfo | null = null;
let starting: Promise<EngineInfo> | null = null;
/** What started each backend, so getEngineInfo can describe it again later. */
const started = new Map<BackendName, { device: string; backendPackage: string; adapter?: WebgpuAdapterDescription }>();
/** The wasm backend's thread count, known once it is imported (importing the engine does not load wasm). */
let wasmThreadCount: (() => number) | null = null;

/** Parses a backend request from an option or the environment, rejecting unknown names. */
export function parseBackendRequest(value: string, source: string): BackendRequest {
  const valid: readonly string[] = ['auto', ...BACKEND_NAMES];
  if (!valid.includes(value)) {
    throw new Error(`${source}: unknown backend '${value}'; valid backends are ${valid.join(', ')}`);
  }
  return value as BackendRequest;
}

/** An unknown backend name, from a flag, a suite or the environment: a usage error (commands exit 2). */
export class BackendRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendRequestError';
  }
}

export interface ResolvedBackendRequest {
  request: BackendRequest;
  /** Where it came from, for messages and records: '--backend', 'suite.backend', 'env PRUNEBENCH_BACKEND' or 'default'. */
  source: string;
}

/**
 * The one rule every command follows for which backend to start: the command's flag, then the suite's
 * `backend`, then env `PRUNEBENCH_BACKEND`, then 'auto'. An unknown name anywhere, even one a higher source
 * overrides, is a BackendRequestError naming its source.
 */
export function resolveBackendRequest(given: { flag?: string; suite?: string } = {}): ResolvedBackendRequest {
  const candidates: Array<[string | undefined, string]> = [
    [given.flag, '--backend'],
    [given.suite, 'suite.backend'],
    [process.env.PRUNEBENCH_BACKEND, 'env PRUNEBENCH_BACKEND'],
  ];
  // Every value given is checked, also those a higher one overrides: a typo never passes silently.
  const resolved = candidates.filter(([value]) => value !== undefined && value.trim() !== '').map(([value, source]) => {
    try {
      return { request: parseBackendRequest(value!.trim(), source), source };
    } catch (error) {
      throw new BackendRequestError((error as Error).message);
    }
  });
  return resolved[0] ?? { request: 'auto', source: 'default' };
}

function requestedBackend(options: InitEngineOptions): BackendRequest {
  if (options.backend !== undefined) return parseBackendRequest(String(options.backend), 'initEngine option backend');
  return resolveBackendRequest().request;
}

/**
 * Starts tfjs on the requested backend ('auto': the first of tensorflow, webgpu on a hardware adapter, wasm,
 * cpu that starts; a software WebGPU adapter is used only when 'webgpu' is named).
 * Idempotent: a second call returns the running engine unless it names a different backend, which is
 * then started. A named backend that cannot start is an error that says why.
 */
export async function initEngine(options: InitEngineOptions = {}): Promise<EngineInfo> {
  const request = requestedBackend(options);
  // Checked up front: a bad value must be an error, not a reason for 'auto' to fall through to cpu.
  wasmThreadsRequested();
  compiledStepEnv();
  const timeoutMs = options.webgpuTimeoutMs ?? 5000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`initEngine option webgpuTimeoutMs must be a positive number, got ${timeoutMs}`);
  }
  while (starting !== null) await starting.catch(() => undefined);
  if (current !== null && (request === 'auto' || request === current.backend) && tf.getBackend() === current.backend) {
    return current;
  }
  starting = start(request, timeoutMs);
  try {
    current = await starting;
    return current;
  } finally {
    starting = null;
  }
}

async function start(request: BackendRequest, webgpuTimeoutMs: number): Promise<EngineInfo> {
  const order: BackendName[] = request === 'auto' ? [...BACKEND_NAMES] : [request];
  const reasons: string[] = [];
  for (const name of order) {
    const attempt = await tryBackend(name, webgpuTimeoutMs, request === 'auto');
    if (attempt.ok) return attempt.info;
    reasons.push(`${name}: ${attempt.reason}`);
  }
  if (request !== 'auto') throw new Error(`backend '${request}' could not start: ${reasons[0]!.slice(request.length + 2)}`);
  throw new Error(`no tfjs backend could start (${reasons.join('; ')})`);
}

async function tryBackend(name: BackendName, webgpuTimeoutMs: number, automatic: boolean): Promise<Attempt> {
  try {
    switch (name) {
      case 'tensorflow': return await tryTensorflow();
      case 'webgpu': return await tryWebgpu(webgpuTimeoutMs, automatic);
      case 'wasm': return await tryWasm();
      case 'cpu': return await activate('cpu', cpuModel(), `@tensorflow/tfjs-backend-cpu@${tf.version.tfjs}`);
    }
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

async function activate(name: BackendName, device: string, backendPackage: string, adapter?: WebgpuAdapterDescription): Promise<Attempt> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) return { ok: false, reason: `tf.setBackend('${name}') failed (see the tfjs warning above)` };
  await tf.ready();
  started.set(name, { device, backendPackage, ...(adapter ? { adapter } : {}) });
  return { ok: true, info: describe(name) };
}

/** Imports an optional package by a name TypeScript and the bundler do not resolve ahead of time. */
async function importOptional(packageName: string): Promise<Record<string, any>> {
  return (await import(/* @vite-ignore */ packageName)) as Record<string, any>;
}

async function tryTensorflow(): Promise<Attempt> {
  const missing: string[] = [];
  for (const packageName of TENSORFLOW_PACKAGES) {
    let loaded: Record<string, any>;
    try {
      loaded = await importOptional(packageName);
    } catch (error) {
      missing.push(`${packageName} (${firstLine(error)})`);
      continue;
    }
    const version = String(loaded.version?.['tfjs-node'] ?? packageVersion(packageName));
    const device = packageName.endsWith('-gpu') ? `CUDA GPU via libtensorflow; host ${cpuModel()}` : cpuModel();
    return activate('tensorflow', device, `${packageName}@${version}`);
  }
  return { ok: false, reason: `neither is installed: ${missing.join(', ')}` };
}

interface WebgpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
}

const SOFTWARE_ADAPTER_PATTERN = /llvmpipe|lavapipe|swiftshader|softpipe|software|basic render/i;

/** A CPU rasterizer posing as a GPU: Mesa's llvmpipe/lavapipe, SwiftShader, any adapter WebGPU calls a fallback. */
export function isSoftwareAdapter(info: WebgpuAdapterLike['info'] & { isFallbackAdapter?: boolean }, isFallbackAdapter = false): boolean {
  if (isFallbackAdapter || info?.isFallbackAdapter === true) return true;
  return [info?.architecture, info?.device, info?.description].some((s) => s !== undefined && SOFTWARE_ADAPTER_PATTERN.test(s));
}

/** The device name of an adapter as records and reports show it: software adapters say so. */
export function adapterDeviceName(adapter: WebgpuAdapterDescription): string {
  return adapter.software ? `${adapter.description} (software adapter)` : adapter.description;
}

function describeAdapter(adapter: WebgpuAdapterLike): WebgpuAdapterDescription {
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s);
  return { description: parts.join(' ') || 'WebGPU adapter', software: isSoftwareAdapter(info, adapter.isFallbackAdapter === true) };
}

/**
 * The WebGPU adapter Dawn offers here, or why there is none; nothing of tfjs is started. Used by `initEngine`
 * and by the doctor command.
 */
export async function probeWebgpuAdapter(timeoutMs = 5000): Promise<{ ok: true; adapter: WebgpuAdapterDescription } | { ok: false; reason: string }> {
  try {
    const found = await requestWebgpuAdapter(timeoutMs);
    return 'reason' in found ? { ok: false, reason: found.reason } : { ok: true, adapter: describeAdapter(found.adapter) };
  } catch (error) {
    return { ok: false, reason: firstLine(error) };
  }
}

async function requestWebgpuAdapter(timeoutMs: number): Promise<{ reason: string } | { dawn: Record<string, any>; gpu: any; adapter: WebgpuAdapterLike }> {
  let dawn: Record<string, any>;
  try {
    dawn = await importOptional('webgpu');
  } catch (error) {
    return { reason: `the optional package 'webgpu' (Dawn for Node) does not load: ${firstLine(error)}` };
  }
  const gpu = dawn.create([]);
  const adapter = (await withTimeout(gpu.requestAdapter(), timeoutMs, 'navigator.gpu.requestAdapter()')) as WebgpuAdapterLike | null;
  if (adapter === null || adapter === undefined) return { reason: 'no WebGPU adapter on this machine' };
  return { dawn, gpu, adapter };
}

async function tryWebgpu(timeoutMs: number, automatic: boolean): Promise<Attempt> {
  const previous = started.get('webgpu');
  if (previous?.adapter && tf.findBackend('webgpu') !== null) {
    // Once started, tfjs's webgpu backend keeps its device. Asking Dawn for a new instance and adapter each time
    // (and dropping them) crashed the process at random when a run or test switched back to webgpu.
    if (automatic && previous.adapter.software) {
      return { ok: false, reason: `only a software adapter (${previous.adapter.description}); 'auto' never picks one, name --backend webgpu to use it` };
    }
    return activate('webgpu', previous.device, previous.backendPackage, previous.adapter);
  }
  const found = await requestWebgpuAdapter(timeoutMs);
  if ('reason' in found) return { ok: false, reason: found.reason };
  const { dawn, gpu, adapter } = found;
  const described = describeAdapter(adapter);
  if (automatic && described.software) {
    return { ok: false, reason: `only a software adapter (${described.description}); 'auto' never picks one, name --backend webgpu to use it` };
  }
  // tfjs-backend-webgpu looks for navigator.gpu and the GPU* constants as globals when it is imported.
  Object.assign(globalThis, dawn.globals);
  const global = globalThis as unknown as { navigator?: Record<string, unknown> };
  if (global.navigator === undefined) global.navigator = { gpu };
  else Object.defineProperty(global.navigator, 'gpu', { value: gpu, configurable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  const device = adapterDeviceName(described);
  const attempt = await activate('webgpu', device, `@tensorflow/tfjs-backend-webgpu@${packageVersion('@tensorflow/tfjs-backend-webgpu')}`, described);
  if (attempt.ok) {
    registerWebgpuKernels();
    collectUncapturedErrors();
  }
  return attempt;
}

async function tryWasm(): Promise<Attempt> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasmThreadCount = wasm.getThreadsCount;
  const threads = wasmThreadsRequested();
  const packageName = `@tensorflow/tfjs-backend-wasm@${wasm.version_wasm}`;
  let attempt: Attempt;
  if (threads > 1 && tf.findBackend('wasm') === null) {
    // The stock registration is kept so a machine where the threaded build cannot start still gets wasm.
    const stockFactory = tf.findBackendFactory('wasm');
    await registerThreadedWasmBackend(threads);
    attempt = await activate('wasm', cpuModel(), `${packageName} (threaded-SIMD build)`);
    if (!attempt.ok && stockFactory !== null) {
      console.warn(`prunebench: the threaded wasm build did not start (${attempt.reason}); using the single-threaded one`);
      tf.removeBackend('wasm');
      tf.registerBackend('wasm', stockFactory, 2);
      attempt = await activate('wasm', cpuModel(), packageName);
    }
  } else {
    attempt = await activate('wasm', cpuModel(), packageName);
  }
  if (attempt.ok) {
    registerWasmTrainingKernels();
    attempt.info = describe('wasm');
  }
  return attempt;
}

/** WebGPU validation and out-of-memory errors since the last takeBackendErrors(), in order. */
const backendErrors: string[] = [];

/**
 * WebGPU reports an invalid pipeline or an allocation failure as an "uncaptured error" event while the
 * command goes on and yields garbage; collect them so a run can be failed instead of recorded.
 */
function collectUncapturedErrors(): void {
  const device = (tf.backend() as unknown as { device?: EventTarget }).device;
  device?.addEventListener('uncapturederror', (event) => {
    const error = (event as Event & { error?: { message?: string } }).error;
    backendErrors.push(firstLine(error?.message ?? String(event)));
  });
}

/** Returns and clears the backend errors seen since the last call (webgpu only; always empty elsewhere). */
export function takeBackendErrors(): string[] {
  return backendErrors.splice(0, backendErrors.length);
}

/** The backend reported errors while a run computed: its numbers cannot be trusted, so the run fails. */
export class BackendComputeError extends Error {
  constructor(readonly errors: readonly string[]) {
    super(`the ${tf.getBackend()} backend reported ${errors.length} error(s) during the run, so its results are invalid: ${errors.slice(0, 3).join('; ')}${errors.length > 3 ? '; ...' : ''}`);
    this.name = 'BackendComputeError';
  }
}

function describe(name: BackendName): EngineInfo {
  const known = started.get(name);
  const info: EngineInfo = {
    backend: name,
    device: known?.device ?? cpuModel(),
    versions: { tfjs: tf.version.tfjs, backendPackage: known?.backendPackage ?? 'unknown', node: process.version },
    customKernels: name === 'wasm' ? wasmTrainingKernelNames() : name === 'webgpu' ? webgpuKernelNames() : [],
  };
  if (known?.adapter) info.adapter = known.adapter;
  if (name === 'cpu') info.threads = 1;
  if (name === 'wasm' && wasmThreadCount !== null) info.threads = wasmThreadCount();
  return info;
}

/** The adapter the webgpu backend started on (null before it started), without needing the engine to be current. */
export function startedWebgpuAdapter(): WebgpuAdapterDescription | null {
  return started.get('webgpu')?.adapter ?? null;
}

/** Describes the running engine. Throws if initEngine() has not run. */
export function getEngineInfo(): EngineInfo {
  if (current === null) throw new Error('getEngineInfo: the engine is not started; call initEngine() first');
  const live = tf.getBackend() as BackendName;
  if (live !== current.backend && (BACKEND_NAMES as readonly string[]).includes(live)) current = describe(live);
  else current = describe(current.backend);
  return current;
}

function cpuModel(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model?.trim() || 'unknown CPU';
  return `${model} (${cpus.length} cores, ${os.arch()})`;
}

function packageVersion(packageName: string): string {
  try {
    const require = createRequire(import.meta.url);
    return String((require(`${packageName}/package.json`) as { version: string }).version);
  } catch {
    return 'unknown';
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
