import { createHash } from 'node:crypto';
import type { Model } from '@prunebench/models';

export interface WeightsInspection {
  /** sha256 over every parameter and buffer (sorted by name: kind, name, dtype, shape, bytes). */
  sha256: string;
  /** Names of the tensors holding NaN or infinite values. */
  nonFinite: string[];
}

/**
 * Hashes the tensors a model actually holds and finds the non-finite ones. A run's record keeps the hash of its
 * starting weights, so a completed run is redone when the starting point changed (the run id does not change).
 */
export async function inspectWeights(model: Model): Promise<WeightsInspection> {
  const hash = createHash('sha256');
  const nonFinite: string[] = [];
  for (const [kind, table] of [['param', model.params], ['buffer', model.buffers]] as const) {
    for (const name of [...table.keys()].sort()) {
      const tensor = table.get(name)!;
      const values = (await tensor.data()) as Float32Array | Int32Array | Uint8Array;
      hash.update(`${kind}/${name}:${tensor.dtype}:[${tensor.shape.join(',')}]\n`);
      hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      if (values instanceof Float32Array && !values.every(Number.isFinite)) nonFinite.push(`${kind} ${name}`);
    }
  }
  return { sha256: hash.digest('hex'), nonFinite };
}
