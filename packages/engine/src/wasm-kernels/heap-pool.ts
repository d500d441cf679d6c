/**
 * A small pool of worker threads for prunebench's JavaScript wasm kernels. On the threaded wasm build the
 * wasm heap is a SharedArrayBuffer, so helper threads can read and write tensors in place: a kernel's parts
 * (heap-tasks.ts) are spread over the calling thread and `threads − 1` helpers, and the caller blocks
 * (Atomics.wait) until every part is done. Kernels are synchronous, so there is no await anywhere.
 *
 * Without a shared heap (the stock single-threaded build) or with one thread, `runHeapTask` runs the parts
 * in order on the calling thread: the same parts, the same results.
 */
import { Script } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { HEAP_TASKS, type HeapTaskName } from './heap-tasks.js';

const TASK_NAMES = Object.keys(HEAP_TASKS) as HeapTaskName[];
const MAX_ARRAYS = 4;
const MAX_PARAMS = 8;
/** Float64 scratch shared with the helpers: per-channel vectors and partial sums (4 MiB). */
const SCRATCH_LENGTH = 1 << 19;
const HELPER_TIMEOUT_MS = 60_000;
/** Below this many elements waking the helpers costs more than it saves. */
const MIN_PARALLEL_ELEMENTS = 32_768;

// Control words (Int32): one "go" word per helper, then the done counter and an error flag.
const DONE = 0, ERROR = 1;
// Job words (Float64): task index, parts, array count, (byte offset, length) per array, params.
const JOB_TASK = 0, JOB_PARTS = 1, JOB_ARRAYS = 2, JOB_ARRAY_AT = 3, JOB_PARAMS_AT = JOB_ARRAY_AT + 2 * MAX_ARRAYS;

/** A WebAssembly.Memory (the lib settings here have no WebAssembly types); shared when `buffer` is. */
export interface WasmMemoryLike {
  readonly buffer: ArrayBufferLike;
}

interface Pool {
  memory: WasmMemoryLike;
  helpers: Worker[];
  go: Int32Array;
  status: Int32Array;
  job: Float64Array;
  scratch: Float64Array;
  error: Uint8Array;
}

let pool: Pool | null = null;
let serialScratch = new Float64Array(0);

/** Starts `threads − 1` helpers on a shared wasm memory (idempotent; a different memory restarts them). */
export function startHeapPool(memory: WasmMemoryLike, threads: number): void {
  if (pool !== null && pool.memory === memory && pool.helpers.length === threads - 1) return;
  stopHeapPool();
  if (threads < 2 || !(memory.buffer instanceof SharedArrayBuffer)) return;
  const go = new Int32Array(new SharedArrayBuffer(4 * (threads - 1)));
  const status = new Int32Array(new SharedArrayBuffer(8));
  const job = new Float64Array(new SharedArrayBuffer(8 * (JOB_PARAMS_AT + MAX_PARAMS)));
  const scratch = new Float64Array(new SharedArrayBuffer(8 * SCRATCH_LENGTH));
  const error = new Uint8Array(new SharedArrayBuffer(2048));
  const source = helperSource();
  new Script(source, { filename: 'prunebench-heap-pool-helper.js' }); // a syntax error shows here, not as a hang
  const helpers = Array.from({ length: threads - 1 }, (_, index) => {
    const worker = new Worker(source, {
      eval: true,
      workerData: { memory, go: go.buffer, status: status.buffer, job: job.buffer, scratch: scratch.buffer, error: error.buffer, index, helpers: threads - 1 },
    });
    worker.unref(); // idle helpers block in Atomics.wait and must not keep Node alive
    // A helper that dies leaves its parts undone: the caller then stops with an error after HELPER_TIMEOUT_MS.
    worker.on('error', (error) => console.error(`prunebench: a wasm heap-pool helper thread failed: ${error.stack ?? error}`));
    return worker;
  });
  pool = { memory, helpers, go, status, job, scratch, error };
}

export function stopHeapPool(): void {
  if (pool === null) return;
  for (const helper of pool.helpers) void helper.terminate();
  pool = null;
}

/**
 * A float64 scratch array of at least `length` values for one heap task sequence; the pool's shared one
 * when the pool can take `arrays`, else a private one. Valid until the next call.
 */
export function heapScratch(length: number, arrays: readonly Float32Array[]): Float64Array {
  if (usesPool(arrays) && length <= SCRATCH_LENGTH) return pool!.scratch;
  if (serialScratch.length < length) serialScratch = new Float64Array(length);
  return serialScratch;
}

/** Only views of the shared wasm heap can go to the helpers (they rebuild them from byte offsets). */
function usesPool(arrays: readonly Float32Array[]): boolean {
  return pool !== null && arrays.every((a) => a.buffer instanceof SharedArrayBuffer);
}

/**
 * Runs task `name` over `parts` parts of `arrays`, with params `params` and `scratch` from heapScratch;
 * returns when every part is done. Shared arrays must be views of the wasm heap (typedArrayFromHeap);
 * other arrays (tests, the stock build) make it run serially.
 */
export function runHeapTask(name: HeapTaskName, arrays: Float32Array[], scratch: Float64Array, params: number[], parts: number): void {
  const task = HEAP_TASKS[name];
  const p = Float64Array.from(params);
  if (pool === null || scratch !== pool.scratch || !usesPool(arrays) || (arrays[0]?.length ?? 0) < MIN_PARALLEL_ELEMENTS) {
    for (let part = 0; part < parts; part++) task(arrays, scratch, p, part, parts);
    return;
  }
  const { helpers, go, status, job, error } = pool;
  if (arrays.length > MAX_ARRAYS || params.length > MAX_PARAMS) throw new Error(`heap task ${name}: too many arrays or params`);
  job[JOB_TASK] = TASK_NAMES.indexOf(name);
  job[JOB_PARTS] = parts;
  job[JOB_ARRAYS] = arrays.length;
  arrays.forEach((a, i) => {
    job[JOB_ARRAY_AT + 2 * i] = a.byteOffset;
    job[JOB_ARRAY_AT + 2 * i + 1] = a.length;
  });
  params.forEach((v, i) => (job[JOB_PARAMS_AT + i] = v));
  Atomics.store(status, DONE, 0);
  for (let i = 0; i < helpers.length; i++) {
    Atomics.store(go, i, 1);
    Atomics.notify(go, i);
  }
  // Parts are dealt round-robin: thread t (0 = this one) takes parts t, t + threads, ...
  const threads = helpers.length + 1;
  for (let part = 0; part < parts; part += threads) task(arrays, scratch, p, part, parts);
  const deadline = Date.now() + HELPER_TIMEOUT_MS;
  for (let done = Atomics.load(status, DONE); done < helpers.length; done = Atomics.load(status, DONE)) {
    if (Date.now() > deadline) throw new Error(`heap task ${name}: a helper thread did not answer within ${HELPER_TIMEOUT_MS / 1000} s`);
    Atomics.wait(status, DONE, done, 1000);
  }
  if (Atomics.load(status, ERROR) !== 0) {
    const message = new TextDecoder().decode(error.slice()).replace(/\0+$/, '');
    Atomics.store(status, ERROR, 0);
    throw new Error(`heap task ${name} failed in a helper thread: ${message}`);
  }
}

/** The helpers' program: the task functions as source, and a loop that waits for its "go" word. */
function helperSource(): string {
  const tasks = TASK_NAMES.map((name) => `(${HEAP_TASKS[name].toString()})`).join(',\n');
  return `
const { workerData } = require('node:worker_threads');
const { memory, index, helpers } = workerData;
const go = new Int32Array(workerData.go), status = new Int32Array(workerData.status);
const job = new Float64Array(workerData.job), scratch = new Float64Array(workerData.scratch);
const error = new Uint8Array(workerData.error);
const tasks = [${tasks}];
for (;;) {
  Atomics.wait(go, index, 0);
  Atomics.store(go, index, 0);
  try {
    const heap = memory.buffer; // re-read: the memory may have grown since the last job
    const arrays = [];
    for (let i = 0; i < job[${JOB_ARRAYS}]; i++) arrays.push(new Float32Array(heap, job[${JOB_ARRAY_AT} + 2 * i], job[${JOB_ARRAY_AT} + 2 * i + 1]));
    const p = job.slice(${JOB_PARAMS_AT});
    const parts = job[${JOB_PARTS}], task = tasks[job[${JOB_TASK}]], threads = helpers + 1;
    for (let part = index + 1; part < parts; part += threads) task(arrays, scratch, p, part, parts);
  } catch (e) {
    const bytes = new TextEncoder().encode(String(e && e.stack || e)).subarray(0, error.length - 1);
    error.fill(0);
    error.set(bytes);
    Atomics.store(status, ${ERROR}, 1);
  }
  Atomics.add(status, ${DONE}, 1);
  Atomics.notify(status, ${DONE});
}
`;
}
