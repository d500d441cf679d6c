import { Worker } from 'node:worker_threads';
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '@prunebench/engine';
import { ImageBatchLoader, type ImageBatch } from './loader.js';
import { PrefetchedImageBatches, sharedImages, startFillWorker, type PrefetchOptions } from './prefetch.js';
import type { ImageSet } from './image-set.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Random bytes: every pixel, crop and flip shows in the batch. 300 images in batches of 64: a short last batch. */
function randomSet(count = 300): ImageSet {
  const rng = new SeededRng(7);
  const images = Uint8Array.from({ length: count * 3072 }, () => rng.int(256));
  return { images, labels: Uint8Array.from({ length: count }, () => rng.int(10)), count };
}

const set = randomSet();
const loader = (augment = true) => new ImageBatchLoader(set, { batchSize: 64, shuffle: true, augment, rng: new SeededRng(3) });

/** Pixels and labels of a batch (its tensors disposed). */
function contents(batch: ImageBatch): { x: Float32Array; y: Int32Array; size: number } {
  const out = { x: batch.x.dataSync() as Float32Array, y: batch.y.dataSync() as Int32Array, size: batch.size };
  tf.dispose([batch.x, batch.y]);
  return out;
}

/** The first `count` batches of the synchronous stream: loader.batches() epoch after epoch. */
function synchronous(count: number, augment = true): ReturnType<typeof contents>[] {
  const l = loader(augment);
  const out: ReturnType<typeof contents>[] = [];
  while (out.length < count) for (const b of l.batches()) if (out.length < count) out.push(contents(b)); else tf.dispose([b.x, b.y]);
  return out;
}

/** `count` batches of a PrefetchedImageBatches, taken once its worker started (or fell back). */
async function prefetched(count: number, options: PrefetchOptions = {}, augment = true) {
  const batches = new PrefetchedImageBatches(loader(augment), options);
  try {
    const started = await batches.ready();
    const out: ReturnType<typeof contents>[] = [];
    for (let i = 0; i < count; i++) out.push(contents(await batches.next()));
    return { out, fallback: batches.fallback, started, filledOnWorker: batches.filledOnWorker, filledHere: batches.filledHere };
  } finally {
    await batches.close();
  }
}

/** Bit for bit: the float32 bytes, not a closeness. */
function expectSameBatches(got: ReturnType<typeof contents>[], want: ReturnType<typeof contents>[]): void {
  expect(got.map((b) => b.size)).toEqual(want.map((b) => b.size));
  for (let i = 0; i < want.length; i++) {
    expect(Buffer.from(got[i].x.buffer, got[i].x.byteOffset, got[i].x.byteLength).equals(Buffer.from(want[i].x.buffer, want[i].x.byteOffset, want[i].x.byteLength)), `batch ${i} pixels`).toBe(true);
    expect(got[i].y, `batch ${i} labels`).toEqual(want[i].y);
  }
}

// 14 batches: three epochs of 5 batches (4 of 64, one of 44) less one, so epoch boundaries and a short batch are in.
const COUNT = 14;

describe('PrefetchedImageBatches', () => {
  it('fills on a worker thread the same batches, bit for bit, as the synchronous loader, across epochs', async () => {
    const want = synchronous(COUNT);
    const { out, fallback, started, filledOnWorker, filledHere } = await prefetched(COUNT);
    expect(fallback).toBeNull();
    expect(started).toBe(true);
    // Every batch taken came from the worker (it may have filled the next ones too).
    expect(filledOnWorker).toBeGreaterThanOrEqual(COUNT);
    expect(filledHere).toBe(0);
    expectSameBatches(out, want);
  });

  it('does not wait for the worker to start: batches taken before it is up are filled here, the same', async () => {
    const batches = new PrefetchedImageBatches(loader());
    try {
      // Taken at once: the worker's first message cannot have arrived (messages come in a later turn of the event loop).
      const out = [contents(await batches.next())];
      expect(batches.filledHere).toBe(1);
      expect(await batches.ready()).toBe(true);
      out.push(contents(await batches.next()));
      for (let i = 2; i < COUNT; i++) out.push(contents(await batches.next()));
      expect(batches.fallback).toBeNull();
      expectSameBatches(out, synchronous(COUNT));
    } finally {
      await batches.close();
    }
  });

  it('equals the synchronous loader without augmentation and at depth 1 and 5', async () => {
    expectSameBatches((await prefetched(7, {}, false)).out, synchronous(7, false));
    expectSameBatches((await prefetched(7, { depth: 1 })).out, synchronous(7));
    expectSameBatches((await prefetched(7, { depth: 5 })).out, synchronous(7));
  });

  it('falls back to the calling thread, with the same batches, when the worker cannot start', async () => {
    const { out, fallback, started } = await prefetched(COUNT, { startWorker: () => { throw new Error('no threads here'); } });
    expect(fallback).toBe('the worker did not start: no threads here');
    expect(started).toBe(false);
    expectSameBatches(out, synchronous(COUNT));
  });

  it('falls back with the same batches when the worker fails after it started', async () => {
    const failing = () => new Worker('throw new Error("fill worker broke")', { eval: true });
    const { out, fallback, started } = await prefetched(COUNT, { startWorker: failing });
    expect(fallback).toBe('the worker failed: fill worker broke');
    expect(started).toBe(false);
    expectSameBatches(out, synchronous(COUNT));
  });

  it('falls back with the same batches when the worker exits mid-stream', async () => {
    // A real fill worker, stopped from outside after it sent its first batch.
    let worker: Worker | null = null;
    const batches = new PrefetchedImageBatches(loader(), { startWorker: (data) => (worker = startFillWorker(data)) });
    try {
      expect(await batches.ready()).toBe(true);
      const out = [contents(await batches.next())];
      await worker!.terminate();
      for (let i = 1; i < COUNT; i++) out.push(contents(await batches.next()));
      expect(batches.fallback).toMatch(/^the worker exited with code \d+$/);
      expectSameBatches(out, synchronous(COUNT));
    } finally {
      await batches.close();
    }
  });

  it('fills on the calling thread with worker: false', async () => {
    const { out, fallback } = await prefetched(6, { worker: false });
    expect(fallback).toBe('the worker is off (worker: false)');
    expectSameBatches(out, synchronous(6));
  });

  it('skip passes over batches as taking and dropping them would', async () => {
    const want = synchronous(COUNT);
    const batches = new PrefetchedImageBatches(loader());
    try {
      batches.skip(3);
      const first = contents(await batches.next());
      batches.skip(6);
      const later = contents(await batches.next());
      expectSameBatches([first, later], [want[3], want[10]]);
    } finally {
      await batches.close();
    }
  });

  it('close stops the worker and ends the stream', async () => {
    let worker: Worker | null = null;
    const batches = new PrefetchedImageBatches(loader(), { startWorker: (data) => (worker = startFillWorker(data)) });
    contents(await batches.next());
    const exited = new Promise<number>((resolve) => worker!.once('exit', resolve));
    await batches.close();
    expect(typeof (await exited)).toBe('number');
    await expect(batches.next()).rejects.toThrow('next() after close()');
    await batches.close();
  });

  it('rejects a depth that is not a positive integer, naming it', () => {
    expect(() => new PrefetchedImageBatches(loader(), { depth: 0, worker: false })).toThrow('depth must be a positive integer, got 0');
  });
});

describe('sharedImages', () => {
  it('copies an ordinary array once onto a SharedArrayBuffer and keeps a shared one as it is', () => {
    const images = Uint8Array.of(1, 2, 3);
    const copy = sharedImages(images);
    expect(copy.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...copy]).toEqual([1, 2, 3]);
    expect(sharedImages(images)).toBe(copy);
    expect(sharedImages(copy)).toBe(copy);
  });
});
