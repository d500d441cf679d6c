/**
 * Multi-threaded wasm in Node. tfjs-backend-wasm 4.22 always picks its single-threaded build in Node
 * (its WASM_HAS_MULTITHREAD_SUPPORT flag answers false there, tfjs#3830), although the threaded-SIMD build
 * it ships runs fine on Node: Emscripten maps pthreads onto worker_threads. This module registers the
 * 'wasm' backend on that build, so XNNPACK (convolutions, matmuls, and prunebench's kernels built on
 * them) splits its work over a thread pool. Kernels registered for 'wasm' are unchanged: the kernel
 * registry is keyed by backend name, and the backend object is tfjs's own BackendWasm. prunebench's own
 * JavaScript kernels split their loops over the same number of threads (wasm-kernels/heap-pool.ts).
 *
 * Threads do not change results: XNNPACK tiles its outputs the same way whatever the thread count and
 * every output element is summed by one thread, so runs stay bitwise reproducible (tested).
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { startHeapPool, type WasmMemoryLike } from './wasm-kernels/heap-pool.js';

/** XNNPACK's pool in tfjs-backend-wasm is capped at 8 threads (8 pre-started workers). */
export const MAX_WASM_THREADS = 8;
const WASM_PRIORITY = 2;

/**
 * Threads for the wasm backend: env `PRUNEBENCH_WASM_THREADS` (an integer 1..8), else the core count
 * (at most 8). 1 selects tfjs's stock single-threaded build.
 */
export function wasmThreadsRequested(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PRUNEBENCH_WASM_THREADS?.trim();
  if (raw === undefined || raw === '') return Math.max(1, Math.min(os.cpus().length, MAX_WASM_THREADS));
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(`env PRUNEBENCH_WASM_THREADS: expected an integer from 1 to ${MAX_WASM_THREADS}, got '${raw}'`);
  }
  return threads;
}

interface EmscriptenModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  [key: string]: unknown;
}
type ModuleFactory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/**
 * Replaces tfjs's 'wasm' backend registration with one on the threaded-SIMD build, `threads` threads.
 * Call before the backend is first started (tf.setBackend('wasm')).
 */
export async function registerThreadedWasmBackend(threads: number): Promise<void> {
  const require = createRequire(import.meta.url);
  const wasmPackage = await import('@tensorflow/tfjs-backend-wasm');
  const factoryPath = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const factory = require(factoryPath) as ModuleFactory;
  const workerPath = pthreadWorkerFile(require);

  if (tf.findBackendFactory('wasm') !== null) tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    const module = await withApparentCores(2 * threads, () =>
      factory({
        // Emscripten starts each pthread as `new Worker(<the .worker.js file>)`; the worker then loads the
        // factory script itself (mainScriptUrlOrBlob) to define the module in its own context.
        locateFile: (path: string) => (path.endsWith('.worker.js') ? workerPath : join(dirname(factoryPath), path)),
        mainScriptUrlOrBlob: factoryPath,
      }),
    );
    // The same bridge tfjs's own init() builds around the module.
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    keepWorkersFromHoldingTheProcess(module);
    wasmPackage.setThreadsCount(threads);
    const backend = new wasmPackage.BackendWasm(module as never);
    // prunebench's JavaScript kernels get the same number of threads, on the same shared heap.
    startHeapPool(module.wasmMemory as WasmMemoryLike, threads);
    return backend;
  }, WASM_PRIORITY);
}

interface PthreadWorker {
  ref(): unknown;
  unref(): unknown;
}

/**
 * Emscripten ref()s a worker while it runs a pthread, and XNNPACK's pool threads run for the life of the
 * process, so Node would never exit on its own. The pool's workers are unref()ed for good instead (Node
 * stops them when the process exits).
 */
function keepWorkersFromHoldingTheProcess(module: EmscriptenModule): void {
  const pthread = module.PThread as { unusedWorkers?: PthreadWorker[]; runningWorkers?: PthreadWorker[] } | undefined;
  for (const worker of [...(pthread?.unusedWorkers ?? []), ...(pthread?.runningWorkers ?? [])]) {
    worker.ref = () => worker;
    worker.unref();
  }
}

/**
 * The backend's C side caps its pool at `emscripten_num_logical_cores() / 2` (it assumes two hardware
 * threads per core), read once while the module starts; in Node that is `os.cpus().length`. So while the
 * module starts, os.cpus() reports `cores` entries; it is restored as soon as the module is ready.
 */
async function withApparentCores<T>(cores: number, start: () => Promise<T>): Promise<T> {
  const realCpus = os.cpus;
  os.cpus = () => {
    const real = realCpus();
    return Array.from({ length: cores }, (_, i) => real[i % real.length]!);
  };
  try {
    return await start();
  } finally {
    os.cpus = realCpus;
  }
}

/**
 * The pthread worker script ships inside a JS string (`wasmWorkerContents`); Node's Worker needs a file.
 * Written once per content into the temp directory (atomically: temporary name, then rename). The string
 * holds `\n` escapes that a template literal turned into newlines inside quoted strings; tfjs's browser
 * path escapes them back the same way.
 */
function pthreadWorkerFile(require: NodeJS.Require): string {
  const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as {
    wasmWorkerContents: string;
  };
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const path = join(os.tmpdir(), `prunebench-tfjs-wasm-pthread-${hash}.cjs`);
  if (!existsSync(path)) {
    const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(temporary, source);
    renameSync(temporary, path);
  }
  return path;
}
