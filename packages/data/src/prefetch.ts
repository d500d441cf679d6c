/**
 * An ImageBatchLoader's endless stream of training batches, prepared ahead on a worker thread: the loader draws
 * each batch's plan (order, crops, flips: all its randomness, in the order batches() draws it) on the calling
 * thread, the worker fills the pixels (crop, flip, normalisation) into a float32 buffer it transfers back, and
 * the calling thread only makes the tensors. So while a train step runs, the next batches are being filled, and
 * each batch is bit for bit the one `loader.batches()` would give. Where the worker cannot start or fails, the
 * plans it had are filled on the calling thread and so is every later one (`fallback` says why).
 */
import { Worker } from 'node:worker_threads';
import { fillBatch, type BatchPlan } from './batch-fill.js';
import type { ImageBatch, ImageBatchLoader } from './loader.js';
import type { FillRequest } from './prefetch-worker.js';

/** What the fill worker starts with. */
export interface FillWorkerData {
  /** The set's images, on a SharedArrayBuffer (sharedImages), so starting a worker copies nothing. */
  images: Uint8Array;
  lut: Float32Array;
}

export interface PrefetchOptions {
  /** Batches requested ahead of the one being taken (default 2). */
  depth?: number;
  /** Fill on a worker thread (default true); false fills on the calling thread, as a failed worker does. */
  worker?: boolean;
  /** Starts the worker (default startFillWorker); tests pass one that fails. */
  startWorker?: (data: FillWorkerData) => Worker;
}

interface Ahead {
  plan: BatchPlan;
  /** The worker's pixels for the plan; null: filled on the calling thread when taken. */
  pixels: Promise<Float32Array> | null;
}

export class PrefetchedImageBatches {
  /** Why batches are filled on the calling thread; null while the worker fills them. */
  fallback: string | null = null;
  private readonly plans: Iterator<BatchPlan>;
  private readonly depth: number;
  private readonly ahead: Ahead[] = [];
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { plan: BatchPlan; resolve: (x: Float32Array) => void; reject: (error: unknown) => void }>();
  private nextId = 0;
  private closed = false;
  /** Batches the worker has filled (taken or not), and batches taken that were filled on the calling thread. */
  filledOnWorker = 0;
  filledHere = 0;
  /** Set by the worker's first message: until then a batch taken is filled here rather than waiting for its start. */
  private workerReady = false;
  private settleStart!: (started: boolean) => void;
  private readonly started = new Promise<boolean>((resolve) => (this.settleStart = resolve));

  constructor(private readonly loader: ImageBatchLoader, options: PrefetchOptions = {}) {
    this.depth = options.depth ?? 2;
    if (!Number.isInteger(this.depth) || this.depth < 1) throw new RangeError(`depth must be a positive integer, got ${options.depth}`);
    this.plans = endlessPlans(loader);
    if (options.worker === false) {
      this.fallback = 'the worker is off (worker: false)';
    } else {
      try {
        this.worker = (options.startWorker ?? startFillWorker)({ images: sharedImages(loader.set.images), lut: loader.normalization });
        this.worker.on('message', (message: { ready?: boolean; id?: number; x?: Float32Array }) => this.received(message));
        this.worker.on('error', (error) => this.stopWorker(`the worker failed: ${error.message}`));
        this.worker.on('messageerror', (error) => this.stopWorker(`a worker message could not be read: ${error.message}`));
        this.worker.on('exit', (code) => this.stopWorker(`the worker exited with code ${code}`));
        // Held open only while it has work (received() lets go), so a stream left unclosed never keeps a process alive.
        this.worker.unref();
      } catch (error) {
        this.worker = null;
        this.fallback = `the worker did not start: ${(error as Error).message}`;
      }
    }
    if (!this.worker) this.settleStart(false);
    this.refill();
  }

  /** Resolves true once the worker has started, false if batches are filled on the calling thread instead. */
  ready(): Promise<boolean> {
    return this.started;
  }

  /** The next batch (the caller disposes its tensors). */
  async next(): Promise<ImageBatch> {
    if (this.closed) throw new Error('PrefetchedImageBatches: next() after close()');
    const { plan, pixels } = this.ahead.shift()!;
    this.refill();
    let x: Float32Array;
    if (pixels && this.workerReady) {
      x = await pixels;
    } else {
      // The worker's copy of a plan filled here, if it comes, is dropped: both are the same bytes.
      pixels?.catch(() => undefined);
      this.filledHere++;
      x = fillBatch(this.loader.set.images, plan, this.loader.normalization);
    }
    return this.loader.batch(plan, x);
  }

  /** Passes over `count` batches without their tensors (a resumed train call fast-forwarding); their draws are made. */
  skip(count: number): void {
    for (let i = 0; i < count; i++) {
      const dropped = this.ahead.shift();
      if (dropped) dropped.pixels?.catch(() => undefined);
      else this.plans.next();
    }
    this.refill();
  }

  /** Stops the worker; batches still on their way are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.settleStart(false);
    for (const { pixels } of this.ahead) pixels?.catch(() => undefined);
    this.ahead.length = 0;
    for (const { reject } of this.pending.values()) reject(new Error('PrefetchedImageBatches closed'));
    this.pending.clear();
    if (worker) await worker.terminate();
  }

  private refill(): void {
    while (!this.closed && this.ahead.length < this.depth) this.ahead.push(this.request(this.plans.next().value as BatchPlan));
  }

  private request(plan: BatchPlan): Ahead {
    if (!this.worker) return { plan, pixels: null };
    const id = this.nextId++;
    const pixels = new Promise<Float32Array>((resolve, reject) => this.pending.set(id, { plan, resolve, reject }));
    this.worker.ref();
    const request: FillRequest = { id, sources: plan.sources, crops: plan.crops };
    this.worker.postMessage(request);
    return { plan, pixels };
  }

  private received(message: { ready?: boolean; id?: number; x?: Float32Array }): void {
    if (message.ready) {
      this.workerReady = true;
      this.settleStart(true);
    }
    if (message.id === undefined || !message.x) return;
    this.filledOnWorker++;
    const entry = this.pending.get(message.id);
    this.pending.delete(message.id);
    entry?.resolve(message.x);
    if (this.pending.size === 0) this.worker?.unref();
  }

  /** From now on every batch is filled here: the worker's outstanding plans first, in their order. */
  private stopWorker(reason: string): void {
    if (!this.worker || this.closed) return;
    const worker = this.worker;
    this.worker = null;
    this.fallback = reason;
    this.settleStart(false);
    void worker.terminate();
    for (const [id, { plan, resolve, reject }] of this.pending) {
      this.pending.delete(id);
      try {
        resolve(fillBatch(this.loader.set.images, plan, this.loader.normalization));
      } catch (error) {
        reject(error);
      }
    }
  }
}

/** The loader's epochs one after another: what a training stream draws. */
function* endlessPlans(loader: ImageBatchLoader): Generator<BatchPlan> {
  for (;;) yield* loader.plans();
}

const sharedCopies = new WeakMap<Uint8Array, Uint8Array>();

/**
 * `images` on a SharedArrayBuffer: itself if it is on one, else a copy made once per array and kept while the array
 * lives (image sets are not written after loading, so the copy stays equal).
 */
export function sharedImages(images: Uint8Array): Uint8Array {
  if (images.buffer instanceof SharedArrayBuffer) return images;
  let copy = sharedCopies.get(images);
  if (!copy) {
    copy = new Uint8Array(new SharedArrayBuffer(images.byteLength));
    copy.set(images);
    sharedCopies.set(images, copy);
  }
  return copy;
}

/**
 * The fill worker on a worker thread. From TypeScript sources (tsx, vitest) the worker registers tsx's loader before
 * it imports prefetch-worker.ts, since a worker thread does not inherit the parent's module hooks.
 */
export function startFillWorker(data: FillWorkerData): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './prefetch-worker.ts' : './prefetch-worker.js', import.meta.url).href;
  const code = fromSource
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`
    : `import(${JSON.stringify(entry)});`;
  return new Worker(code, { eval: true, workerData: data });
}
