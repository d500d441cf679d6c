/**
 * The worker thread of prefetch.ts: fills batch plans into float32 pixels (fillBatch) and sends each back as a
 * transferred buffer. workerData: the set's images (on a SharedArrayBuffer) and the normalisation table.
 * Imports nothing from tfjs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fillBatch, type BatchPlan } from './batch-fill.js';

/** A request: the plan and its id. */
export interface FillRequest extends BatchPlan {
  id: number;
}

const { images, lut } = workerData as { images: Uint8Array; lut: Float32Array };
parentPort!.on('message', (request: FillRequest) => {
  const x = fillBatch(images, request, lut);
  // fillBatch allocates an ordinary ArrayBuffer: moved to the parent, not copied.
  parentPort!.postMessage({ id: request.id, x }, [x.buffer as ArrayBuffer]);
});
parentPort!.postMessage({ ready: true });
