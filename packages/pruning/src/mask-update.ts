/**
 * The trainer side of `TrainOptions.maskUpdate` (dynamic sparsity: RigL, SET), shared by the harness's trainer and the
 * test trainers so they keep one contract: when the hook runs, how its masks replace the current ones, and how the
 * optimizer's state is zeroed where a mask changed.
 */
import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import { applyMasks } from './masks.js';
import type { MaskedOptimizer } from './optimizer.js';
import type { MaskUpdateHook, MaskUpdateRecord, Masks, TrainOptions } from './types.js';

/** The checks of a `maskUpdate` request (before any work): masks given, `every` a positive integer, `reservedExamples` ≥ 0. */
export function checkMaskUpdate(options: TrainOptions): number {
  const hook = options.maskUpdate;
  if (!hook) return 0;
  if (!options.masks) throw new Error('train: maskUpdate needs masks to start from');
  if (!Number.isInteger(hook.every) || hook.every <= 0) throw new Error(`train: maskUpdate.every must be a positive integer, got ${hook.every}`);
  const reserved = hook.reservedExamples ?? 0;
  if (!Number.isInteger(reserved) || reserved < 0) throw new Error(`train: maskUpdate.reservedExamples must be an integer >= 0, got ${reserved}`);
  return reserved;
}

/** The updates due after a step that took the call from `before` to `after` examples: every k with before < k·every ≤ after, k·every < total. */
export function dueMaskUpdates(before: number, after: number, hook: Pick<MaskUpdateHook, 'every'>, total: number): number[] {
  const due: number[] = [];
  for (let k = Math.floor(before / hook.every) + 1; k * hook.every <= after && k * hook.every < total; k++) due.push(k);
  return due;
}

/** How many updates a call of `examples` makes with this `every` (what a method reserves for). */
export function maskUpdateCount(examples: number, every: number): number {
  return examples > 0 ? Math.ceil(examples / every) - 1 : 0;
}



/**
 * Replaces `current` (disposed) by `next`: weights `next` prunes are set to +0, and the optimizer's buffers of every
 * masked parameter are zeroed where the mask changed (kept only where both masks are 1). Returns the counts.
 */
export async function replaceMasks(
  model: Model,
  optimizer: MaskedOptimizer,
  current: Masks,
  next: Masks,
  event: { index: number; examples: number },
): Promise<MaskUpdateRecord> {
  const names = [...current.keys()].sort();
  const nextNames = [...next.keys()].sort();
  if (names.join(',') !== nextNames.join(',')) {
    throw new Error(`maskUpdate: the hook's masks cover [${nextNames.join(', ')}], the current ones [${names.join(', ')}]`);
  }
  let grown = 0;
  let dropped = 0;
  const stay = new Map<string, tf.Tensor>();
  try {
    for (const name of names) {
      const [a, b] = [current.get(name)!, next.get(name)!];
      if (a.shape.join(',') !== b.shape.join(',')) throw new Error(`maskUpdate: mask of "${name}" has shape [${b.shape}], expected [${a.shape}]`);
      const [av, bv] = [await a.data(), await b.data()];
      for (let i = 0; i < av.length; i++) {
        if (av[i] === 0 && bv[i] !== 0) grown++;
        else if (av[i] !== 0 && bv[i] === 0) dropped++;
      }
      stay.set(name, tf.mul(a, b));
    }
    await optimizer.moveStateTo(null);
    const state = optimizer.state();
    try {
      const zeroed = new Map<string, tf.Tensor>();
      for (const [key, tensor] of state.tensors) {
        const keep = stay.get(key.slice(key.indexOf('/') + 1));
        zeroed.set(key, keep ? tf.mul(tensor, keep) : tf.clone(tensor));
      }
      optimizer.restore({ steps: state.steps, tensors: zeroed });
      tf.dispose([...zeroed.values()]);
    } finally {
      tf.dispose([...state.tensors.values()]);
    }
  } finally {
    tf.dispose([...stay.values()]);
  }
  applyMasks(model, next);
  for (const [name, mask] of current) if (next.get(name) !== mask) mask.dispose();
  return { index: event.index, examples: event.examples, grown, dropped };
}
