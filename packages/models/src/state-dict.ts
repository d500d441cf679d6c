import * as tf from '@tensorflow/tfjs';
import { internalShape, pytorchShape, toInternalLayout, toPyTorchLayout } from './layout.js';
import { writeSafetensors } from './safetensors.js';
import { elementCount, type TensorMap } from './tensor-map.js';
import type { Model } from './types.js';

/** Names PyTorch keeps in a state dict that prunebench models do not hold. */
const IGNORED_SUFFIXES = ['num_batches_tracked'];

export interface LoadStateDictOptions {
  /** Error on missing or unexpected names (default true). Mis-shaped tensors are always an error. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  loaded: string[];
  missing: string[];
  unexpected: string[];
}

/** Load PyTorch-layout tensors (e.g. from a checkpoint or safetensors file) into a model's params and buffers. */
export function loadStateDict(model: Model, tensors: TensorMap, options: LoadStateDictOptions = {}): LoadStateDictResult {
  const strict = options.strict ?? true;
  const targets = new Map<string, tf.Variable>([...model.params, ...model.buffers]);
  const missing = [...targets.keys()].filter((name) => !tensors.has(name));
  const unexpected = [...tensors.keys()].filter(
    (name) => !targets.has(name) && !IGNORED_SUFFIXES.some((suffix) => name.endsWith(suffix)),
  );
  const misShaped: string[] = [];
  for (const [name, variable] of targets) {
    const t = tensors.get(name);
    if (!t) continue;
    const kind = model.paramKinds.get(name);
    const got = internalShape(kind, t.shape);
    if (t.shape.length !== variable.shape.length || got.some((d, i) => d !== variable.shape[i]) || t.data.length !== elementCount(t.shape)) {
      misShaped.push(`${name} (checkpoint [${t.shape}], model expects [${pytorchShape(kind, variable.shape)}])`);
    }
  }
  const problems: string[] = [];
  if (misShaped.length) problems.push(`mis-shaped: ${misShaped.join(', ')}`);
  if (strict && missing.length) problems.push(`missing: ${missing.join(', ')}`);
  if (strict && unexpected.length) problems.push(`unexpected: ${unexpected.join(', ')}`);
  if (problems.length) throw new Error(`loadStateDict: ${problems.join('; ')}`);

  const loaded: string[] = [];
  for (const [name, variable] of targets) {
    const t = tensors.get(name);
    if (!t) continue;
    const internal = toInternalLayout(model.paramKinds.get(name), t, name);
    const value = tf.tensor(internal.data, internal.shape, 'float32');
    variable.assign(value);
    value.dispose();
    loaded.push(name);
  }
  return { loaded, missing, unexpected };
}

/** The model's parameters and buffers in PyTorch layout, by PyTorch name (reads the values back to host). */
export async function stateDict(model: Model): Promise<TensorMap> {
  const out: TensorMap = new Map();
  for (const [name, variable] of [...model.params, ...model.buffers]) {
    const data = (await variable.data()) as Float32Array;
    out.set(name, toPyTorchLayout(model.paramKinds.get(name), { shape: [...variable.shape], data: Float32Array.from(data) }, name));
  }
  return out;
}

/** Write a model (its state dict) or a tensor map as .safetensors. */
export async function saveSafetensors(path: string, modelOrTensors: Model | TensorMap, metadata?: Record<string, string>): Promise<void> {
  const tensors = modelOrTensors instanceof Map ? modelOrTensors : await stateDict(modelOrTensors);
  const meta = { format: 'pt', ...(modelOrTensors instanceof Map ? {} : { arch: JSON.stringify(modelOrTensors.arch) }), ...metadata };
  await writeSafetensors(path, tensors, meta);
}
