/**
 * Counting what one step issues, for throughput.ts (issue 16's "dispatches per step").
 *
 * - **kernels**: tfjs kernel executions, i.e. every call of a kernel from the kernel registry through the tfjs
 *   engine (`engine.runKernelFunc` with a kernel name), at any nesting depth: ops, gradient functions, and kernels
 *   a custom op or kernel runs through the engine. This is the same list `tf.profile()` records in `kernels`,
 *   minus its entries for `tf.customGrad` wrappers (those are scopes, not kernels). Kernel implementations that
 *   call other kernels' functions directly (tfjs backends do, e.g. a reshape inside a convolution; prunebench's
 *   wasm kernels call the wasm backend's kernels on TensorInfos) are inside one execution and are not counted
 *   again. `nestedKernels` is how many of the counted ones ran inside another counted kernel (chiefly the `Identity`
 *   copies the engine's tape saves for the backward pass, which it runs inside the kernel that made the tensor).
 * - **gpuDispatches** (webgpu only): compute dispatches the backend recorded, i.e. calls of tfjs-backend-webgpu's
 *   `WebGPUBackend.recordAndSubmit`, which records exactly one `dispatchWorkgroups` each. A kernel can record
 *   none (kernels that only reshape or run on the CPU for small host-side inputs) or several (multi-pass
 *   reductions, prunebench's AddN in rounds).
 * - **gpuSubmits** (webgpu only): `WebGPUBackend.submitQueue` calls, each one `GPUQueue.submit` of one command
 *   buffer (tfjs submits every `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE` dispatches, default 15, and before every read).
 *
 * The counters wrap the methods on the engine and backend instances while a count is running and put the
 * originals back afterwards; the wrapping costs a counter increment per call.
 */
import * as tf from '@tensorflow/tfjs';

export interface DispatchCounts {
  kernels: number;
  nestedKernels: number;
  /** Executions per kernel name. */
  byKernel: Record<string, number>;
  /** webgpu only: `recordAndSubmit` calls (one compute dispatch each). */
  gpuDispatches?: number;
  /** webgpu only: `submitQueue` calls (one queue submit each). */
  gpuSubmits?: number;
  /** webgpu only: compute dispatches by the kernel that recorded them (the innermost counted one running). */
  gpuDispatchesByKernel?: Record<string, number>;
}

type AnyFunction = (...args: unknown[]) => unknown;
type Patchable = Record<string, unknown>;

/** Replaces `target[method]` with a wrapper around the current function; returns the undo. */
function wrapMethod(target: Patchable, method: string, around: (original: AnyFunction) => AnyFunction): () => void {
  const own = Object.prototype.hasOwnProperty.call(target, method);
  const previous = target[method];
  if (typeof previous !== 'function') throw new Error(`dispatch counter: no method '${method}' to wrap`);
  target[method] = around((previous as AnyFunction).bind(target));
  return () => {
    if (own) target[method] = previous;
    else delete target[method];
  };
}

/**
 * Counts kernels (and, on webgpu, compute dispatches and queue submits) while `fn` runs, awaiting it.
 * Counts everything issued on this thread until `fn`'s promise settles: run nothing else meanwhile.
 */
export async function countDispatches<T>(fn: () => T | Promise<T>): Promise<{ result: T; counts: DispatchCounts }> {
  const counter = startDispatchCount();
  try {
    const result = await fn();
    return { result, counts: counter.stop() };
  } finally {
    counter.stop();
  }
}

/** Starts counting now; `stop()` (idempotent) removes the wrappers and returns the counts so far. */
export function startDispatchCount(): { stop: () => DispatchCounts } {
  const engine = tf.engine() as unknown as Patchable;
  const backend = tf.backend() as unknown as Patchable;
  const counts: DispatchCounts = { kernels: 0, nestedKernels: 0, byKernel: {} };
  const running: string[] = [];
  const undo: (() => void)[] = [];
  undo.push(wrapMethod(engine, 'runKernelFunc', (original) => (...args: unknown[]) => {
    const kernelName = (args[0] as { kernelName?: string } | undefined)?.kernelName;
    if (kernelName === undefined) return original(...args); // a tf.customGrad scope, not a kernel
    counts.kernels++;
    if (running.length > 0) counts.nestedKernels++;
    counts.byKernel[kernelName] = (counts.byKernel[kernelName] ?? 0) + 1;
    running.push(kernelName);
    try {
      return original(...args);
    } finally {
      running.pop();
    }
  }));
  if (tf.getBackend() === 'webgpu') {
    counts.gpuDispatches = 0;
    counts.gpuSubmits = 0;
    counts.gpuDispatchesByKernel = {};
    undo.push(wrapMethod(backend, 'recordAndSubmit', (original) => (...args: unknown[]) => {
      counts.gpuDispatches!++;
      const by = counts.gpuDispatchesByKernel!;
      const kernel = running[running.length - 1] ?? '(outside a kernel)';
      by[kernel] = (by[kernel] ?? 0) + 1;
      return original(...args);
    }));
    undo.push(wrapMethod(backend, 'submitQueue', (original) => (...args: unknown[]) => {
      counts.gpuSubmits!++;
      return original(...args);
    }));
  }
  let stopped = false;
  return {
    stop: () => {
      if (!stopped) {
        stopped = true;
        for (const u of undo.reverse()) u();
      }
      return {
        ...counts, byKernel: { ...counts.byKernel },
        ...(counts.gpuDispatchesByKernel ? { gpuDispatchesByKernel: { ...counts.gpuDispatchesByKernel } } : {}),
      };
    },
  };
}

/**
 * Host issue time: milliseconds from calling `issue` until it returns (for an async step, until its synchronous
 * part has run: every op recorded, and on webgpu submitted, and the final read requested), and until the
 * returned promise settles (the work done). Medians over `steps` calls, after `warmup` untimed ones.
 */
export async function timeIssue(issue: () => unknown, steps: number, warmup = 1): Promise<{
  issueMs: number[]; doneMs: number[]; medianIssueMs: number; medianDoneMs: number;
}> {
  for (let i = 0; i < warmup; i++) await issue();
  const issueMs: number[] = [], doneMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const pending = issue();
    const t1 = performance.now();
    await pending;
    const t2 = performance.now();
    issueMs.push(t1 - t0);
    doneMs.push(t2 - t0);
  }
  return { issueMs, doneMs, medianIssueMs: medianOf(issueMs), medianDoneMs: medianOf(doneMs) };
}

export function medianOf(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * Host microseconds per op: a chain of `n` `tf.add`s on an [8, 8] tensor (each adds the previous result to a
 * constant), timed as issued (`timeIssue`), divided by n; the chain ends with one read. Medians over `reps`.
 * The constant is made by `tf.fill`, which on webgpu is a GPU program, so the chain runs on the GPU: tfjs-backend-
 * webgpu runs an op on the CPU instead when all its inputs are small tensors still in host memory
 * (`WEBGPU_CPU_FORWARD`, below `WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD` = 1000 elements), which `tf.ones` would be.
 */
export async function tinyOpChainUs(n: number, reps: number): Promise<{ n: number; usPerOp: number; issueMs: number[]; kernels: number }> {
  const one = tf.fill([8, 8], 1);
  const chain = async () => {
    const last = tf.tidy(() => {
      let x: tf.Tensor = one;
      for (let i = 0; i < n; i++) x = tf.add(x, one);
      return x;
    });
    await last.data();
    last.dispose();
  };
  try {
    const { counts } = await countDispatches(chain);
    const t = await timeIssue(chain, reps, 2);
    return { n, usPerOp: (1000 * t.medianIssueMs) / n, issueMs: t.issueMs, kernels: counts.kernels };
  } finally {
    one.dispose();
  }
}

/**
 * webgpu only: the host's cost of one compute dispatch below tfjs, as a compiled step (issue 16's design b) would
 * issue it: one trivial pipeline (adds 1 to 64 floats), `n` dispatches recorded into one compute pass of one
 * command encoder and one submit, timed from creating the encoder until `submit` returns; µs per dispatch, median
 * of `reps`. `prebuilt`: the pipeline and bind group made once (per model shape, in design b); `bindGroupEach`:
 * a new bind group per dispatch, as tfjs makes one for every program it records.
 */
export async function rawWebgpuDispatchUs(n: number, reps: number): Promise<{ n: number; prebuiltUs: number; bindGroupEachUs: number }> {
  type Device = {
    createShaderModule(d: { code: string }): unknown;
    createComputePipeline(d: unknown): { getBindGroupLayout(i: number): unknown };
    createBuffer(d: { size: number; usage: number }): { destroy(): void };
    createBindGroup(d: unknown): unknown;
    createCommandEncoder(): {
      beginComputePass(): { setPipeline(p: unknown): void; setBindGroup(i: number, g: unknown): void; dispatchWorkgroups(x: number): void; end(): void };
      finish(): unknown;
    };
    queue: { submit(b: unknown[]): void; onSubmittedWorkDone(): Promise<void> };
  };
  const device = (tf.backend() as unknown as { device?: Device }).device;
  if (!device || tf.getBackend() !== 'webgpu') throw new Error('rawWebgpuDispatchUs needs the webgpu backend');
  const code = `@group(0) @binding(0) var<storage, read_write> buf: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&buf)) { buf[id.x] = buf[id.x] + 1.0; }
}`;
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const STORAGE = 0x80, COPY_DST = 0x08;
  const buffer = device.createBuffer({ size: 64 * 4, usage: STORAGE | COPY_DST });
  const makeGroup = () => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
  const group = makeGroup();
  const run = async (fresh: boolean) => {
    const t0 = performance.now();
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (let i = 0; i < n; i++) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, fresh ? makeGroup() : group);
      pass.dispatchWorkgroups(1);
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
    const t1 = performance.now();
    await device.queue.onSubmittedWorkDone();
    return t1 - t0;
  };
  const time = async (fresh: boolean) => {
    await run(fresh);
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) ms.push(await run(fresh));
    return (1000 * medianOf(ms)) / n;
  };
  try {
    return { n, prebuiltUs: await time(false), bindGroupEachUs: await time(true) };
  } finally {
    buffer.destroy();
  }
}
