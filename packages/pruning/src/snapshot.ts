import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { applyMasks } from './masks.js';
import type { Masks } from './types.js';

/** Copies of every parameter and buffer of a model, by name (weight rewinding, restoring after probes). */
export interface WeightSnapshot {
  params: Map<string, tf.Tensor>;
  buffers: Map<string, tf.Tensor>;
}

export function takeSnapshot(model: Model): WeightSnapshot {
  const copy = (vars: Map<string, tf.Variable>) => new Map([...vars].map(([name, v]) => [name, v.clone() as tf.Tensor]));
  return { params: copy(model.params), buffers: copy(model.buffers) };
}

/**
 * Set every parameter and buffer back to the snapshot, then apply `masks`: the surviving weights equal the
 * snapshot exactly and the pruned ones are 0 (LTH's rewinding).
 */
export function restoreSnapshot(model: Model, snapshot: WeightSnapshot, masks?: Masks): void {
  const restore = (vars: Map<string, tf.Variable>, saved: Map<string, tf.Tensor>, what: string) => {
    for (const [name, v] of vars) {
      const value = saved.get(name);
      if (!value) throw new Error(`snapshot has no ${what} "${name}"`);
      v.assign(value);
    }
  };
  restore(model.params, snapshot.params, 'parameter');
  restore(model.buffers, snapshot.buffers, 'buffer');
  if (masks) applyMasks(model, masks);
}

export function disposeSnapshot(snapshot: WeightSnapshot): void {
  for (const t of snapshot.params.values()) t.dispose();
  for (const t of snapshot.buffers.values()) t.dispose();
}
