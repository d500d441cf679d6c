import { getModelFamily } from './family.js';
import { readSafetensorsFile, safetensorsToFloat32 } from './safetensors.js';
import { loadStateDict } from './state-dict.js';
import type { TensorMap } from './tensor-map.js';
import type { ArchSpec, Model } from './types.js';

/**
 * A model rebuilt from a .safetensors file written by `saveSafetensors(path, model)`: its arch comes from the file's
 * `arch` metadata (so a structurally pruned model comes back with its own, smaller shapes) and its weights load
 * strictly. An Error when the file has no arch metadata or its family cannot create models.
 */
export async function loadModelFromSafetensors(path: string): Promise<Model> {
  const file = await readSafetensorsFile(path);
  const text = file.metadata.arch;
  if (!text) throw new Error(`${path}: no "arch" metadata; load it into a model of known shape with loadStateDict instead`);
  let arch: ArchSpec;
  try {
    arch = JSON.parse(text) as ArchSpec;
  } catch (error) {
    throw new Error(`${path}: "arch" metadata is not JSON: ${(error as Error).message}`);
  }
  try {
    return modelFromStateDict(arch, safetensorsToFloat32(file));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

/** A new model of `arch` (through its family) with `tensors` loaded strictly; nothing is left allocated on failure. */
export function modelFromStateDict(arch: ArchSpec, tensors: TensorMap): Model {
  const family = getModelFamily(arch.family);
  if (!family.create) throw new Error(`model family "${arch.family}" cannot create models from an arch`);
  const model = family.create(arch);
  try {
    loadStateDict(model, tensors, { strict: true });
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
