import * as tf from '@tensorflow/tfjs';
import type { Model } from '@prunebench/models';
import type { Masks } from './types.js';

/** Look up a parameter by name, with an error that names it. */
export function getParam(model: Model, name: string): tf.Variable {
  const param = model.params.get(name);
  if (!param) throw new Error(`unknown parameter "${name}": the model has no parameter of that name`);
  return param;
}

/** Multiply every masked parameter by its mask, in place: pruned weights become exactly 0. */
export function applyMasks(model: Model, masks: Masks): void {
  for (const [name, mask] of masks) {
    const param = getParam(model, name);
    if (!sameShape(param.shape, mask.shape)) {
      throw new Error(`mask for "${name}" has shape [${mask.shape}], parameter has [${param.shape}]`);
    }
    tf.tidy(() => param.assign(maskTensor(param, mask)));
  }
}

/** `value` with the entries where `mask` is 0 set to +0 (a plain product would leave −0 for negative weights). */
export function maskTensor(value: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.notEqual(mask, 0), value, tf.zerosLike(value)));
}

/** All-ones masks for the named parameters (nothing pruned yet). */
export function onesMasks(model: Model, names: readonly string[]): Masks {
  const masks: Masks = new Map();
  for (const name of names) masks.set(name, tf.ones(getParam(model, name).shape, 'float32'));
  return masks;
}

/** Number of kept (nonzero) entries over all masks. */
export async function countKept(masks: Masks): Promise<number> {
  let kept = 0;
  for (const mask of masks.values()) kept += countNonzero(await mask.data());
  return kept;
}

/** Total number of entries over all masks. */
export function countMasked(masks: Masks): number {
  let total = 0;
  for (const mask of masks.values()) total += mask.size;
  return total;
}

/** Kept / total over all masks (1 = dense). */
export async function maskDensity(masks: Masks): Promise<number> {
  const total = countMasked(masks);
  return total === 0 ? 1 : (await countKept(masks)) / total;
}

/** Kept / total per mask, by parameter name. */
export async function layerDensities(masks: Masks): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, mask] of masks) out[name] = mask.size === 0 ? 1 : countNonzero(await mask.data()) / mask.size;
  return out;
}

/** Independent copies of the masks (the caller owns and disposes both). */
export function cloneMasks(masks: Masks): Masks {
  const out: Masks = new Map();
  for (const [name, mask] of masks) out.set(name, mask.clone());
  return out;
}

export function disposeMasks(masks: Masks | undefined): void {
  if (!masks) return;
  for (const mask of masks.values()) mask.dispose();
}

function countNonzero(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) n++;
  return n;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
